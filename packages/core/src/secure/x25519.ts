/**
 * X25519 for the Noise handshake, on the platform's fastest implementation: the package's
 * `#x25519` import resolves to `x25519-node.ts` under Node (node:crypto, synchronous) and to
 * `x25519-web.ts` elsewhere (WebCrypto). Key pairs are WebCrypto keys on every platform; only
 * the DH itself differs. Under Node each WebCrypto DH is a thread-pool round trip, and a
 * handshake makes three per side on its critical path.
 */

/** A peer's public key, ready for {@link DeriveShared}: opaque, platform-specific. */
export type PeerKey = object

/** Imports a peer's raw 32-byte public key; rejects if the platform refuses it. */
export type ImportPeerKey = (raw: Uint8Array<ArrayBuffer>) => Promise<PeerKey>

/** X25519(ours, theirs): the raw 32-byte shared secret (all zeros for a low-order key, or a rejection). */
export type DeriveShared = (ours: CryptoKey, theirs: PeerKey) => Promise<Uint8Array<ArrayBuffer>>
