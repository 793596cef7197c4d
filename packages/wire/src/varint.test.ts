import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from './bytes.js'
import {
  VarintError,
  encodeVarint,
  encodedVarintLength,
  readVarint,
  readVarintBig,
  varintLength,
  writeVarint,
  type ReadVarintOptions,
} from './varint.js'

const minimal = { minimal: true } as const
const anyLength = { minimal: false } as const
const whole62 = { minimal: false, max: Infinity } as const

/** The code of the {@link VarintError} that `f` throws (anything else fails the test). */
function codeOf(f: () => unknown): string {
  try {
    f()
  } catch (e) {
    expect(e).toBeInstanceOf(VarintError)
    expect((e as VarintError).name).toBe('VarintError')
    return (e as VarintError).code
  }
  throw new Error('expected a VarintError')
}

/** `value` encoded in `length` bytes, shortest or not (`length` must hold it). */
function encodeIn(value: bigint, length: 1 | 2 | 4 | 8): Uint8Array {
  const out = new Uint8Array(length)
  let rest = value
  for (let i = length - 1; i >= 0; i--) {
    out[i] = Number(rest & 0xffn)
    rest >>= 8n
  }
  out[0]! |= { 1: 0x00, 2: 0x40, 4: 0x80, 8: 0xc0 }[length]
  return out
}

const lengths = [1, 2, 4, 8] as const
const capacity = { 1: 2n ** 6n, 2: 2n ** 14n, 4: 2n ** 30n, 8: 2n ** 62n } as const

describe('RFC 9000 Appendix A.1 vectors', () => {
  it('decodes the 8-, 4-, 2- and 1-byte examples', () => {
    expect(readVarintBig(fromHex('c2197c5eff14e88c'), 0, minimal)).toEqual([151288809941952652n, 8])
    // Above 2^53 - 1 a number is the nearest double, and only with max: Infinity.
    expect(readVarint(fromHex('c2197c5eff14e88c'), 0, whole62)).toEqual([
      Number(151288809941952652n),
      8,
    ])
    for (const rule of [minimal, anyLength]) {
      expect(readVarint(fromHex('9d7f3e7d'), 0, rule)).toEqual([494878333, 4])
      expect(readVarint(fromHex('7bbd'), 0, rule)).toEqual([15293, 2])
      expect(readVarint(fromHex('25'), 0, rule)).toEqual([37, 1])
    }
  })

  it('encodes them back to the same bytes', () => {
    expect(toHex(encodeVarint(494878333))).toBe('9d7f3e7d')
    expect(toHex(encodeVarint(15293))).toBe('7bbd')
    expect(toHex(encodeVarint(37))).toBe('25')
  })

  it('reads the two-byte encoding of 37 (0x4025) only under { minimal: false }', () => {
    expect(readVarint(fromHex('4025'), 0, anyLength)).toEqual([37, 2])
    expect(readVarintBig(fromHex('4025'), 0, anyLength)).toEqual([37n, 2])
    expect(codeOf(() => readVarint(fromHex('4025'), 0, minimal))).toBe('NON_MINIMAL')
    expect(codeOf(() => readVarintBig(fromHex('4025'), 0, minimal))).toBe('NON_MINIMAL')
  })

  it('refuses the 8-byte example as TOO_LARGE under the default max of 2^53 - 1', () => {
    expect(codeOf(() => readVarint(fromHex('c2197c5eff14e88c'), 0, minimal))).toBe('TOO_LARGE')
    expect(codeOf(() => readVarint(fromHex('c2197c5eff14e88c'), 0, anyLength))).toBe('TOO_LARGE')
  })
})

