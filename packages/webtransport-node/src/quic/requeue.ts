import type { NativeConnection } from './native.js'

/** How long a written stream keeps being re-queued with quiche. */
const requeueMs = 1000
/** The shortest and the longest gap between two re-queues of one stream. */
const minGapMs = 1
const maxGapMs = 64
const empty = new Uint8Array(0)

interface Entry {
  /** Its FIN is written. */
  fin: boolean
  /** When it was last written to. */
  wroteAt: number
  /** When it is re-queued next. */
  next: number
}

/**
 * Works around quiche 0.18 dropping a stream from its send queue when a packet has no room left
 * for the stream's frame header: such a stream is only queued again by its next `stream_send`,
 * so a last chunk or a lone FIN could wait forever. An empty `stream_send` (with the FIN flag
 * once the FIN is written) puts it back in the queue.
 *
 * For a stream with data left to send, that call is a no-op unless the stream was dropped. For a
 * stream whose FIN is written it is not: quiche queues the empty FIN again even after sending
 * it, and sends it again. So a stream is re-queued on a schedule that thins out from its last
 * write — at once, then after 1, 2, 4 … 64 ms, then every 64 ms, for a second — rather than
 * after every flush: a dropped stream waits at most as long again as it has been since its last
 * write, and never more than 64 ms; and a connection with many finished streams sends 22
 * duplicate FINs for each, not one per stream per packet it receives (hundreds of streams made
 * that a flood of tiny packets).
 */
export class Requeue {
  /** Streams written recently. */
  private readonly recent = new Map<number, Entry>()

  constructor(
    private readonly native: Pick<NativeConnection, 'streamSend'>,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Notes that `id` was written to, with its FIN when `finWritten`. */
  written(id: number, finWritten: boolean): void {
    const fin = (this.recent.get(id)?.fin ?? false) || finWritten
    const now = this.now()
    this.recent.set(id, { fin, wroteAt: now, next: now })
  }

  /**
   * Re-queues the streams whose turn it is, and forgets those written more than a second ago.
   * @returns whether any stream was re-queued (a flush may then find more to send).
   */
  run(): boolean {
    if (this.recent.size === 0) return false
    const now = this.now()
    let requeued = false
    for (const [id, entry] of this.recent) {
      const age = now - entry.wroteAt
      if (age > requeueMs) {
        this.recent.delete(id)
        continue
      }
      if (now < entry.next) continue
      entry.next = now + Math.min(maxGapMs, Math.max(minGapMs, age))
      try {
        this.native.streamSend(id, empty, entry.fin)
        requeued = true
      } catch {
        this.recent.delete(id) // finished, reset or stopped: nothing left to send
      }
    }
    return requeued
  }
}
