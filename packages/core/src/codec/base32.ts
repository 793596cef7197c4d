/**
 * Base32 text (RFC 4648 §6 alphabet), lowercase and without padding: the form endpoint ids and
 * tickets take in URLs, logs and QR codes. Decoding is strict, so every byte string has exactly
 * one text form and a ticket can be compared as text.
 */
import { DecodeError } from '../errors.js'

const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'

/** Character code → 5-bit value, or -1 for a character outside the alphabet. */
const values = new Int8Array(128).fill(-1)
for (let i = 0; i < alphabet.length; i++) values[alphabet.charCodeAt(i)] = i

/**
 * Encodes `bytes` as lowercase RFC 4648 base32 without padding (`ceil(8 * n / 5)` characters).
 * @throws {TypeError} if `bytes` is not a `Uint8Array`.
 */
export function base32Encode(bytes: Uint8Array): string {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array')
  let out = ''
  let buffer = 0
  let bits = 0
  for (const byte of bytes) {
    buffer = ((buffer << 8) | byte) & 0xfff
    bits += 8
    while (bits >= 5) {
      bits -= 5
      out += alphabet[(buffer >>> bits) & 31]
    }
  }
  if (bits > 0) out += alphabet[(buffer << (5 - bits)) & 31]
  return out
}

/**
 * Decodes strict lowercase unpadded base32, the only form {@link base32Encode} writes.
 * @param maxBytes - The largest decoded size accepted; checked from the text's length before
 *   any decoding.
 * @returns A new array.
 * @throws {DecodeError} `TOO_LARGE` if the text would decode to more than `maxBytes` bytes;
 *   `INVALID` for a character outside `a-z2-7` (uppercase, `=` padding and whitespace included)
 *   or a length no encoding has (1, 3 or 6 modulo 8); `NON_CANONICAL` if the unused bits of the
 *   last character are not zero.
 * @throws {TypeError} if `text` is not a string.
 * @throws {RangeError} if `maxBytes` is not a non-negative integer.
 */
export function base32Decode(text: string, maxBytes: number): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string') throw new TypeError('text must be a string')
  if (!Number.isSafeInteger(maxBytes) || maxBytes < 0) {
    throw new RangeError('maxBytes must be a non-negative integer')
  }
  const size = Math.floor((text.length * 5) / 8)
  if (size > maxBytes) {
    throw new DecodeError('TOO_LARGE', `base32 text of ${size} bytes is above ${maxBytes}`)
  }
  const tail = text.length % 8
  if (tail === 1 || tail === 3 || tail === 6) {
    throw new DecodeError('INVALID', `no base32 text is ${text.length} characters long`)
  }
  const out = new Uint8Array(size)
  let buffer = 0
  let bits = 0
  let o = 0
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    const value = code < 128 ? (values[code] ?? -1) : -1
    if (value < 0) {
      throw new DecodeError('INVALID', `a character outside lowercase base32 at ${i}`)
    }
    buffer = ((buffer << 5) | value) & 0xfff
    bits += 5
    if (bits >= 8) {
      bits -= 8
      out[o++] = (buffer >>> bits) & 0xff
    }
  }
  // At most 4 bits are left (the tail check above rules out 5 or more); they must be zero, or
  // two texts would decode to the same bytes.
  if ((buffer & ((1 << bits) - 1)) !== 0) {
    throw new DecodeError('NON_CANONICAL', 'base32 text with non-zero trailing bits')
  }
  return out
}
