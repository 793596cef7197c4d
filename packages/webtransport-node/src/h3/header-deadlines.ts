import { timers } from '../internal/timers.js'

/**
 * A deadline per request stream for its header section (the whole HEADERS frame; for a
 * WebTransport CONNECT, the request). Without one, a peer that sends half a HEADERS frame holds
 * the stream and its buffered bytes until the connection's idle timeout, and can do so on every
 * stream it may open. `expired` hears of a stream whose headers did not arrive in time; the
 * caller resets it.
 */
export class HeaderDeadlines {
  private readonly pending = new Map<number, unknown>()

  /** @throws {RangeError} if `ms` is not a positive safe integer. */
  constructor(
    private readonly ms: number,
    private readonly expired: (id: number) => void,
  ) {
    if (!Number.isSafeInteger(ms) || ms <= 0) {
      throw new RangeError('headerTimeoutMs must be a positive integer')
    }
  }

  /** Deadlines running. */
  get size(): number {
    return this.pending.size
  }

  /** Starts the deadline of stream `id`, unless it is already running. */
  start(id: number): void {
    if (this.pending.has(id)) return
    const handle = timers.set(() => {
      this.pending.delete(id)
      this.expired(id)
    }, this.ms)
    this.pending.set(id, handle)
  }

  /** Stream `id` needs no deadline any more (its headers arrived, or it is gone). */
  stop(id: number): void {
    const handle = this.pending.get(id)
    if (handle === undefined) return
    this.pending.delete(id)
    timers.clear(handle)
  }

  /** Stops every deadline (the connection is gone). */
  clear(): void {
    for (const id of [...this.pending.keys()]) this.stop(id)
  }
}
