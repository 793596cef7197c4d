/**
 * The record layer's replay protection: which stream indexes the peer has opened, and which
 * datagram sequences have arrived (the rules are in `record-format.ts`).
 */
import { RecordError } from '../errors.js'

/** Accepted stream indexes remembered above the low-water mark, per class. */
const maxIndexesAboveMark = 4096
/** Width of the datagram replay window, as in DTLS (RFC 6347 §4.1.2.6). */
const datagramWindow = 128

/** The stream indexes of one class the peer has opened: a low-water mark and a set above it. */
export class AcceptedIndexes {
  private mark = 0
  private readonly above = new Set<number>()

  /** Records `index` as accepted. @throws RecordError `REPLAYED` or `TOO_LARGE`. */
  accept(index: number): void {
    if (index < this.mark || this.above.has(index)) {
      throw new RecordError('REPLAYED', `stream index ${index} was already accepted`)
    }
    if (index === this.mark) {
      this.mark++
      while (this.above.delete(this.mark)) this.mark++
      return
    }
    if (this.above.size >= maxIndexesAboveMark) {
      throw new RecordError(
        'TOO_LARGE',
        `stream index ${index}: already ${maxIndexesAboveMark} indexes accepted above ${this.mark}, which has not arrived`,
      )
    }
    this.above.add(index)
  }
}

/** The sliding replay window over datagram sequence numbers. */
export class DatagramWindow {
  private highest = -1
  /** `seen[s % 128]` for the sequences `highest - 127 .. highest`. */
  private readonly seen = new Uint8Array(datagramWindow)

  /** @throws RecordError `REPLAYED` for a duplicate or a sequence behind the window. */
  check(sequence: number): void {
    if (sequence > this.highest) return
    if (this.highest - sequence >= datagramWindow) {
      throw new RecordError('REPLAYED', `datagram ${sequence} is behind the replay window`)
    }
    if (this.seen[sequence % datagramWindow]) {
      throw new RecordError('REPLAYED', `datagram ${sequence} was already received`)
    }
  }

  /** Marks an authenticated `sequence` (already checked) as seen. */
  mark(sequence: number): void {
    if (sequence > this.highest) {
      const slide = Math.min(sequence - this.highest, datagramWindow)
      for (let i = 1; i <= slide; i++) this.seen[(this.highest + i) % datagramWindow] = 0
      this.highest = sequence
    }
    this.seen[sequence % datagramWindow] = 1
  }
}
