/** A WebTransport stream held until its session exists. */
export interface HeldStream {
  readonly id: number
  /** The bytes read past the stream's prefix (a copy). */
  readonly leftover: Uint8Array
  /** Whether the stream ended within `leftover`. */
  readonly fin: boolean
}

/** Options of {@link EarlyStreams}. */
export interface EarlyStreamsOptions {
  /** Streams held at once, over all sessions; {@link EarlyStreams.hold} refuses more. */
  maxStreams: number
  /** How long one stream is held before `expired` hears of it. */
  holdMs: number
  /** A stream whose session did not appear in time; it is no longer held. */
  expired(stream: HeldStream): void
}

/**
 * Streams that name a session whose CONNECT has not arrived or not been accepted yet
 * (draft-ietf-webtrans-http3 §4.6, "Buffering Incoming Streams"): the peer may open them in the
 * same flight as the request. Bounded in number and in time. Only the prefix was read from such
 * a stream; the rest waits in quiche, under flow control.
 */
export class EarlyStreams {
  private readonly bySession = new Map<number, Map<number, HeldStream>>()
  private readonly timers = new Map<number, { sessionId: number; timer: NodeJS.Timeout }>()

  /** @throws {RangeError} if `maxStreams` or `holdMs` is not a non-negative integer. */
  constructor(private readonly options: EarlyStreamsOptions) {
    for (const name of ['maxStreams', 'holdMs'] as const) {
      const value = options[name]
      if (!Number.isSafeInteger(value) || value < 0) {
        throw new RangeError(`${name} must be a non-negative integer`)
      }
    }
  }

  /** Streams held now. */
  get size(): number {
    return this.timers.size
  }

  /** Whether stream `id` is held. */
  has(id: number): boolean {
    return this.timers.has(id)
  }

  /** Holds `stream` for session `sessionId`; returns `false` (holding nothing) when full. */
  hold(sessionId: number, stream: HeldStream): boolean {
    if (this.timers.size >= this.options.maxStreams) return false
    const held = this.bySession.get(sessionId) ?? new Map<number, HeldStream>()
    held.set(stream.id, stream)
    this.bySession.set(sessionId, held)
    const timer = setTimeout(() => this.expire(stream.id), this.options.holdMs)
    // Holding a stream must not keep the process alive.
    timer.unref()
    this.timers.set(stream.id, { sessionId, timer })
    return true
  }

  /** Takes every stream held for `sessionId`, in arrival order. */
  take(sessionId: number): HeldStream[] {
    const held = this.bySession.get(sessionId)
    if (!held) return []
    this.bySession.delete(sessionId)
    for (const id of held.keys()) this.release(id)
    return [...held.values()]
  }

  /** Lets go of every stream without telling anyone (the connection is gone). */
  clear(): void {
    for (const id of [...this.timers.keys()]) this.release(id)
    this.bySession.clear()
  }

  private release(id: number): void {
    const entry = this.timers.get(id)
    if (!entry) return
    clearTimeout(entry.timer)
    this.timers.delete(id)
  }

  private expire(id: number): void {
    const entry = this.timers.get(id)
    if (!entry) return
    this.timers.delete(id)
    const held = this.bySession.get(entry.sessionId)
    const stream = held?.get(id)
    held?.delete(id)
    if (held?.size === 0) this.bySession.delete(entry.sessionId)
    if (stream) this.options.expired(stream)
  }
}
