import { describe, expect, it } from 'vitest'
import { DecodeError } from '../errors.js'
import { toHex, utf8 } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { base32Decode, base32Encode } from './base32.js'
import { decodeError } from '../errors-fixtures.js'

/** A slow, obviously right encoder to compare with: the bits as text, 5 at a time. */
function referenceEncode(bytes: Uint8Array): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
  let bits = Array.from(bytes, (b) => b.toString(2).padStart(8, '0')).join('')
  bits = bits.padEnd(Math.ceil(bits.length / 5) * 5, '0')
  return (bits.match(/.{5}/g) ?? []).map((group) => alphabet[parseInt(group, 2)]).join('')
}

describe('base32', () => {
  // RFC 4648 §10, lowercased and with the padding stripped.
  const vectors: [string, string][] = [
    ['', ''],
    ['f', 'my'],
    ['fo', 'mzxq'],
    ['foo', 'mzxw6'],
    ['foob', 'mzxw6yq'],
    ['fooba', 'mzxw6ytb'],
    ['foobar', 'mzxw6ytboi'],
  ]

  it.each(vectors)('encodes and decodes the RFC 4648 vector %j', (plain, encoded) => {
    expect(base32Encode(utf8(plain))).toBe(encoded)
    expect(toHex(base32Decode(encoded, 100))).toBe(toHex(utf8(plain)))
  })

  it('round trips seeded random bytes and matches a reference encoder', () => {
    const prng = new Prng(0xba5e32)
    for (let i = 0; i < 500; i++) {
      const bytes = prng.bytes(prng.int(80))
      const text = base32Encode(bytes)
      expect(text).toBe(referenceEncode(bytes))
      expect(text.length).toBe(Math.ceil((bytes.length * 8) / 5))
      expect(toHex(base32Decode(text, bytes.length))).toBe(toHex(bytes))
    }
  })

  it('rejects characters outside lowercase base32 as INVALID', () => {
    for (const text of [
      'MY',
      'MZXW6YTB',
      'my======',
      'mzxq====',
      'mzxw 6yq',
      'mz\nq',
      'm1',
      'm8',
      'mé',
    ]) {
      expect(decodeError(() => base32Decode(text, 100)).code, text).toBe('INVALID')
    }
  })

  it('rejects lengths no encoding has (1, 3 or 6 modulo 8) as INVALID', () => {
    for (const length of [1, 3, 6, 9, 11, 14]) {
      expect(decodeError(() => base32Decode('a'.repeat(length), 100)).code).toBe('INVALID')
    }
    for (const length of [0, 2, 4, 5, 7, 8, 10, 12, 13, 15]) {
      expect(base32Decode('a'.repeat(length), 100).length).toBe(Math.floor((length * 5) / 8))
    }
  })

  it('rejects non-zero unused trailing bits as NON_CANONICAL', () => {
    // 'my' is 'f' with zero padding bits; 'mz' sets one of them.
    expect(decodeError(() => base32Decode('mz', 10)).code).toBe('NON_CANONICAL')
    expect(decodeError(() => base32Decode('mzxr', 10)).code).toBe('NON_CANONICAL')
    expect(decodeError(() => base32Decode('mzxw7', 10)).code).toBe('NON_CANONICAL')
    expect(decodeError(() => base32Decode('mzxw6yr', 10)).code).toBe('NON_CANONICAL')
    expect(decodeError(() => base32Decode('mzxw6ytboj', 10)).code).toBe('NON_CANONICAL')
  })

  it('rejects text decoding above maxBytes as TOO_LARGE before looking at it', () => {
    expect(base32Decode('mzxw6ytboi', 6).length).toBe(6)
    expect(decodeError(() => base32Decode('mzxw6ytboi', 5)).code).toBe('TOO_LARGE')
    // Garbage of a large size is refused by its length alone.
    expect(decodeError(() => base32Decode('!'.repeat(1000), 32)).code).toBe('TOO_LARGE')
    expect(base32Decode('', 0).length).toBe(0)
  })

  it('rejects bad arguments with TypeError and RangeError', () => {
    expect(() => base32Encode('abc' as unknown as Uint8Array)).toThrow(TypeError)
    expect(() => base32Decode(42 as unknown as string, 10)).toThrow(TypeError)
    expect(() => base32Decode('my', -1)).toThrow(RangeError)
    expect(() => base32Decode('my', 1.5)).toThrow(RangeError)
  })

  it('gives only DecodeError for seeded garbage, and only decodes canonical text', () => {
    const prng = new Prng(0x6a7ba6e)
    const chars = 'abcdefghijklmnopqrstuvwxyz234567ABZ018=- \u00e9\u{1f600}'
    let decoded = 0
    for (let i = 0; i < 5000; i++) {
      let text = ''
      const length = prng.int(24)
      for (let j = 0; j < length; j++) {
        // Mostly valid characters, so that many inputs get past the first check.
        text += prng.int(4) > 0 ? chars[prng.int(32)] : [...chars][prng.int([...chars].length)]
      }
      let bytes: Uint8Array
      try {
        bytes = base32Decode(text, prng.int(20))
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
        continue
      }
      decoded++
      expect(base32Encode(bytes)).toBe(text)
    }
    expect(decoded).toBeGreaterThan(100)
  })
})
