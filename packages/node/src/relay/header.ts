/**
 * Reading the header every `ferry-relay/1` stream starts with, and handing on the rest of the
 * stream untouched (see `@ferry/core`'s relay `frames.ts` for the layout).
 */
import { ByteReader, DecodeError } from '@ferry/core'
import { decodeHeader, prepend, type StreamHeader } from '@ferry/core/internal'

/** Why a stream's header could not be read. */
export type HeaderFailure =
  /** No whole header arrived within the timeout. */
  | { reason: 'timeout'; partial: Uint8Array }
  /** The bytes are no header (`TOO_LARGE`, `INVALID`, …), or the stream ended inside one. */
  | { reason: 'decode'; error: DecodeError; partial: Uint8Array }
  /** The stream itself failed (a reset, the session ended). */
  | { reason: 'stream'; error: unknown; partial: Uint8Array }

/** What {@link readHeader} gives back, with the reader it holds on the original stream. */
export type HeaderResult = { reader: ReadableStreamDefaultReader<Uint8Array> } & (
  | {
      ok: true
      header: StreamHeader
      /**
       * The stream after its header: the bytes that came in the header's chunks first, then
       * the rest, pulled on demand (so a consumer's backpressure reaches the sender).
       * Cancelling it cancels the original stream.
       */
      rest: ReadableStream<Uint8Array>
    }
  | ({ ok: false } & HeaderFailure)
)

/**
 * Reads the header at the start of `readable` within `timeoutMs`. On success the caller owns
 * `rest`; on failure `readable` is still locked and not cancelled (the caller decides how: see
 * {@link cancelStream}, which takes the original streams).
 *
 * Chunks are joined until {@link decodeHeader} sees a whole header, so at most
 * `maxHeaderBytes` plus one chunk is ever held.
 */
export async function readHeader(
  readable: ReadableStream<Uint8Array>,
  timeoutMs: number,
): Promise<HeaderResult> {
  const reader = readable.getReader()
  let buffered: Uint8Array = new Uint8Array(0)
  let timer: ReturnType<typeof setTimeout> | undefined
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), timeoutMs)
  })
  try {
    for (;;) {
      let parsed: ReturnType<typeof decodeHeader>
      try {
        parsed = decodeHeader(buffered)
      } catch (error) {
        if (!(error instanceof DecodeError)) throw error
        return { ok: false, reason: 'decode', error, partial: buffered, reader }
      }
      if (parsed) {
        const rest = prepend(buffered.slice(parsed.length), reader)
        return { ok: true, header: parsed.header, rest, reader }
      }
      let result: ReadableStreamReadResult<Uint8Array> | 'timeout'
      try {
        // A read that loses the race stays pending until the caller cancels the stream, which
        // settles it; Promise.race has handled its outcome either way.
        result = await Promise.race([reader.read(), timeout])
      } catch (error) {
        return { ok: false, reason: 'stream', error, partial: buffered, reader }
      }
      if (result === 'timeout') return { ok: false, reason: 'timeout', partial: buffered, reader }
      if (result.done) {
        const error = new DecodeError('TRUNCATED', 'the stream ended inside its header')
        return { ok: false, reason: 'decode', error, partial: buffered, reader }
      }
      buffered = join(buffered, result.value)
    }
  } finally {
    clearTimeout(timer)
  }
}

function join(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length === 0) return b
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/**
 * The connection id of a CONNECT header that did not decode (too large, cut short by the
 * timeout, or with a bad field), when its first bytes name one; `undefined` otherwise.
 */
export function partialConnectConn(partial: Uint8Array): number | undefined {
  if (partial[0] !== 1) return undefined
  try {
    return new ByteReader(partial.subarray(1)).varint()
  } catch {
    // Not even the id arrived whole: there is no connection to tell the client about.
    return undefined
  }
}

/**
 * Stops a stream the relay refuses: cancels what the client sends and resets what it would
 * read, both with `reason` (its `streamErrorCode` if it has one, else code 0). Never throws.
 */
export function cancelStream(
  readable: ReadableStream<Uint8Array> | ReadableStreamDefaultReader<Uint8Array>,
  writable: WritableStream<Uint8Array> | undefined,
  reason?: unknown,
): void {
  // Both fail only for a stream that already failed, which is the state wanted here.
  readable.cancel(reason).catch(() => {})
  if (writable && !writable.locked) writable.abort(reason).catch(() => {})
}
