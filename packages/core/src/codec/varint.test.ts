import { encodeVarint } from '@ferry/wire'
import { describe, expect, it } from 'vitest'
import { DecodeError } from '../errors.js'
import { fromHex, toHex, utf8 } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { ByteReader, ByteWriter } from './varint.js'
import { decodeError } from '../errors-fixtures.js'

const readVarint = (hex: string): number => {
  const reader = new ByteReader(fromHex(hex))
  const value = reader.varint()
  reader.end()
  return value
}

// The codec itself, with the RFC 9000 vectors, is tested in @ferry/wire; these tests pin
// ferry's rule for its own formats: shortest form only, values up to 2^53 - 1, DecodeError.
describe('ByteReader.varint and ByteWriter.varint', () => {
  it('refuses 2^53 and above as TOO_LARGE: the 8-byte example of RFC 9000 A.1, the largest varint', () => {
    expect(decodeError(() => readVarint('c2197c5eff14e88c')).code).toBe('TOO_LARGE')
    expect(decodeError(() => readVarint('c020000000000000')).code).toBe('TOO_LARGE')
    expect(decodeError(() => readVarint('ffffffffffffffff')).code).toBe('TOO_LARGE')
  })

  it('refuses every non-minimal encoding as NON_CANONICAL', () => {
    for (const hex of [
      '4025',
      '4000',
      '403f',
      '80000000',
      '80003fff',
      'c000000000000000',
      'c00000003fffffff',
    ]) {
      expect(decodeError(() => readVarint(hex)).code, hex).toBe('NON_CANONICAL')
    }
  })

  it('refuses to write values outside [0, 2^53 - 1] with a RangeError naming n', () => {
    for (const bad of [-1, 0.5, 2 ** 53, Infinity, NaN]) {
      expect(() => new ByteWriter().varint(bad)).toThrow(RangeError)
      expect(() => new ByteWriter().varint(bad)).toThrow(/\bn\b/)
    }
  })

  it('reports a varint cut short as TRUNCATED and consumes nothing', () => {
    for (const hex of ['', '40', '9d7f3e', 'c2197c5eff14e8']) {
      const reader = new ByteReader(fromHex(hex))
      expect(decodeError(() => reader.varint()).code, hex).toBe('TRUNCATED')
      expect(reader.offset).toBe(0)
    }
  })

  it('round trips seeded random values of every length', () => {
    const prng = new Prng(0x9000)
    const writer = new ByteWriter(1)
    const values: number[] = []
    for (let i = 0; i < 2000; i++) {
      const bits = prng.int(54)
      const value = Math.floor((prng.u32() * 2 ** 21 + (prng.u32() >>> 11)) / 2 ** (53 - bits))
      values.push(value)
      writer.varint(value)
    }
    const reader = new ByteReader(writer.finish())
    for (const value of values) expect(reader.varint()).toBe(value)
    reader.end()
  })

  it('gives only DecodeError for seeded garbage, and decodes only canonical bytes', () => {
    const prng = new Prng(0x6a7ba6e)
    for (let i = 0; i < 5000; i++) {
      const bytes = prng.bytes(prng.int(10))
      const reader = new ByteReader(bytes)
      let value: number
      try {
        value = reader.varint()
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
        continue
      }
      expect(toHex(encodeVarint(value))).toBe(toHex(bytes.subarray(0, reader.offset)))
    }
  })
})

