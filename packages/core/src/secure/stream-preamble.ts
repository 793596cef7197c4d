/**
 * The stream preamble of the record layer: the stream index as the shortest QUIC varint,
 * written first by the side that opened the stream (the format is in `record-format.ts`).
 */
import { VarintError, encodeVarint, readVarint } from '@ferry/wire'
import { RecordError } from '../errors.js'
import { concat } from '../internal/bytes.js'
import { maxStreamsPerClass } from './record-format.js'

/** A preamble has one encoding per index: shortest form only, and below 2^24. */
const preambleRule = { minimal: true, max: maxStreamsPerClass - 1 } as const

/**
 * A stream preamble: the index as the shortest QUIC varint (< 2^24, so at most 4 bytes).
 * @throws {RangeError} if `index` is not a non-negative integer.
 */
export function encodeIndex(index: number): Uint8Array {
  return encodeVarint(index)
}

/**
 * Parses a preamble at the start of `bytes`: `undefined` while more bytes are needed.
 *
 * @throws RecordError `MALFORMED` for a non-minimal varint or an index >= 2^24.
 */
export function decodeIndex(bytes: Uint8Array): { index: number; length: number } | undefined {
  let parsed: [number, number] | undefined
  try {
    parsed = readVarint(bytes, 0, preambleRule)
  } catch (e) {
    if (!(e instanceof VarintError)) throw e
    const problem = e.code === 'TOO_LARGE' ? 'an index not below 2^24' : 'a non-minimal varint'
    throw new RecordError('MALFORMED', `stream preamble: ${problem}`, { cause: e })
  }
  return parsed && { index: parsed[0], length: parsed[1] }
}

/**
 * Reads a stream preamble: the index and the bytes after it (a view of the transport's
 * chunk). On failure the transport readable is cancelled with the error.
 */
export async function readPreamble(
  readable: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<{ index: number; rest: Uint8Array }> {
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
      const parsed = decodeIndex(pending)
      if (parsed) {
        reader.releaseLock()
        return { index: parsed.index, rest: pending.subarray(parsed.length) }
      }
      const { value, done } = await Promise.race([reader.read(), aborted])
      if (done) throw new RecordError('TRUNCATED', 'the stream ended inside its preamble')
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
