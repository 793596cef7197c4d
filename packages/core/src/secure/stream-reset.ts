/**
 * Stream resets on an encrypted connection: the error a reader sees for the peer's
 * authenticated reset record, and for a reset only the transport reported (the format is in
 * `record-format.ts`).
 */
import { RecordError } from '../errors.js'

/**
 * The error of a read when the peer's reset record authenticated: the shape every transport
 * gives a reset stream (W3C `WebTransportError`, `source: 'stream'`, the peer's
 * `streamErrorCode`), so an application reads the code the same way on every path. The
 * platform's own `WebTransportError` where it has one.
 */
export function authenticatedResetError(code: number): Error {
  const message = `stream reset by peer with code ${code}`
  const Native = (globalThis as { WebTransportError?: new (...args: unknown[]) => Error })
    .WebTransportError
  if (typeof Native === 'function') {
    // Browsers take the earlier one-dictionary form, and only an octet code; the W3C form is
    // (message, options). Whichever keeps the code is used, else the plain shape below.
    const forms = [
      () => new Native({ message, source: 'stream', streamErrorCode: code }),
      () => new Native(message, { source: 'stream', streamErrorCode: code }),
    ]
    for (const make of forms) {
      try {
        const native = make()
        if ((native as { streamErrorCode?: unknown }).streamErrorCode === code) return native
      } catch {
        // This engine's constructor takes the other form.
      }
    }
  }
  const error = new Error(message)
  error.name = 'WebTransportError'
  return Object.assign(error, { source: 'stream' as const, streamErrorCode: code })
}

/**
 * What an error of a transport stream becomes on an encrypted stream: a stream reset, or on
 * the writing side a stop (`source: 'stream'`, or a `streamErrorCode`), is a `RecordError`
 * `RESET` with the transport's error as its cause, since anyone on the path can reset or stop
 * a stream; anything else (the session ended, the reader's own cancel) passes as it is.
 */
export function transportResetError(error: unknown, what: 'reset' | 'stopped' = 'reset'): unknown {
  if (error === null || typeof error !== 'object' || error instanceof RecordError) return error
  const { source, streamErrorCode } = error as { source?: unknown; streamErrorCode?: unknown }
  if (source !== 'stream' && typeof streamErrorCode !== 'number') return error
  const code = typeof streamErrorCode === 'number' ? ` (transport code ${streamErrorCode})` : ''
  return new RecordError(
    'RESET',
    what === 'reset'
      ? `the transport reset the stream${code} without the peer's authenticated reset record`
      : `the transport stopped the stream${code}: STOP_SENDING is not authenticated`,
    { cause: error },
  )
}
