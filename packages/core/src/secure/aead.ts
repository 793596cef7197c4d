/**
 * AES-256-GCM for records, on the platform's fastest implementation. The package's `#aead`
 * import resolves to `aead-node.ts` under Node (node:crypto, synchronous) and to `aead-web.ts`
 * everywhere else (WebCrypto). Measured here, Node ↔ Node with records on both ends: the
 * encrypted path moved at 0.6× the bare transport through WebCrypto (each call a thread-pool
 * job whose buffers are copied in and out) and at 0.75–1.0× through node:crypto.
 */

/** One direction's key: seals or unseals with a 12-byte nonce and additional data. */
export interface AeadKey {
  /**
   * `plaintext` encrypted, with the 16-byte tag appended, in a new array that starts with
   * `headroom` unused bytes (room for a caller's header, saving it a copy).
   */
  seal(
    nonce: Uint8Array,
    additionalData: Uint8Array,
    plaintext: Uint8Array,
    headroom?: number,
  ): Promise<Uint8Array>
  /**
   * The plaintext of `ciphertext` (tag included; a new array).
   * @throws {Error} (rejects) when it does not authenticate.
   */
  unseal(nonce: Uint8Array, additionalData: Uint8Array, ciphertext: Uint8Array): Promise<Uint8Array>
}

/**
 * What each half of the `#aead` import provides. TypeScript checks the code importing `#aead`
 * against one half only (the one its import conditions pick), so each half declares its
 * `aead` with `satisfies Aead`: a half that drifts from the other fails to compile instead of
 * failing at run time on the other platform.
 */
export interface Aead {
  /** Makes an {@link AeadKey} from 32 raw key bytes (copied). */
  importKey(raw: Uint8Array): Promise<AeadKey>
  /**
   * Makes a {@link KeySource} from a 32-byte secret (copied into the platform's key store:
   * a non-extractable WebCrypto key, or a node:crypto `KeyObject`; the caller wipes its own
   * copy).
   */
  importSecret(raw: Uint8Array): Promise<KeySource>
}

/** A secret that record keys are derived from, and that is used for nothing else. */
export interface KeySource {
  /**
   * The AES-256-GCM key HKDF-SHA256 derives from the secret for `info` (RFC 5869, with an
   * empty salt): Extract, then Expand to 32 bytes. The key never exists as bytes the
   * caller can read.
   */
  deriveKey(info: Uint8Array): Promise<AeadKey>
}

/** Bytes of the authentication tag. */
export const aeadTagLength = 16
