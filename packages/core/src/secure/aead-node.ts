// The one file of @ferry/core that uses a Node module: it is reached only through the `node`
// condition of the package's `#aead` import, so browser builds never see it.
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { type Aead, type AeadKey, aeadTagLength } from './aead.js'

/**
 * The bytes of `buffer` as a plain Uint8Array the caller may keep: the same memory when the
 * Buffer owns its whole ArrayBuffer (large outputs are not pooled), else a copy, so no view
 * ever exposes a pooled slab's other bytes through `.buffer`.
 */
function ownBytes(buffer: Uint8Array): Uint8Array {
  if (buffer.byteOffset === 0 && buffer.buffer.byteLength === buffer.length) {
    return new Uint8Array(buffer.buffer, 0, buffer.length)
  }
  return new Uint8Array(buffer)
}

/**
 * AES-256-GCM on node:crypto (OpenSSL, synchronous): no thread-pool round trip and no copies
 * in and out of a job, which is what WebCrypto costs per record in Node.
 */
export const aead = {
  importKey(raw: Uint8Array): Promise<AeadKey> {
    const key = new Uint8Array(raw)
    const aeadKey: AeadKey = {
      seal(nonce, additionalData, plaintext, headroom = 0) {
        const cipher = createCipheriv('aes-256-gcm', key, nonce)
        cipher.setAAD(additionalData)
        const out = new Uint8Array(headroom + plaintext.length + aeadTagLength)
        out.set(cipher.update(plaintext), headroom)
        cipher.final()
        out.set(cipher.getAuthTag(), headroom + plaintext.length)
        return Promise.resolve(out)
      },
      unseal(nonce, additionalData, ciphertext) {
        try {
          if (ciphertext.length < aeadTagLength) throw new Error('shorter than the tag')
          const end = ciphertext.length - aeadTagLength
          const decipher = createDecipheriv('aes-256-gcm', key, nonce)
          decipher.setAAD(additionalData)
          decipher.setAuthTag(ciphertext.subarray(end))
          const body = decipher.update(ciphertext.subarray(0, end))
          decipher.final()
          return Promise.resolve(ownBytes(body))
        } catch (e) {
          return Promise.reject(e instanceof Error ? e : new Error(String(e)))
        }
      },
    }
    return Promise.resolve(aeadKey)
  },
} satisfies Aead
