// The one file of @ferry/core that uses a Node module: it is reached only through the `node`
// condition of the package's `#aead` import, so browser builds never see it.
import { createCipheriv, createDecipheriv } from 'node:crypto'
import { type AeadKey, aeadTagLength } from './aead.js'

/**
 * AES-256-GCM on node:crypto (OpenSSL, synchronous): no thread-pool round trip and no copies
 * in and out of a job, which is what WebCrypto costs per record in Node.
 */
export function importAeadKey(raw: Uint8Array): Promise<AeadKey> {
  const key = new Uint8Array(raw)
  const aead: AeadKey = {
    seal(nonce, additionalData, plaintext) {
      const cipher = createCipheriv('aes-256-gcm', key, nonce)
      cipher.setAAD(additionalData)
      const out = new Uint8Array(plaintext.length + aeadTagLength)
      const body = cipher.update(plaintext)
      out.set(body)
      cipher.final()
      out.set(cipher.getAuthTag(), plaintext.length)
      return Promise.resolve(out)
    },
    open(nonce, additionalData, ciphertext) {
      try {
        if (ciphertext.length < aeadTagLength) throw new Error('shorter than the tag')
        const end = ciphertext.length - aeadTagLength
        const decipher = createDecipheriv('aes-256-gcm', key, nonce)
        decipher.setAAD(additionalData)
        decipher.setAuthTag(ciphertext.subarray(end))
        const out = new Uint8Array(end)
        out.set(decipher.update(ciphertext.subarray(0, end)))
        decipher.final()
        return Promise.resolve(out)
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)))
      }
    },
  }
  return Promise.resolve(aead)
}
