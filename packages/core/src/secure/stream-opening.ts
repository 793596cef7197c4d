/**
 * The opening of a stream the peer opened: its preamble and its open record, read before the
 * stream may reach the application (the format is in `record-format.ts`).
 */
import { RecordError } from '../errors.js'
import { concat } from '../internal/bytes.js'
import {
  closeRecord,
  closeRecordLengths,
  headerLength,
  openRecord,
  tagLength,
} from './record-format.js'
import { decodeIndex } from './stream-preamble.js'

/** A stream's opening, parsed but not yet authenticated. */
export interface Opening {
  /**
   * `'open'` for a stream's open record; `'close'` for a close record, which only a uni
   * stream of its own carries (the caller checks that).
   */
  kind: 'open' | 'close'
  /** The stream index from the preamble. */
  index: number
  /** The open record's 4 header bytes (its additional data), a copy. */
  header: Uint8Array
  /** The record's ciphertext (an open record's is the tag of its empty plaintext), a copy. */
  tag: Uint8Array
  /** The bytes after the record: a view of the transport's chunk. */
  rest: Uint8Array
}

/**
 * Reads a stream's preamble and open record (or close record). It buffers at most one
 * transport chunk beyond the 1056 bytes an opening can take (a close record with the
 * longest reason). On failure the transport readable is cancelled with the
 * error, and its lock released.
 *
 * @throws RecordError `MALFORMED` (a bad preamble, or no open record header after it) or
 *   `TRUNCATED` (the stream ended inside its opening). An error of the transport readable,
 *   or the signal's reason, is passed on as it is.
 */
export async function readOpening(
  readable: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<Opening> {
  const reader = readable.getReader()
  let onAbort: (() => void) | undefined
  // Rejects with the signal's reason, as it is (whatever the caller aborted with).
  const aborted = new Promise<void>((resolve) => {
    if (!signal) return
    onAbort = () => resolve()
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', onAbort, { once: true })
  }).then((): never => {
    throw signal?.reason
  })
  // Raced below; when it loses, its later rejection is not an error.
  aborted.catch(() => undefined)
  try {
    let pending: Uint8Array = new Uint8Array(0)
    for (;;) {
      const preamble = decodeIndex(pending)
      if (preamble && pending.length >= preamble.length + headerLength) {
        const at = preamble.length
        const header = pending.slice(at, at + headerLength)
        const length = (header[1]! << 16) | (header[2]! << 8) | header[3]!
        const isOpen = header[0] === openRecord && length === tagLength
        const isClose =
          header[0] === closeRecord &&
          length >= closeRecordLengths.min &&
          length <= closeRecordLengths.max
        if (!isOpen && !isClose) {
          throw new RecordError(
            'MALFORMED',
            'the stream preamble is not followed by an open record or a close record',
          )
        }
        const end = at + headerLength + length
        if (pending.length >= end) {
          reader.releaseLock()
          return {
            kind: isOpen ? 'open' : 'close',
            index: preamble.index,
            header,
            tag: pending.slice(at + headerLength, end),
            rest: pending.subarray(end),
          }
        }
      }
      const { value, done } = await Promise.race([reader.read(), aborted])
      if (done) throw new RecordError('TRUNCATED', 'the stream ended inside its opening')
      if (!(value instanceof Uint8Array)) {
        throw new TypeError('the transport stream gave a chunk that is not a Uint8Array')
      }
      // Rarely more than one chunk: copy only then.
      pending = pending.length === 0 ? value : concat(pending, value)
    }
  } catch (error) {
    // The cancel settles any pending read, so the lock can go. Its own failure (the stream
    // already errored) changes nothing: the caller gets `error`.
    await reader.cancel(error).catch(() => undefined)
    reader.releaseLock()
    throw error
  } finally {
    if (signal && onAbort) signal.removeEventListener('abort', onAbort)
  }
}
