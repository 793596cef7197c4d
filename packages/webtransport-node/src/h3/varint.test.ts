import { describe, it, expect } from 'vitest'
import { Prng } from '@ferry/core/testing'
import {
  ByteQueue,
  encodeVarint,
  readVarint,
  readVarintBig,
  varintLength,
  writeVarint,
} from './varint.js'
import { fromHex as hex, toHex } from '../internal/bytes.js'

describe('varint', () => {
  it('decodes the RFC 9000 §A.1 vectors', () => {
    expect(readVarintBig(hex('c2197c5eff14e88c'), 0)).toEqual([151288809941952652n, 8])
    // Above 2^53 the number reader rounds to the nearest double.
    expect(readVarint(hex('c2197c5eff14e88c'), 0)).toEqual([Number(151288809941952652n), 8])
    expect(readVarint(hex('9d7f3e7d'), 0)).toEqual([494878333, 4])
    expect(readVarint(hex('7bbd'), 0)).toEqual([15293, 2])
    expect(readVarint(hex('25'), 0)).toEqual([37, 1])
    expect(readVarint(hex('4025'), 0)).toEqual([37, 2])
    expect(readVarintBig(hex('9d7f3e7d'), 0)).toEqual([494878333n, 4])
  })

  it('encodes the RFC 9000 §A.1 vectors in shortest form', () => {
    expect(toHex(encodeVarint(494878333))).toBe('9d7f3e7d')
    expect(toHex(encodeVarint(15293))).toBe('7bbd')
    expect(toHex(encodeVarint(37))).toBe('25')
  })

  it('reads at an offset', () => {
    expect(readVarint(hex('ff7bbd25'), 1)).toEqual([15293, 3])
    expect(readVarint(hex('ff7bbd25'), 3)).toEqual([37, 4])
  })

  const boundaries: [number, number][] = [
    [0, 1],
    [63, 1],
    [64, 2],
    [16383, 2],
    [16384, 4],
    [2 ** 30 - 1, 4],
    [2 ** 30, 8],
    [2 ** 32, 8],
    [2 ** 53 - 1, 8],
  ]

  it('round-trips boundary values with the right length', () => {
    for (const [v, length] of boundaries) {
      expect(varintLength(v)).toBe(length)
      const bytes = encodeVarint(v)
      expect(bytes.length).toBe(length)
      expect(readVarint(bytes, 0)).toEqual([v, length])
      expect(readVarintBig(bytes, 0)).toEqual([BigInt(v), length])
    }
    expect(toHex(encodeVarint(2 ** 53 - 1))).toBe('c01fffffffffffff')
  })

  it('returns undefined at every truncation', () => {
    for (const [v] of boundaries) {
      const bytes = encodeVarint(v)
      for (let cut = 0; cut < bytes.length; cut++) {
        expect(readVarint(bytes.subarray(0, cut), 0)).toBeUndefined()
        expect(readVarintBig(bytes.subarray(0, cut), 0)).toBeUndefined()
      }
    }
    expect(readVarint(hex('25'), 1)).toBeUndefined()
  })

  it('rejects values it cannot encode', () => {
    for (const v of [-1, 1.5, NaN, Infinity, 2 ** 53, 2 ** 62]) {
      expect(() => varintLength(v)).toThrow(RangeError)
      expect(() => encodeVarint(v)).toThrow(RangeError)
    }
    expect(() => writeVarint(new Uint8Array(1), 0, 64)).toThrow(RangeError)
    expect(() => writeVarint(new Uint8Array(4), 1, 16384)).toThrow(RangeError)
  })

  it('writeVarint returns the next offset', () => {
    const buf = new Uint8Array(7)
    let offset = writeVarint(buf, 0, 37)
    offset = writeVarint(buf, offset, 15293)
    offset = writeVarint(buf, offset, 494878333)
    expect(offset).toBe(7)
    expect(toHex(buf)).toBe('257bbd9d7f3e7d')
  })

  it('round-trips random values (seeded)', () => {
    const prng = new Prng(1)
    for (let i = 0; i < 5000; i++) {
      const bits = prng.int(54)
      const v = Math.floor((prng.u32() * 2 ** 21 + (prng.u32() >>> 11)) / 2 ** (53 - bits))
      const bytes = encodeVarint(v)
      expect(readVarint(bytes, 0)).toEqual([v, bytes.length])
      expect(readVarintBig(bytes, 0)).toEqual([BigInt(v), bytes.length])
    }
  })

  it('readVarint agrees with readVarintBig on random bytes (seeded)', () => {
    const prng = new Prng(2)
    for (let i = 0; i < 5000; i++) {
      const bytes = prng.bytes(prng.int(10))
      const n = readVarint(bytes, 0)
      const big = readVarintBig(bytes, 0)
      expect(n === undefined).toBe(big === undefined)
      if (n && big) {
        expect(n[1]).toBe(big[1])
        expect(n[0]).toBe(Number(big[0]))
      }
    }
  })
})

describe('ByteQueue', () => {
  it('reads varints and bytes across chunks', () => {
    const q = new ByteQueue()
    q.push(hex('9d7f'))
    expect(q.readVarint()).toBeUndefined()
    expect(q.length).toBe(2)
    q.push(hex('3e'))
    q.push(new Uint8Array(0))
    q.push(hex('7d0102'))
    expect(q.readVarint()).toBe(494878333)
    expect(q.length).toBe(2)
    q.push(hex('0304'))
    expect(toHex(q.read(3))).toBe('010203')
    expect(toHex(q.readAll())).toBe('04')
    expect(q.length).toBe(0)
  })

  it('readView returns at most one chunk, without copying', () => {
    const q = new ByteQueue()
    const a = hex('010203')
    q.push(a)
    q.push(hex('0405'))
    const view = q.readView(10)
    expect(view.buffer).toBe(a.buffer)
    expect(toHex(view)).toBe('010203')
    expect(toHex(q.readView(1))).toBe('04')
    expect(toHex(q.readView(10))).toBe('05')
    expect(q.readView(10).length).toBe(0)
  })

  it('refuses to consume more than it holds', () => {
    const q = new ByteQueue()
    q.push(hex('01'))
    expect(() => q.skip(2)).toThrow(RangeError)
    expect(() => q.read(2)).toThrow(RangeError)
  })

  it('keeps consuming correctly over many chunks (seeded)', () => {
    const prng = new Prng(3)
    const q = new ByteQueue()
    const expected: number[] = []
    let got: number[] = []
    for (let i = 0; i < 2000; i++) {
      const chunk = prng.bytes(prng.int(5))
      expected.push(...chunk)
      q.push(chunk)
      const n = prng.int(q.length + 1)
      if (prng.int(2) === 0) got = got.concat([...q.read(n)])
      else got = got.concat([...q.readView(n)])
    }
    got = got.concat([...q.readAll()])
    expect(got).toEqual(expected)
  })
})
