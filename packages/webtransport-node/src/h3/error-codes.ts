import { H3 } from '../errors.js'

/** Every HTTP/3, QPACK and WebTransport error code this package defines (see {@link H3}). */
const known = new Set<number>(Object.values(H3))

/**
 * Whether an application error code closing a connection means "no error": `H3_NO_ERROR`
 * itself, or a code we do not know — RFC 9114 §9: "Implementations MUST treat unknown or
 * unsupported values [of error codes] as H3_NO_ERROR", which is what a GREASE code (§8.1,
 * `0x1f * N + 0x21`) or another implementation's private code is.
 */
export function meansNoError(code: number): boolean {
  return code === H3.NO_ERROR || !known.has(code)
}
