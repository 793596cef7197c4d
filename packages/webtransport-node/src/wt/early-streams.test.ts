import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import { EarlyStreams, type HeldStream } from './early-streams.js'

const stream = (id: number, fin = false): HeldStream => ({
  id,
  leftover: Uint8Array.of(id & 0xff),
  fin,
})

describe('EarlyStreams', () => {
  beforeEach(() => {
    vi.useFakeTimers()
  })
  afterEach(() => {
    vi.useRealTimers()
  })

  it('hands the streams held for a session over in arrival order, once', () => {
    const expired: HeldStream[] = []
    const early = new EarlyStreams({ maxStreams: 8, holdMs: 2000, expired: (s) => expired.push(s) })
    expect(early.hold(0, stream(4))).toBe(true)
    expect(early.hold(8, stream(9))).toBe(true)
    expect(early.hold(0, stream(2, true))).toBe(true)
    expect(early.size).toBe(3)
    expect(early.has(2)).toBe(true)
    expect(early.take(0)).toEqual([stream(4), stream(2, true)])
    expect(early.take(0)).toEqual([])
    expect(early.has(2)).toBe(false)
    expect(early.size).toBe(1)
    // Taken streams never expire; the one still held does.
    vi.advanceTimersByTime(2000)
    expect(expired).toEqual([stream(9)])
    expect(early.size).toBe(0)
  })

  it('holds at most maxStreams over all sessions', () => {
    const early = new EarlyStreams({ maxStreams: 2, holdMs: 2000, expired: () => {} })
    expect(early.hold(0, stream(4))).toBe(true)
    expect(early.hold(8, stream(12))).toBe(true)
    expect(early.hold(16, stream(20))).toBe(false)
    expect(early.has(20)).toBe(false)
    early.take(0)
    expect(early.hold(16, stream(20))).toBe(true)
  })

  it('lets a stream go after holdMs, not before', () => {
    const expired: number[] = []
    const early = new EarlyStreams({
      maxStreams: 4,
      holdMs: 2000,
      expired: (s) => expired.push(s.id),
    })
    early.hold(0, stream(4))
    vi.advanceTimersByTime(1000)
    early.hold(0, stream(8))
    vi.advanceTimersByTime(999)
    expect(expired).toEqual([])
    vi.advanceTimersByTime(1)
    expect(expired).toEqual([4])
    expect(early.take(0)).toEqual([stream(8)])
  })

  it('clear() lets everything go without calling expired', () => {
    const expired = vi.fn()
    const early = new EarlyStreams({ maxStreams: 4, holdMs: 10, expired })
    early.hold(0, stream(4))
    early.hold(4, stream(8))
    early.clear()
    vi.advanceTimersByTime(100)
    expect(expired).not.toHaveBeenCalled()
    expect(early.size).toBe(0)
  })

  it('rejects limits that are not non-negative integers', () => {
    for (const bad of [-1, 1.5, Number.NaN]) {
      expect(() => new EarlyStreams({ maxStreams: bad, holdMs: 1, expired: () => {} })).toThrow(
        RangeError,
      )
      expect(() => new EarlyStreams({ maxStreams: 1, holdMs: bad, expired: () => {} })).toThrow(
        RangeError,
      )
    }
  })
})
