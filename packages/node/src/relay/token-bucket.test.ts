import { describe, expect, it } from 'vitest'
import { TokenBucket, waitForTokens } from './token-bucket.js'

function manualClock() {
  let now = 0
  return { clock: () => now, advance: (ms: number) => void (now += ms) }
}

describe('TokenBucket', () => {
  it('starts full, takes only what it has, and refills at its rate up to its burst', () => {
    const { clock, advance } = manualClock()
    const bucket = new TokenBucket(100, 10, clock)
    expect(bucket.full).toBe(true)
    expect(bucket.take(7)).toBe(true)
    expect(bucket.take(4)).toBe(false)
    expect(bucket.tokens).toBe(3)
    advance(50)
    expect(bucket.tokens).toBe(8)
    advance(1000)
    expect(bucket.tokens).toBe(10)
  })

  it('lets a charge run into debt and says how long until a token is back', () => {
    const { clock, advance } = manualClock()
    const bucket = new TokenBucket(1000, 100, clock)
    bucket.charge(600)
    expect(bucket.tokens).toBe(-500)
    expect(bucket.delayMs()).toBe(501)
    advance(500)
    expect(bucket.delayMs()).toBe(1)
    advance(1)
    expect(bucket.delayMs()).toBe(0)
  })

  it('refills nothing when the clock goes back', () => {
    const { clock, advance } = manualClock()
    const bucket = new TokenBucket(1000, 100, clock)
    bucket.charge(100)
    advance(-50)
    expect(bucket.tokens).toBe(0)
    advance(10)
    expect(bucket.tokens).toBe(10)
  })

  it('has no limit at an infinite rate and burst', () => {
    const bucket = new TokenBucket(Infinity, Infinity, () => 0)
    bucket.charge(1e12)
    expect(bucket.take(1e12)).toBe(true)
    expect(bucket.delayMs()).toBe(0)
  })

  it('waitForTokens resolves at once with tokens, and false when aborted while waiting', async () => {
    const bucket = new TokenBucket(1, 1, () => 0)
    expect(await waitForTokens([bucket], new AbortController().signal)).toBe(true)
    bucket.charge(5)
    const stop = new AbortController()
    const waiting = waitForTokens([bucket], stop.signal)
    stop.abort()
    expect(await waiting).toBe(false)
  })
})
