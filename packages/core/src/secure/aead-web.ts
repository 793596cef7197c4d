import type { Aead, AeadKey } from './aead.js'

/** A view WebCrypto accepts as a BufferSource: the bytes themselves when ArrayBuffer-backed. */
function source(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes)
}

/** AES-256-GCM on WebCrypto: a non-extractable key; every call runs off the main thread. */
export const aead = {
  async importKey(raw: Uint8Array): Promise<AeadKey> {
    const key = await crypto.subtle.importKey('raw', new Uint8Array(raw), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ])
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
  },
} satisfies Aead
