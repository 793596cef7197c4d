import { classifyNativeError } from './errors.js'
import type { NativeConnection } from './native.js'
import { StreamClosedError, StreamStoppedError } from './stream-errors.js'

/** Stop codes kept for streams quiche has already collected; oldest go first. */
const maxRememberedStops = 1024

/**
 * quiche collects a bidirectional stream once the peer has stopped our sending (STOP_SENDING)
 * and we have read its sending to the end, often in the very read that takes the FIN; a later
 * write then finds no stream and could only say "closed", where WebTransport reports the
 * peer's code. So a readable bidirectional stream's stop code is noted before it is read.
 */
export class StopCodes {
  /** Bidirectional streams the peer stopped (STOP_SENDING): id → the peer's code. */
  private readonly stops = new Map<number, number>()

  constructor(private readonly native: NativeConnection) {}

  /** Notes the peer's stop code of readable stream `id`, if it sent one. */
  note(id: number): void {
    // A readable unidirectional stream is the peer's: we never write to it.
    if ((id & 0x2) !== 0) return
    try {
      this.native.streamCapacity(id)
    } catch (e) {
      const err = classifyNativeError(e)
      if (err.kind !== 'stream-stopped' || this.stops.get(id) === err.code) return
      this.stops.set(id, err.code)
      if (this.stops.size > maxRememberedStops) this.stops.delete(this.stops.keys().next().value!)
    }
  }

  /** Why a write to a stream quiche no longer knows failed: the peer's stop, if it sent one. */
  goneError(id: number, message: string): Error {
    const code = this.stops.get(id)
    return code === undefined ? new StreamClosedError(message) : new StreamStoppedError(code)
  }
}