describe('varint writer', () => {
  it('writes the shortest encoding at the boundaries of each length', () => {
    const cases: [number, string][] = [
      [0, '00'],
      [63, '3f'],
      [64, '4040'],
      [16383, '7fff'],
      [16384, '80004000'],
      [2 ** 30 - 1, 'bfffffff'],
      [2 ** 30, 'c000000040000000'],
      [2 ** 32, 'c000000100000000'],
      [Number.MAX_SAFE_INTEGER, 'c01fffffffffffff'],
    ]
    for (const [value, hex] of cases) {
      expect(toHex(encodeVarint(value)), String(value)).toBe(hex)
      expect(varintLength(value)).toBe(hex.length / 2)
      expect(encodedVarintLength(fromHex(hex)[0]!)).toBe(hex.length / 2)
      expect(readVarint(fromHex(hex), 0, minimal)).toEqual([value, hex.length / 2])
    }
  })

  it('writeVarint writes at an offset and returns the offset after it', () => {
    const bytes = new Uint8Array(8)
    let offset = writeVarint(bytes, 1, 37)
    offset = writeVarint(bytes, offset, 15293)
    offset = writeVarint(bytes, offset, 494878333)
    expect(offset).toBe(8)
    expect(toHex(bytes)).toBe('00257bbd9d7f3e7d')
  })

  it('refuses values outside [0, 2^53 - 1] with a RangeError naming n', () => {
    for (const bad of [-1, 0.5, 2 ** 53, 2 ** 62, Infinity, NaN]) {
      expect(() => encodeVarint(bad)).toThrow(RangeError)
      expect(() => encodeVarint(bad)).toThrow(/\bn\b/)
      expect(() => varintLength(bad)).toThrow(RangeError)
      expect(() => writeVarint(new Uint8Array(8), 0, bad)).toThrow(RangeError)
    }
  })

  it('refuses to write past the end of the array or at a bad offset', () => {
    expect(() => writeVarint(new Uint8Array(1), 0, 64)).toThrow(RangeError)
    expect(() => writeVarint(new Uint8Array(4), 1, 16384)).toThrow(/offset 1/)
    expect(() => writeVarint(new Uint8Array(4), -1, 1)).toThrow(/offset/)
    expect(() => writeVarint(new Uint8Array(4), 0.5, 1)).toThrow(RangeError)
  })
})

