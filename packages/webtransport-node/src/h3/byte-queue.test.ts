import { describe, it, expect } from 'vitest'
import { Prng } from '@ferry/core/testing'
import { fromHex as hex, toHex } from '@ferry/wire'
import { ByteQueue } from './byte-queue.js'

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
