import { describe, expect, it } from 'vitest'
import { fromHex as hex } from '@ferry/wire'
import { LimitError, QpackError } from '../errors.js'
import { Prng } from '@ferry/core/testing'
import {
  _HUFFMAN_CODE_LENGTHS,
  _HUFFMAN_CODES,
  huffmanDecode,
  huffmanEncode,
  huffmanEncodedLength,
} from './huffman.js'

const ascii = (s: string): Uint8Array => new TextEncoder().encode(s)
const text = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Every Huffman-coded string literal of RFC 7541 Appendix C.4 and C.6. */
const RFC_7541_VECTORS: [string, string][] = [
  // C.4.1, C.4.2, C.4.3
  ['www.example.com', 'f1e3 c2e5 f23a 6ba0 ab90 f4ff'],
  ['no-cache', 'a8eb 1064 9cbf'],
  ['custom-key', '25a8 49e9 5ba9 7d7f'],
  ['custom-value', '25a8 49e9 5bb8 e8b4 bf'],
  // C.6.1
  ['302', '6402'],
  ['private', 'aec3 771a 4b'],
  ['Mon, 21 Oct 2013 20:13:21 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e082 a62d 1bff'],
  ['https://www.example.com', '9d29 ad17 1863 c78f 0b97 c8e9 ae82 ae43 d3'],
  // C.6.2
  ['307', '640e ff'],
  // C.6.3
  ['Mon, 21 Oct 2013 20:13:22 GMT', 'd07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff'],
  ['gzip', '9bd9 ab'],
  [
    'foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1',
    '94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 ' +
      '65c0 03ed 4ee5 b106 3d50 07',
  ],
]

describe('Huffman code table', () => {
  it('is the canonical code of its lengths, complete, with EOS = 30 ones', () => {
    expect(_HUFFMAN_CODES).toHaveLength(257)
    expect(_HUFFMAN_CODE_LENGTHS).toHaveLength(257)
    expect(_HUFFMAN_CODES[256]).toBe(0x3fffffff)
    expect(_HUFFMAN_CODE_LENGTHS[256]).toBe(30)
    // Rebuild the canonical code (sorted by length, then symbol) and compare code by code: a
    // typo in either table shows up here.
    const order = [...Array(257).keys()].sort(
      (a, b) => _HUFFMAN_CODE_LENGTHS[a]! - _HUFFMAN_CODE_LENGTHS[b]! || a - b,
    )
    let code = 0
    let length = _HUFFMAN_CODE_LENGTHS[order[0]!]!
    let kraft = 0
    for (const symbol of order) {
      const len = _HUFFMAN_CODE_LENGTHS[symbol]!
      code *= 2 ** (len - length)
      length = len
      expect(_HUFFMAN_CODES[symbol], `symbol ${symbol}`).toBe(code)
      code++
      kraft += 2 ** -len
    }
    expect(kraft).toBe(1)
  })
})