describe('varint reader', () => {
  it('reads at an offset and returns the offset after the varint', () => {
    expect(readVarint(fromHex('ff7bbd25'), 1, minimal)).toEqual([15293, 3])
    expect(readVarint(fromHex('ff7bbd25'), 3, minimal)).toEqual([37, 4])
    expect(readVarintBig(fromHex('ff7bbd25'), 1, minimal)).toEqual([15293n, 3])
  })

  it('returns undefined at every truncation, and at or past the end', () => {
    for (const hex of ['25', '7bbd', '9d7f3e7d', 'c2197c5eff14e88c']) {
      const bytes = fromHex(hex)
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(readVarint(bytes.subarray(0, cut), 0, whole62), `${hex}/${cut}`).toBeUndefined()
        expect(readVarintBig(bytes.subarray(0, cut), 0, anyLength)).toBeUndefined()
      }
      expect(readVarint(bytes, bytes.length, minimal)).toBeUndefined()
      expect(readVarint(bytes, bytes.length + 5, minimal)).toBeUndefined()
    }
  })

  it('refuses values above max as TOO_LARGE, however they are encoded', () => {
    const below2to24 = { minimal: true, max: 2 ** 24 - 1 }
    expect(readVarint(fromHex('80ffffff'), 0, below2to24)).toEqual([2 ** 24 - 1, 4])
    expect(codeOf(() => readVarint(fromHex('81000000'), 0, below2to24))).toBe('TOO_LARGE')
    expect(codeOf(() => readVarint(fromHex('3f'), 0, { minimal: true, max: 62 }))).toBe('TOO_LARGE')
    expect(readVarint(fromHex('c01fffffffffffff'), 0, minimal)).toEqual([2 ** 53 - 1, 8])
    expect(codeOf(() => readVarint(fromHex('c020000000000000'), 0, minimal))).toBe('TOO_LARGE')
    expect(codeOf(() => readVarint(fromHex('ffffffffffffffff'), 0, anyLength))).toBe('TOO_LARGE')
    expect(readVarint(fromHex('ffffffffffffffff'), 0, whole62)).toEqual([2 ** 62, 8])
  })

  it('refuses a reader that does not state its rule, and a bad max or offset', () => {
    const bytes = fromHex('25')
    expect(() => readVarint(bytes, 0, {} as ReadVarintOptions)).toThrow(TypeError)
    expect(() => readVarint(bytes, 0, undefined as unknown as ReadVarintOptions)).toThrow(
      /options\.minimal/,
    )
    expect(() => readVarintBig(bytes, 0, {} as ReadVarintOptions)).toThrow(TypeError)
    for (const max of [-1, 1.5, NaN, 2 ** 53]) {
      expect(() => readVarint(bytes, 0, { minimal: true, max })).toThrow(/options\.max/)
    }
    expect(() => readVarint(bytes, -1, minimal)).toThrow(/offset/)
    expect(() => readVarintBig(bytes, 0.5, minimal)).toThrow(RangeError)
  })

  it('reads every one- and two-byte input as the bits say, refusing only non-minimal ones', () => {
    // 65536 inputs: collect what disagrees and assert once, which keeps the test fast.
    const wrong: string[] = []
    const bytes = new Uint8Array(2)
    for (let input = 0; input < 0x1_0000; input++) {
      bytes[0] = input >>> 8
      bytes[1] = input & 0xff
      const hex = toHex(bytes)
      const length = encodedVarintLength(bytes[0])
      const any = readVarint(bytes, 0, anyLength)
      const big = readVarintBig(bytes, 0, anyLength)
      if (length > 2) {
        if (any !== undefined || big !== undefined) wrong.push(`${hex}: not truncated`)
        continue
      }
      const value = length === 1 ? bytes[0] : input & 0x3fff
      if (any?.[0] !== value || any[1] !== length) wrong.push(`${hex}: read ${any?.join()}`)
      if (big?.[0] !== BigInt(value) || big[1] !== length) wrong.push(`${hex}: big ${big?.join()}`)
      const shortest = toHex(encodeVarint(value)) === hex.slice(0, 2 * length)
      let code = 'ok'
      try {
        readVarint(bytes, 0, minimal)
      } catch (e) {
        code = e instanceof VarintError ? e.code : String(e)
      }
      if (code !== (shortest ? 'ok' : 'NON_MINIMAL')) wrong.push(`${hex}: minimal gives ${code}`)
    }
    expect(wrong).toEqual([])
  })

  it('reads every value near each power of two in every length that holds it', () => {
    for (let bits = 0; bits <= 62; bits++) {
      for (const delta of [-1n, 0n, 1n, 0x2an]) {
        const value = 2n ** BigInt(bits) + delta
        if (value < 0n || value >= 2n ** 62n) continue
        const shortest = lengths.find((length) => value < capacity[length])!
        for (const length of lengths.filter((length) => value < capacity[length])) {
          const bytes = encodeIn(value, length)
          const where = `${value} in ${length} bytes`
          expect(readVarintBig(bytes, 0, anyLength), where).toEqual([value, length])
          expect(readVarint(bytes, 0, whole62), where).toEqual([Number(value), length])
          if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
            expect(
              codeOf(() => readVarint(bytes, 0, anyLength)),
              where,
            ).toBe('TOO_LARGE')
          } else if (length === shortest) {
            expect(readVarint(bytes, 0, minimal), where).toEqual([Number(value), length])
            expect(toHex(encodeVarint(Number(value))), where).toBe(toHex(bytes))
          } else {
            expect(
              codeOf(() => readVarint(bytes, 0, minimal)),
              where,
            ).toBe('NON_MINIMAL')
            expect(
              codeOf(() => readVarintBig(bytes, 0, minimal)),
              where,
            ).toBe('NON_MINIMAL')
          }
        }
      }
    }
  })

  it('encodedVarintLength reads the top two bits and refuses anything but a byte', () => {
    expect([0x00, 0x3f, 0x40, 0x7f, 0x80, 0xbf, 0xc0, 0xff].map(encodedVarintLength)).toEqual([
      1, 1, 2, 2, 4, 4, 8, 8,
    ])
    for (const bad of [-1, 256, 1.5, NaN])
      expect(() => encodedVarintLength(bad)).toThrow(RangeError)
  })
})
