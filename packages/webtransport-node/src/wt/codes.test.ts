import { describe, it, expect } from 'vitest'
import { Prng } from '@ferry/core/testing'
import { isReservedType } from '../h3/frames.js'
import {
  http3ToWebtransport,
  webtransportToHttp3,
  WT_APPLICATION_ERROR_FIRST,
  WT_APPLICATION_ERROR_LAST,
} from './codes.js'

describe('WebTransport error code mapping', () => {
  it('maps fixed values', () => {
    expect(webtransportToHttp3(0)).toBe(0x52e4a40fa8db)
    expect(webtransportToHttp3(1)).toBe(0x52e4a40fa8dc)
    expect(webtransportToHttp3(0x1d)).toBe(0x52e4a40fa8db + 0x1d)
    // Code 0x1e skips over the reserved codepoint 0x52e4a40fa8db + 0x1e.
    expect(webtransportToHttp3(0x1e)).toBe(0x52e4a40fa8db + 0x1f)
    expect(webtransportToHttp3(0xffffffff)).toBe(0x52e5ac983162)
    expect(WT_APPLICATION_ERROR_FIRST).toBe(0x52e4a40fa8db)
    expect(WT_APPLICATION_ERROR_LAST).toBe(0x52e5ac983162)
  })

  it('round-trips boundary codes', () => {
    for (const code of [0, 1, 0x1d, 0x1e, 0x1f, 0x3c, 0xffffffff]) {
      expect(http3ToWebtransport(webtransportToHttp3(code))).toBe(code)
    }
  })

  it('round-trips random codes, never landing on a reserved codepoint (seeded)', () => {
    const prng = new Prng(50)
    for (let i = 0; i < 10_000; i++) {
      const code = prng.u32()
      const h3 = webtransportToHttp3(code)
      expect(isReservedType(h3)).toBe(false)
      expect(h3).toBeLessThanOrEqual(WT_APPLICATION_ERROR_LAST)
      expect(http3ToWebtransport(h3)).toBe(code)
    }
  })

  it('maps reserved codepoints in the range to null', () => {
    const firstReserved = 0x52e4a40fa8db + 0x1e
    expect(isReservedType(firstReserved)).toBe(true)
    const prng = new Prng(51)
    for (let i = 0; i < 1000; i++) {
      const h3 = firstReserved + 0x1f * prng.int(0x8000000)
      expect(isReservedType(h3)).toBe(true)
      if (h3 <= WT_APPLICATION_ERROR_LAST) expect(http3ToWebtransport(h3)).toBeNull()
    }
  })

  it('maps codes outside the range to null', () => {
    for (const h3 of [
      0,
      0x100,
      0x10c,
      WT_APPLICATION_ERROR_FIRST - 1,
      WT_APPLICATION_ERROR_LAST + 1,
      2 ** 62,
      -1,
      1.5,
      NaN,
    ]) {
      expect(http3ToWebtransport(h3)).toBeNull()
    }
  })

  it('is consistent over a contiguous stretch of the range', () => {
    // Every non-reserved codepoint maps to the next code in order.
    let expected = 0
    for (let h3 = WT_APPLICATION_ERROR_FIRST; h3 < WT_APPLICATION_ERROR_FIRST + 2000; h3++) {
      const code = http3ToWebtransport(h3)
      if (isReservedType(h3)) {
        expect(code).toBeNull()
      } else {
        expect(code).toBe(expected++)
      }
    }
  })

  it('rejects codes outside 32 bits', () => {
    for (const code of [-1, 2 ** 32, 0.5, NaN, Infinity]) {
      expect(() => webtransportToHttp3(code)).toThrow(RangeError)
    }
  })
})