describe('huffmanDecode / huffmanEncode', () => {
  it('matches every Huffman string of RFC 7541 Appendix C.4 and C.6', () => {
    for (const [plain, coded] of RFC_7541_VECTORS) {
      expect(text(huffmanDecode(hex(coded), 1000)), plain).toBe(plain)
      expect(huffmanEncode(ascii(plain)), plain).toEqual(hex(coded))
      expect(huffmanEncodedLength(ascii(plain)), plain).toBe(hex(coded).length)
    }
  })

  it('round-trips every byte value, alone and together', () => {
    const all = new Uint8Array(256)
    for (let i = 0; i < 256; i++) {
      all[i] = i
      const one = Uint8Array.of(i)
      const coded = huffmanEncode(one)
      expect(coded.length).toBe(huffmanEncodedLength(one))
      expect(huffmanDecode(coded, 1)).toEqual(one)
    }
    expect(huffmanDecode(huffmanEncode(all), 256)).toEqual(all)
  })

  it('round-trips seeded random strings', () => {
    const prng = new Prng(0x5eed)
    for (let round = 0; round < 500; round++) {
      const bytes =
        round % 2 === 0
          ? prng.bytes(prng.int(100))
          : // mostly-ASCII header-like text, where the short codes live
            Uint8Array.from({ length: prng.int(200) }, () => 0x20 + prng.int(0x5f))
      const coded = huffmanEncode(bytes)
      expect(coded.length).toBe(huffmanEncodedLength(bytes))
      expect(huffmanDecode(coded, bytes.length)).toEqual(bytes)
    }
  })

  it('encodes and decodes the empty string', () => {
    expect(huffmanEncode(new Uint8Array(0))).toEqual(new Uint8Array(0))
    expect(huffmanDecode(new Uint8Array(0), 0)).toEqual(new Uint8Array(0))
  })

  it('rejects padding longer than 7 bits', () => {
    // '0' is 00000 (5 bits): a whole byte of ones after it is 11 bits of padding.
    expect(() => huffmanDecode(hex('07 ff'), 100)).toThrow(QpackError)
    // A whole octet of ones alone is 8 bits of padding.
    expect(() => huffmanDecode(hex('ff'), 100)).toThrow(QpackError)
    // 'a' (00011) + 3 one-bits is fine; the RFC vectors cover the other padding lengths.
    expect(text(huffmanDecode(hex('1f'), 100))).toBe('a')
  })

  it('rejects padding that is not all ones', () => {
    // '0' then padding 000
    expect(() => huffmanDecode(hex('00'), 100)).toThrow(QpackError)
    // 'a' then padding 110
    expect(() => huffmanDecode(hex('1e'), 100)).toThrow(QpackError)
    // symbol 0 (1111111111000) then padding 000
    expect(() => huffmanDecode(hex('ff c0'), 100)).toThrow(QpackError)
  })

  it('rejects the EOS symbol inside the string', () => {
    // EOS (30 ones) then two padding ones
    expect(() => huffmanDecode(hex('ff ff ff ff'), 100)).toThrow(QpackError)
    // 'a' (00011), EOS, padding 1
    expect(() => huffmanDecode(hex('1f ff ff ff ff'), 100)).toThrow(QpackError)
    const err = (() => {
      try {
        huffmanDecode(hex('ff ff ff ff'), 100)
      } catch (e) {
        return e
      }
    })()
    expect(err).toMatchObject({ name: 'QpackError', code: 0x200 })
  })

  it('enforces maxOutputBytes with a LimitError', () => {
    const coded = hex(RFC_7541_VECTORS[0]![1]) // www.example.com, 15 bytes
    expect(huffmanDecode(coded, 15)).toHaveLength(15)
    let err: unknown
    try {
      huffmanDecode(coded, 14)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(LimitError)
    expect(err).toMatchObject({ name: 'LimitError', limit: 'maxHeaderBytes' })
    expect(() => huffmanDecode(coded, 0)).toThrow(LimitError)
    expect(() => huffmanDecode(coded, -1)).toThrow(RangeError)
    expect(() => huffmanDecode(coded, 1.5)).toThrow(RangeError)
  })

  it('fuzz: random bytes only ever decode or throw QpackError/LimitError', () => {
    const prng = new Prng(1234)
    let decoded = 0
    for (let round = 0; round < 5000; round++) {
      const bytes = prng.bytes(prng.int(40))
      const limit = prng.int(3) === 0 ? prng.int(20) : 1000
      try {
        const out = huffmanDecode(bytes, limit)
        expect(out.length).toBeLessThanOrEqual(limit)
        // Whatever decodes re-encodes to the same bytes: the code is a bijection on valid input.
        expect(huffmanEncode(out)).toEqual(bytes)
        decoded++
      } catch (e) {
        if (!(e instanceof QpackError) && !(e instanceof LimitError)) throw e
      }
    }
    expect(decoded).toBeGreaterThan(0)
  })

  it('decodes a 64 KiB value: a byte-aligned run, then an RFC 7541 C.4.1 string', () => {
    // "aceiost0" is eight 5-bit codes (3, 4, 5, 6, 7, 8, 9, 0): exactly these five bytes, so
    // repeats of it stay byte-aligned and any coded string may follow.
    const unit = hex('190a63a120')
    const tail = hex('f1e3 c2e5 f23a 6ba0 ab90 f4ff')
    const repeats = 8192
    const coded = new Uint8Array(unit.length * repeats + tail.length)
    for (let i = 0; i < repeats; i++) coded.set(unit, i * unit.length)
    coded.set(tail, unit.length * repeats)
    const expected = 'aceiost0'.repeat(repeats) + 'www.example.com'
    expect(text(huffmanDecode(coded, expected.length))).toBe(expected)
    expect(huffmanEncode(ascii(expected))).toEqual(coded)
    // One byte short of room is a LimitError, not a truncated value.
    expect(() => huffmanDecode(coded, expected.length - 1)).toThrow(LimitError)
  })
})
