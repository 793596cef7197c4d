import type { Aead, AeadKey } from './aead.js'

/** A view WebCrypto accepts as a BufferSource: the bytes themselves when ArrayBuffer-backed. */
function source(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes)
}

function aeadKey(key: CryptoKey): AeadKey {
  return {
    async seal(nonce, additionalData, plaintext, headroom = 0) {
      const params = {
        name: 'AES-GCM',
        iv: source(nonce),
        additionalData: source(additionalData),
      }
      const sealed = new Uint8Array(await crypto.subtle.encrypt(params, key, source(plaintext)))
      if (headroom === 0) return sealed
      const out = new Uint8Array(headroom + sealed.length)
      out.set(sealed, headroom)
      return out
    },
    async unseal(nonce, additionalData, ciphertext) {
      const params = {
        name: 'AES-GCM',
        iv: source(nonce),
        additionalData: source(additionalData),
      }
      return new Uint8Array(await crypto.subtle.decrypt(params, key, source(ciphertext)))
    },
  }
}

function checked(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    throw new TypeError('key: expected 32 bytes')
  }
  return new Uint8Array(raw)
}

/**
 * AES-256-GCM on WebCrypto: non-extractable keys, derived inside WebCrypto; every call runs
 * off the main thread.
 */
export const aead = {
  async importKey(raw: Uint8Array): Promise<AeadKey> {
    const copy = checked(raw)
    const key = await crypto.subtle.importKey('raw', copy, 'AES-GCM', false, ['encrypt', 'decrypt'])
    copy.fill(0)
    return aeadKey(key)
  },
  async importSecret(raw) {
    const copy = checked(raw)
    const secret = await crypto.subtle.importKey('raw', copy, 'HKDF', false, ['deriveKey'])
    copy.fill(0)
    const noSalt = new Uint8Array(0)
    return {
      async deriveKey(info) {
        const params = { name: 'HKDF', hash: 'SHA-256', salt: noSalt, info: source(info) }
        const key = await crypto.subtle.deriveKey(
          params,
          secret,
          { name: 'AES-GCM', length: 256 },
          false,
          ['encrypt', 'decrypt'],
        )
        return aeadKey(key)
      },
    }
  },
} satisfies Aead
