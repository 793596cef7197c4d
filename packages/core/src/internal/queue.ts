/**
 * An unbounded-by-type but caller-bounded FIFO with async `shift()`: producers `push`, one or
 * more consumers await items in order. `end(error?)` wakes every waiter: with `undefined` when
 * ended cleanly, or with the error.
 */
export class AsyncQueue<T> {
  private readonly items: T[] = []
  private readonly waiters: {
    resolve: (v: T | undefined) => void
    reject: (e: Error) => void
  }[] = []
  private ended = false
  private error: Error | undefined = undefined

  /** Items waiting for a consumer. */
  get size(): number {
    return this.items.length
  }

  /** Whether `end` was called. */
  get isEnded(): boolean {
    return this.ended
  }

  /** Adds an item; returns false (and drops it) once the queue has ended. */
  push(item: T): boolean {
    if (this.ended) return false
    const waiter = this.waiters.shift()
    if (waiter) waiter.resolve(item)
    else this.items.push(item)
    return true
  }

  /** Items as they come, until the queue ends (cleanly or with an error) and drains. */
  async *values(): AsyncGenerator<T, void, undefined> {
    for (;;) {
      const item = await this.shift().catch(() => undefined)
      if (item === undefined) return
      yield item
    }
  }

  /** The next item; `undefined` once ended and drained; rejects if ended with an error. */
  shift(): Promise<T | undefined> {
    if (this.items.length > 0) return Promise.resolve(this.items.shift())
    if (this.ended) {
      return this.error === undefined ? Promise.resolve(undefined) : Promise.reject(this.error)
    }
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }))
  }

  /** Removes the oldest waiting item (a bounded producer's way to make room). */
  dropOldest(): T | undefined {
    return this.items.shift()
  }

  /** Removes and returns every waiting item. */
  drain(): T[] {
    return this.items.splice(0)
  }

  /** Ends the queue; pending and future `shift()` calls see the end (or `error`). */
  end(error?: Error): void {
    if (this.ended) return
    this.ended = true
    this.error = error
    for (const w of this.waiters.splice(0)) {
      if (error === undefined) w.resolve(undefined)
      else w.reject(error)
    }
  }
}
