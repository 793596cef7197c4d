// The one file of @ferry/core that uses a Node module: it is reached only through the `node`
// condition of the package's `#aead` import, so browser builds never see it.
import {
  createCipheriv,
  createDecipheriv,
  createSecretKey,
  hkdfSync,
  type KeyObject,
} from 'node:crypto'
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

/** A KeyObject holding a copy of `raw` (outside the JavaScript heap). */
function secretKey(raw: Uint8Array): KeyObject {
  if (!(raw instanceof Uint8Array) || raw.length !== 32) {
    throw new TypeError('key: expected 32 bytes')
  }
  return createSecretKey(raw)
}

function aeadKey(key: KeyObject): AeadKey {
  return {
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
}

const noSalt = new Uint8Array(0)

/**
 * AES-256-GCM on node:crypto (OpenSSL, synchronous): no thread-pool round trip and no copies
 * in and out of a job, which is what WebCrypto costs per record in Node. Keys are
 * `KeyObject`s, so they live outside the JavaScript heap.
 */
export const aead = {
  importKey(raw: Uint8Array): Promise<AeadKey> {
    try {
      return Promise.resolve(aeadKey(secretKey(raw)))
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
  },
  importSecret(raw) {
    let secret: KeyObject
    try {
      secret = secretKey(raw)
    } catch (e) {
      return Promise.reject(e instanceof Error ? e : new Error(String(e)))
    }
    return Promise.resolve({
      deriveKey(info) {
        // node:crypto's HKDF hands the key out as bytes: they live only until the KeyObject
        // has its copy.
        const bytes = new Uint8Array(hkdfSync('sha256', secret, noSalt, info, 32))
        const key = createSecretKey(bytes)
        bytes.fill(0)
        return Promise.resolve(aeadKey(key))
      },
    })
  },
} satisfies Aead