describe('ByteWriter and ByteReader', () => {
  it('write and read every field type', () => {
    const writer = new ByteWriter(2)
    writer
      .u8(0xab)
      .u16(0x1234)
      .varint(300)
      .bytes(Uint8Array.of(1, 2, 3))
      .lengthPrefixed(Uint8Array.of(9, 8))
      .string('héllo ☃')
      .string('')
    expect(writer.length).toBe(1 + 2 + 2 + 3 + 3 + 1 + 10 + 1)
    const bytes = writer.finish()
    expect(toHex(bytes.subarray(0, 12))).toBe('ab1234412c0102030209080a')

    const reader = new ByteReader(bytes)
    expect(reader.u8()).toBe(0xab)
    expect(reader.u16()).toBe(0x1234)
    expect(reader.varint()).toBe(300)
    expect([...reader.bytes(3)]).toEqual([1, 2, 3])
    expect([...reader.lengthPrefixed(2)]).toEqual([9, 8])
    expect(reader.string(100)).toBe('héllo ☃')
    expect(reader.string(0)).toBe('')
    expect(reader.remaining).toBe(0)
    expect(reader.offset).toBe(bytes.length)
    reader.end()
  })

  it('finish() returns a copy that later writes do not change', () => {
    const writer = new ByteWriter()
    writer.u8(1)
    const first = writer.finish()
    writer.u8(2)
    expect([...first]).toEqual([1])
    expect([...writer.finish()]).toEqual([1, 2])
  })

  it('bytes() and lengthPrefixed() return views into the input, not copies', () => {
    const input = Uint8Array.of(2, 7, 7, 5)
    const reader = new ByteReader(input)
    const view = reader.lengthPrefixed(10)
    expect(view.buffer).toBe(input.buffer)
    input[1] = 0
    expect([...view]).toEqual([0, 7])
    expect(reader.bytes(1).byteOffset).toBe(3)
  })

  it('rejects out-of-range integers and non-bytes with errors naming the argument', () => {
    const writer = new ByteWriter()
    expect(() => writer.u8(256)).toThrow(RangeError)
    expect(() => writer.u8(-1)).toThrow(/\bn\b/)
    expect(() => writer.u16(65536)).toThrow(RangeError)
    expect(() => writer.u16(1.5)).toThrow(RangeError)
    expect(() => writer.bytes([1] as unknown as Uint8Array)).toThrow(TypeError)
    expect(() => writer.string(1 as unknown as string)).toThrow(TypeError)
    expect(writer.length).toBe(0)
    expect(() => new ByteReader([] as unknown as Uint8Array)).toThrow(TypeError)
    expect(() => new ByteReader(new Uint8Array(4)).bytes(-1)).toThrow(RangeError)
    expect(() => new ByteReader(new Uint8Array(4)).lengthPrefixed(-1)).toThrow(/maxBytes/)
  })

  it('reports every read past the end as TRUNCATED', () => {
    expect(decodeError(() => new ByteReader(new Uint8Array(0)).u8()).code).toBe('TRUNCATED')
    expect(decodeError(() => new ByteReader(new Uint8Array(1)).u16()).code).toBe('TRUNCATED')
    expect(decodeError(() => new ByteReader(new Uint8Array(2)).bytes(3)).code).toBe('TRUNCATED')
    expect(decodeError(() => new ByteReader(fromHex('03 0102')).lengthPrefixed(10)).code).toBe(
      'TRUNCATED',
    )
    expect(decodeError(() => new ByteReader(fromHex('05 6869')).string(10)).code).toBe('TRUNCATED')
  })

  it('checks a length against maxBytes before the bytes present', () => {
    // A huge claimed length with nothing behind it is TOO_LARGE, not TRUNCATED: the limit is
    // checked first, and nothing is sliced or allocated.
    const reader = new ByteReader(fromHex('c000000100000000'))
    expect(decodeError(() => reader.lengthPrefixed(1024)).code).toBe('TOO_LARGE')
    expect(reader.offset).toBe(0)
    expect(decodeError(() => new ByteReader(fromHex('03 010203')).lengthPrefixed(2)).code).toBe(
      'TOO_LARGE',
    )
    expect(decodeError(() => new ByteReader(fromHex('03 616263')).string(2)).code).toBe('TOO_LARGE')
  })

  it('refuses invalid UTF-8 as INVALID and keeps a byte order mark', () => {
    for (const hex of ['01 ff', '02 c328', '03 eda080', '01 80', '02 c0af']) {
      const reader = new ByteReader(fromHex(hex))
      expect(decodeError(() => reader.string(10)).code, hex).toBe('INVALID')
      expect(reader.offset).toBe(0)
    }
    const bom = new ByteWriter().string('\ufeffx').finish()
    expect(new ByteReader(bom).string(10)).toBe('\ufeffx')
    expect(toHex(new ByteWriter().string('€').finish())).toBe(toHex(Uint8Array.of(3, ...utf8('€'))))
  })

  it('end() reports leftover bytes as TRAILING_BYTES', () => {
    const reader = new ByteReader(Uint8Array.of(1, 2))
    reader.u8()
    expect(decodeError(() => reader.end()).code).toBe('TRAILING_BYTES')
    reader.u8()
    reader.end()
  })

  it('gives only DecodeError for seeded garbage read as a record', () => {
    const prng = new Prng(0xdecade)
    for (let i = 0; i < 3000; i++) {
      const reader = new ByteReader(prng.bytes(prng.int(40)))
      try {
        reader.u8()
        reader.u16()
        reader.varint()
        reader.lengthPrefixed(16)
        reader.string(16)
        reader.bytes(prng.int(8))
        reader.end()
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
      }
    }
  })
})
