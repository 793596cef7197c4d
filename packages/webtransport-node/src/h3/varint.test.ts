import { describe, it, expect } from 'vitest'
import { Prng } from '@ferry/core/testing'
import { fromHex as hex, readVarint, readVarintBig } from '@ferry/wire'
import { h3Varint } from './varint.js'

// The codec and the RFC 9000 vectors are tested in @ferry/wire; this is HTTP/3's rule.
describe('h3Varint', () => {
  it('accepts a longer encoding than the value needs, as RFC 9000 §16 requires', () => {
    expect(readVarint(hex('4025'), 0, h3Varint)).toEqual([37, 2])
    expect(readVarint(hex('c000000000000025'), 0, h3Varint)).toEqual([37, 8])
    expect(readVarint(hex('80003bbd'), 0, h3Varint)).toEqual([15293, 4])
  })

  it('passes GREASE-size values through: rounded as numbers, exact as bigints', () => {
    expect(readVarint(hex('c2197c5eff14e88c'), 0, h3Varint)).toEqual([
      Number(151288809941952652n),
      8,
    ])
    expect(readVarintBig(hex('c2197c5eff14e88c'), 0, h3Varint)).toEqual([151288809941952652n, 8])
    expect(readVarint(hex('ffffffffffffffff'), 0, h3Varint)).toEqual([2 ** 62, 8])
  })

  it('never refuses a varint: random bytes give a value or undefined (seeded)', () => {
    const prng = new Prng(2)
    for (let i = 0; i < 5000; i++) {
      const bytes = prng.bytes(prng.int(10))
      const n = readVarint(bytes, 0, h3Varint)
      const big = readVarintBig(bytes, 0, h3Varint)
      expect(n === undefined).toBe(big === undefined)
      if (n && big) {
        expect(n[1]).toBe(big[1])
        expect(n[0]).toBe(Number(big[0]))
      }
    }
  })
})
