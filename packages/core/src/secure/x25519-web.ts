import type { PeerKey, X25519 } from './x25519.js'

/** X25519 on WebCrypto. */
export const x25519 = {
  async importPeerKey(raw: Uint8Array<ArrayBuffer>): Promise<PeerKey> {
    return crypto.subtle.importKey('raw', raw, { name: 'X25519' }, true, [])
  },

  async deriveShared(ours: CryptoKey, theirs: PeerKey): Promise<Uint8Array<ArrayBuffer>> {
    const bits = await crypto.subtle.deriveBits(
      { name: 'X25519', public: theirs as CryptoKey },
      ours,
      256,
    )
    return new Uint8Array(bits)
  },
} satisfies X25519
