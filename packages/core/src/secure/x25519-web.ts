import type { PeerKey } from './x25519.js'

/** A peer key on WebCrypto. */
export async function importPeerKey(raw: Uint8Array<ArrayBuffer>): Promise<PeerKey> {
  return crypto.subtle.importKey('raw', raw, { name: 'X25519' }, true, [])
}

/** X25519 on WebCrypto. */
export async function deriveShared(
  ours: CryptoKey,
  theirs: PeerKey,
): Promise<Uint8Array<ArrayBuffer>> {
  const bits = await crypto.subtle.deriveBits(
    { name: 'X25519', public: theirs as CryptoKey },
    ours,
    256,
  )
  return new Uint8Array(bits)
}
