/**
 * X25519 for the Noise handshake, on the platform's fastest implementation: the package's
 * `#x25519` import resolves to `x25519-node.ts` under Node (node:crypto, synchronous) and to
 * `x25519-web.ts` elsewhere (WebCrypto). Key pairs are WebCrypto keys on every platform; only
 * the DH itself differs. Under Node each WebCrypto DH is a thread-pool round trip, and a
 * handshake makes three per side on its critical path.
 */

/** A peer's public key, ready for {@link X25519.deriveShared}: opaque, platform-specific. */
export type PeerKey = object

/**
 * What each half of the `#x25519` import provides. TypeScript checks the code importing `#x25519`
 * against one half only (the one its import conditions pick), so each half declares its
 * `x25519` with `satisfies X25519`: a half that drifts from the other fails to compile instead of
 * failing at run time on the other platform.
 */
export interface X25519 {
  /** Imports a peer's raw 32-byte public key; rejects if the platform refuses it. */
  importPeerKey(raw: Uint8Array<ArrayBuffer>): Promise<PeerKey>
  /**
   * X25519(ours, theirs): the raw 32-byte shared secret (all zeros for a low-order key, or a
   * rejection).
   */
  deriveShared(ours: CryptoKey, theirs: PeerKey): Promise<Uint8Array<ArrayBuffer>>
}
