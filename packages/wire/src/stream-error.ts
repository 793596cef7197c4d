/**
 * The application error code of a WebTransport stream reset or stop, read from the reason a
 * stream was aborted or cancelled with.
 */

/**
 * The application error code that an abort or cancel `reason` carries: its `streamErrorCode`
 * when that is an integer in `[0, 2^32 - 1]` (a W3C `WebTransportError`, or any object shaped
 * like one), else 0, the code the W3C WebTransport spec resets or stops a stream with for any
 * other reason.
 */
export function streamErrorCodeOf(reason: unknown): number {
  if (reason !== null && typeof reason === 'object' && 'streamErrorCode' in reason) {
    const code = reason.streamErrorCode
    if (typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 0xffffffff) {
      return code
    }
  }
  return 0
}
