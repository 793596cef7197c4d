/**
 * Joining a client's stream to its peer's through the relay, with backpressure end to end and
 * each direction paced by its sender's byte buckets (see `limits.ts`).
 */
import type { BidiStream } from '@ferry/core'
import { cancelStream } from './header.js'
import type { Flow, StreamTicket } from './limits.js'
import { waitForTokens } from './token-bucket.js'

/**
 * Writes `header` on `target`'s writable, then splices `source` and `target` both ways:
 * `source.readable` → `target.writable` paced by `flows.out`, `target.readable` →
 * `source.writable` paced by `flows.back`. Releases `ticket` once both directions are done.
 */
export async function splice(
  header: Uint8Array,
  source: BidiStream,
  target: BidiStream,
  flows: { out: Flow; back: Flow },
  ticket: StreamTicket,
): Promise<void> {
  if (!(await writeHeader(target.writable, header, source.readable, source.writable))) {
    cancelStream(target.readable, undefined)
    ticket.release()
    return
  }
  const done = [
    pump(source.readable, target.writable, flows.out),
    pump(target.readable, source.writable, flows.back),
  ]
  void Promise.all(done).then(() => ticket.release())
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
 * Copies `from` to `to` as `pipeTo` does — it reads only while `to` wants more (its writer is
 * ready) and `flow`'s buckets hold tokens, so a slow reader or a spent rate slows the sender
 * and nothing queues here; a source error aborts `to` with that error (a reset's code travels
 * on); a failure of `to` cancels `from` with its error (a stop travels back). Resolves once
 * the copy is over, whichever way; never rejects.
 */
export async function pump(
  from: ReadableStream<Uint8Array>,
  to: WritableStream<Uint8Array>,
  flow: Flow,
): Promise<void> {
  const reader = from.getReader()
  const writer = to.getWriter()
  const stop = new AbortController()
  // Either side failing stops the other at once, even while the loop waits on something else.
  reader.closed.then(
    () => {},
    (error: unknown) => {
      stop.abort()
      writer.abort(error).catch(() => {})
    },
  )
  writer.closed.then(
    () => {},
    (error: unknown) => {
      stop.abort()
      reader.cancel(error).catch(() => {})
    },
  )
  try {
    for (;;) {
      await writer.ready
      if (!(await waitForTokens(flow.buckets, stop.signal))) return
      const { done, value } = await reader.read()
      if (done) {
        await writer.close()
        return
      }
      flow.read(value.length)
      writer.write(value).then(
        () => flow.written(value.length),
        () => {
          // The writer failed; `writer.closed` has passed that on to the source.
        },
      )
    }
  } catch {
    // A side failed; the handlers above have passed the failure on to the other side.
  } finally {
    stop.abort()
  }
}
