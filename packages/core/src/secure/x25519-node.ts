// Reached only through the `node` condition of the package's `#x25519` import, so browser
// builds never see this file's Node module.
import { createPublicKey, diffieHellman, KeyObject } from 'node:crypto'
import type { PeerKey, X25519 } from './x25519.js'

/** X25519 on node:crypto (synchronous: no thread-pool round trip). */
export const x25519 = {
  /** A peer key as a node:crypto KeyObject. */
  importPeerKey(raw: Uint8Array<ArrayBuffer>): Promise<PeerKey> {
    try {
      const x = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('base64url')
      return Promise.resolve(
        createPublicKey({ key: { kty: 'OKP', crv: 'X25519', x }, format: 'jwk' }),
      )
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
  },

  deriveShared(ours: CryptoKey, theirs: PeerKey): Promise<Uint8Array<ArrayBuffer>> {
    try {
      const shared = diffieHellman({
        privateKey: KeyObject.from(ours),
        publicKey: theirs as KeyObject,
      })
      return Promise.resolve(new Uint8Array(shared))
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
  },
} satisfies X25519
