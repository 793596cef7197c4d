import { describe, expect, it } from 'vitest'
import { concat, concatAll, equalBytes, fromHex, toHex } from './bytes.js'

describe('hex', () => {
  it('reads pairs of digits in either case, with spaces between pairs', () => {
    expect([...fromHex('')]).toEqual([])
    expect([...fromHex('00ff7F')]).toEqual([0x00, 0xff, 0x7f])
    expect([...fromHex(' c2 19  7c5e ')]).toEqual([0xc2, 0x19, 0x7c, 0x5e])
    expect(fromHex('0102').buffer).toBeInstanceOf(ArrayBuffer)
  })

  it('refuses other characters, a lone digit and a space inside a pair', () => {
    for (const bad of ['0', '012', 'zz', '0x01', 'c 2', '01\n02', '01\t02', '01-02', 'é1']) {
      expect(() => fromHex(bad), JSON.stringify(bad)).toThrow(RangeError)
    }
    expect(() => fromHex(1 as unknown as string)).toThrow(TypeError)
  })

  it('writes lowercase pairs with no separators, and reads them back', () => {
    const bytes = Uint8Array.of(0, 1, 0xab, 0xff)
    expect(toHex(bytes)).toBe('0001abff')
    expect(toHex(new Uint8Array(0))).toBe('')
    expect(fromHex(toHex(bytes))).toEqual(bytes)
  })
})

describe('concat and equalBytes', () => {
  it('concat copies its parts into one new array', () => {
    const a = Uint8Array.of(1, 2)
    const joined = concat(a, new Uint8Array(0), Uint8Array.of(3))
    expect([...joined]).toEqual([1, 2, 3])
    a[0] = 9
    expect(joined[0]).toBe(1)
    expect(concat().length).toBe(0)
    const many = Array.from({ length: 200_000 }, (_, i) => Uint8Array.of(i & 0xff))
    expect(concatAll(many)).toEqual(Uint8Array.from(many, (b) => b[0]!))
  })

  it('equalBytes compares lengths and contents', () => {
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 2))).toBe(true)
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1, 3))).toBe(false)
    expect(equalBytes(Uint8Array.of(1, 2), Uint8Array.of(1))).toBe(false)
    expect(equalBytes(new Uint8Array(0), new Uint8Array(0))).toBe(true)
  })
})
