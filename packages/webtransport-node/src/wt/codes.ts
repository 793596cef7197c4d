/**
 * WebTransport application error codes (32 bits) carried in HTTP/3 error codes
 * (draft-ietf-webtrans-http3 §4.6; draft-02 §4.3). The codes occupy
 * `[0x52e4a40fa8db, 0x52e5ac983162]`, skipping the reserved (GREASE) codepoints
 * `0x1f * N + 0x21` that fall inside it: one after every 30 application codes.
 */

/** The HTTP/3 error code of WebTransport application error code 0. */
export const WT_APPLICATION_ERROR_FIRST = 0x52e4a40fa8db
/** The HTTP/3 error code of WebTransport application error code 2^32 − 1. */
export const WT_APPLICATION_ERROR_LAST = 0x52e5ac983162

/**
 * The HTTP/3 error code (for RESET_STREAM / STOP_SENDING) that carries WebTransport
 * application error `code`.
 *
 * @throws {RangeError} if `code` is not an integer in `[0, 2^32-1]`.
 */
export function webtransportToHttp3(code: number): number {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff_ffff) {
    throw new RangeError(`code must be an integer in [0, 2^32-1], got ${code}`)
  }
  return WT_APPLICATION_ERROR_FIRST + code + Math.floor(code / 0x1e)
}

/**
 * The WebTransport application error code an HTTP/3 error code carries, or `null` if it carries
 * none (outside the range, or a reserved codepoint inside it).
 */
export function http3ToWebtransport(h3code: number): number | null {
  if (
    !Number.isSafeInteger(h3code) ||
    h3code < WT_APPLICATION_ERROR_FIRST ||
    h3code > WT_APPLICATION_ERROR_LAST ||
    (h3code - 0x21) % 0x1f === 0
  ) {
    return null
  }
  const shifted = h3code - WT_APPLICATION_ERROR_FIRST
  return shifted - Math.floor(shifted / 0x1f)
}
