/** Joining a client's stream to its peer's through the relay, with backpressure end to end. */
import type { BidiStream } from '@ferry/core'
import { cancelStream } from './header.js'

/**
 * Writes `header` on `target`'s writable, then splices `source` and `target` both ways:
 * `source.readable` → `target.writable`, `target.readable` → `source.writable`.
 */
export async function splice(
  header: Uint8Array,
  source: BidiStream,
  target: BidiStream,
): Promise<void> {
  if (!(await writeHeader(target.writable, header, source.readable, source.writable))) {
    cancelStream(target.readable, undefined)
    return
  }
  pipe(source.readable, target.writable)
  pipe(target.readable, source.writable)
}

/** Writes `header` first on `out`; on failure cancels the source side and returns false. */
export async function writeHeader(
  out: WritableStream<Uint8Array>,
  header: Uint8Array,
  readable: ReadableStream<Uint8Array>,
  writable?: WritableStream<Uint8Array>,
): Promise<boolean> {
  const writer = out.getWriter()
  try {
    await writer.write(header)
    return true
  } catch (error) {
    cancelStream(readable, writable, error)
    return false
  } finally {
    writer.releaseLock()
  }
}

/**
 * `from.pipeTo(to)`: backpressure end to end (it reads only while `to` wants more), a source
 * error aborts `to` with that error (a reset's code travels on), a failure of `to` cancels
 * `from` with its error (a stop travels back).
 */
export function pipe(from: ReadableStream<Uint8Array>, to: WritableStream<Uint8Array>): void {
  from.pipeTo(to).catch(() => {
    // pipeTo has already passed the failure on to the other stream; this is only its echo.
  })
}
