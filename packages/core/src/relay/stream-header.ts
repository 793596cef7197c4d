/** Reading the header at the start of a stream on a relay session (see `frames.ts`). */
import { DecodeError } from '../errors.js'
import { concat } from '../internal/bytes.js'
import { decodeHeader, type StreamHeader } from './frames.js'

/** A stream's header, and its readable from the first byte after the header on. */
export interface HeaderedStream {
  header: StreamHeader
  readable: ReadableStream<Uint8Array>
}

/**
 * Reads the header at the start of `readable`. The returned readable yields what follows it
 * (the rest of the chunk that ended the header first), pulling from the original one as its
 * reader pulls, so backpressure holds. On failure `readable` is cancelled with the error.
 *
 * @throws {DecodeError} for a header that does not decode or is too large; `TRUNCATED` when
 *   the stream ends inside its header. An error of the stream, or the signal's reason, is
 *   passed on as it is.
 */
export async function readStreamHeader(
  readable: ReadableStream<Uint8Array>,
  signal?: AbortSignal,
): Promise<HeaderedStream> {
  const reader = readable.getReader()
  const onAbort = (): void => void reader.cancel(signal?.reason).catch(() => undefined)
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    let pending: Uint8Array = new Uint8Array(0)
    for (;;) {
      signal?.throwIfAborted()
      const decoded = pending.length > 0 ? decodeHeader(pending) : undefined
      if (decoded) {
        return {
          header: decoded.header,
          readable: prepend(pending.subarray(decoded.length), reader),
        }
      }
      const { value, done } = await reader.read()
      signal?.throwIfAborted()
      if (done) throw new DecodeError('TRUNCATED', 'the stream ended inside its header')
      pending = pending.length === 0 ? value : concat(pending, value)
    }
  } catch (error) {
    await reader.cancel(error).catch(() => undefined)
    reader.releaseLock()
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
  }
}

/**
 * A stream of `first` (if not empty), then what `reader` yields. Pull-based with no queue of
 * its own, so it reads from `reader` only as fast as its consumer reads; a failure of `reader`
 * errors it with the same error (so a reset's `streamErrorCode` travels on). Cancelling it
 * cancels `reader`.
 */
export function prepend(
  first: Uint8Array,
  reader: ReadableStreamDefaultReader<Uint8Array>,
): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>(
    {
      start(controller) {
        if (first.length > 0) controller.enqueue(first)
      },
      async pull(controller) {
        const result = await reader.read()
        if (result.done) controller.close()
        else controller.enqueue(result.value)
      },
      cancel: (reason) => reader.cancel(reason),
    },
    { highWaterMark: 0 },
  )
}
