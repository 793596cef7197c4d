/**
 * The record layer's replay protection: which stream indexes the peer has opened, and which
 * datagram sequences have arrived (the rules are in `record-format.ts`).
 */
import { RecordError } from '../errors.js'

/**
 * Width of the stream index window, per class: how far behind the highest accepted index a
 * stream may still arrive (QUIC delivers streams of one class out of order, and a stream
 * the opener gave up on may never arrive at all).
 */
export const streamWindow = 4096
/** Width of the datagram replay window, as in DTLS (RFC 6347 §4.1.2.6). */
const datagramWindow = 128

/**
 * A sliding window over sequence numbers, as DTLS keeps for records (RFC 6347 §4.1.2.6):
 * the highest number marked, and which of the `width` numbers up to it were marked. Anything
 * above the highest is new; anything `width` or more below it is refused without a record,
 * so a number that never arrives is forgotten once the window has moved past it.
 */
class SlidingWindow {
  private highest = -1
  /** `seen[n % width]` for the numbers `highest - width + 1 .. highest`. */
  private readonly seen: Uint8Array

  constructor(
    private readonly width: number,
    private readonly what: string,
  ) {
    this.seen = new Uint8Array(width)
  }

  /** @throws RecordError `REPLAYED` for a number marked before or behind the window. */
  check(n: number): void {
    if (n > this.highest) return
    if (this.highest - n >= this.width) {
      throw new RecordError(
        'REPLAYED',
        `${this.what} ${n} is behind the replay window (${this.width} below ${this.highest})`,
      )
    }
    if (this.seen[n % this.width]) {
      throw new RecordError('REPLAYED', `${this.what} ${n} was already received`)
    }
  }

  /** Marks `n` (already checked) as seen, sliding the window forward if it is the highest. */
  mark(n: number): void {
    if (n > this.highest) {
      const slide = Math.min(n - this.highest, this.width)
      for (let i = 1; i <= slide; i++) this.seen[(this.highest + i) % this.width] = 0
      this.highest = n
    }
    this.seen[n % this.width] = 1
  }
}

/**
 * The stream indexes of one class the peer has opened: a {@link streamWindow}-wide sliding
 * window. An index is marked only once its stream's open record authenticated.
 */
export class StreamIndexWindow extends SlidingWindow {
  constructor() {
    super(streamWindow, 'stream index')
  }
}

/** The sliding replay window over datagram sequence numbers. */
export class DatagramWindow extends SlidingWindow {
  constructor() {
    super(datagramWindow, 'datagram')
  }
}
