/**
 * Error classes of `@ferry/webtransport-node`. Tests and callers match on `.name` and `.code`,
 * never on message text.
 */

/** HTTP/3 error codes (RFC 9114 §8.1), QPACK codes (RFC 9204 §6) and WebTransport codes. */
export const H3 = {
  NO_ERROR: 0x100,
  GENERAL_PROTOCOL_ERROR: 0x101,
  INTERNAL_ERROR: 0x102,
  STREAM_CREATION_ERROR: 0x103,
  CLOSED_CRITICAL_STREAM: 0x104,
  FRAME_UNEXPECTED: 0x105,
  FRAME_ERROR: 0x106,
  EXCESSIVE_LOAD: 0x107,
  ID_ERROR: 0x108,
  SETTINGS_ERROR: 0x109,
  MISSING_SETTINGS: 0x10a,
  REQUEST_REJECTED: 0x10b,
  REQUEST_CANCELLED: 0x10c,
  REQUEST_INCOMPLETE: 0x10d,
  MESSAGE_ERROR: 0x10e,
  CONNECT_ERROR: 0x10f,
  VERSION_FALLBACK: 0x110,
  QPACK_DECOMPRESSION_FAILED: 0x200,
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  QPACK_DECODER_STREAM_ERROR: 0x202,
  /** draft-ietf-webtrans-http3: a stream arrived for a session that no longer exists. */
  WT_SESSION_GONE: 0x170d7b68,
  /** draft-ietf-webtrans-http3: a stream was buffered too long waiting for its session. */
  WT_BUFFERED_STREAM_REJECTED: 0x3994bd84,
} as const

/**
 * A violation of HTTP/3, QPACK or WebTransport framing. `code` is the wire error code that the
 * spec names for it (see {@link H3}); the connection or stream is closed with that code.
 */
export class Http3Error extends Error {
  static override readonly name: string = 'Http3Error'
  override readonly name: string = 'Http3Error'
  constructor(
    readonly code: number,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options)
  }
}

/** An HTTP/3 error confined to one request stream: that stream is reset, the connection lives. */
export class Http3StreamError extends Http3Error {
  static override readonly name = 'Http3StreamError'
  override readonly name = 'Http3StreamError'
}

/** A QPACK field section that cannot be decoded (always `QPACK_DECOMPRESSION_FAILED`). */
export class QpackError extends Http3Error {
  static override readonly name = 'QpackError'
  override readonly name = 'QpackError'
  constructor(message: string, options?: ErrorOptions) {
    super(H3.QPACK_DECOMPRESSION_FAILED, message, options)
  }
}

/** A configured limit was exceeded; `limit` names which one (`maxHeaderBytes`, …). */
export class LimitError extends Error {
  static override readonly name = 'LimitError'
  override readonly name = 'LimitError'
  readonly code = 'LIMIT_EXCEEDED'
  constructor(
    readonly limit: string,
    message: string,
  ) {
    super(message)
  }
}
