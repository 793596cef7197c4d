/**
 * The timers that protocol deadlines (such as a request's header deadline) run on. They go
 * through this object, not straight to `setTimeout`, so that a test can take them over
 * (`vi.spyOn(timers, 'set')`) and fire a deadline itself while the QUIC connections under test
 * keep their real timers.
 */
export const timers = {
  /** Calls `fn` after `ms`; the timer does not keep the process alive. Returns its handle. */
  set(fn: () => void, ms: number): unknown {
    const timer = setTimeout(fn, ms)
    timer.unref()
    return timer
  },
  /** Cancels a timer `set` returned. */
  clear(handle: unknown): void {
    clearTimeout(handle as NodeJS.Timeout)
  },
}
