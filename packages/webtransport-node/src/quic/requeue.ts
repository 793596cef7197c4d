import type { NativeConnection } from './native.js'

/** How long a written stream keeps being re-queued with quiche. */
const requeueMs = 1000
const empty = new Uint8Array(0)

/**
 * Works around quiche 0.18 dropping a stream from its send queue when a packet has no room left
 * for the stream's frame header: such a stream is only queued again by its next `stream_send`,
 * so a last chunk or a lone FIN could wait forever. An empty `stream_send` (with the FIN flag
 * once the FIN is written) puts it back in the queue and is a no-op otherwise; the connection
 * has one issued for each recently written stream after every flush.
 */
export class Requeue {
  /** Streams written recently: id → whether their FIN is written, and until when to re-queue. */
  private readonly recent = new Map<number, { fin: boolean; until: number }>()

  constructor(private readonly native: NativeConnection) {}

  /** Notes that `id` was written to, with its FIN when `finWritten`. */
  written(id: number, finWritten: boolean): void {
    const fin = (this.recent.get(id)?.fin ?? false) || finWritten
    this.recent.set(id, { fin, until: performance.now() + requeueMs })
  }

  /**
   * Re-queues every recently written stream.
   * @returns whether any stream was re-queued... conservatively `true` when any was touched.
   */
  run(): boolean {
    if (this.recent.size === 0) return false
    const now = performance.now()
    for (const [id, entry] of this.recent) {
      if (now > entry.until) {
        this.recent.delete(id)
        continue
      }
      try {
        this.native.streamSend(id, empty, entry.fin)
      } catch {
        this.recent.delete(id) // finished, reset or stopped: nothing left to send
      }
    }
    return this.recent.size > 0
  }
}
