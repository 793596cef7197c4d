/**
 * A token bucket on a monotonic clock: `rate` tokens a second, at most `burst` saved up. The
 * relay's session rates (one token a session) and byte rates (one token a byte) are buckets.
 */

/** Milliseconds from a monotonic origin; `performance.now()` unless a test injects one. */
export type Clock = () => number

/** The relay's clock: monotonic, so a change of the wall clock neither frees nor locks tokens. */
export const monotonicClock: Clock = () => performance.now()

/** The longest a waiter sleeps before it looks at the clock again (so an injected clock works). */
const maxWaitMs = 1000

export class TokenBucket {
  #tokens: number
  #last: number

  /**
   * A full bucket. `rate` and `burst` are positive (`Infinity` for no limit); the caller
   * checks them (see `limits.ts`).
   */
  constructor(
    readonly rate: number,
    readonly burst: number,
    readonly clock: Clock,
  ) {
    this.#tokens = burst
    this.#last = clock()
  }

  /** The tokens there are now; below zero while a debt (see {@link TokenBucket.charge}) lasts. */
  get tokens(): number {
    this.#refill()
    return this.#tokens
  }

  /** Whether the bucket is full, so forgetting it loses nothing. */
  get full(): boolean {
    return this.tokens >= this.burst
  }

  /** Takes `n` tokens if there are that many (a datagram, a session); else takes none. */
  take(n: number): boolean {
    this.#refill()
    if (this.#tokens < n) return false
    this.#tokens -= n
    return true
  }

  /**
   * Takes `n` tokens even if that leaves a debt: bytes of a stream chunk already read. The
   * next reader then waits ({@link TokenBucket.delayMs}) until the debt is paid, so the
   * average rate holds whatever the chunk sizes.
   */
  charge(n: number): void {
    this.#refill()
    this.#tokens -= n
  }

  /** Milliseconds until the bucket holds a token again (0 if it does now). */
  delayMs(): number {
    const tokens = this.tokens
    if (tokens >= 1) return 0
    return ((1 - tokens) * 1000) / this.rate
  }

  #refill(): void {
    const now = this.clock()
    const elapsed = now - this.#last
    // A clock that goes back (a test's) refills nothing and moves the origin back with it.
    if (elapsed > 0) {
      this.#tokens = Math.min(this.burst, this.#tokens + (elapsed * this.rate) / 1000)
    }
    this.#last = now
  }
}

/**
 * Resolves `true` once every bucket holds a token, or `false` when `signal` aborts first.
 * It sleeps for the longest delay (at most a second), then looks again.
 */
export async function waitForTokens(
  buckets: readonly TokenBucket[],
  signal: AbortSignal,
): Promise<boolean> {
  for (;;) {
    if (signal.aborted) return false
    let delay = 0
    for (const bucket of buckets) delay = Math.max(delay, bucket.delayMs())
    if (delay <= 0) return true
    await new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(timer)
        signal.removeEventListener('abort', done)
        resolve()
      }
      const timer = setTimeout(done, Math.min(Math.ceil(delay), maxWaitMs))
      signal.addEventListener('abort', done, { once: true })
    })
  }
}
