/**
 * Error classes of `@ferry/webtransport-node`. Tests and callers match on `.name` and `.code`,
 * never on message text.
 */

/** HTTP/3 error codes (RFC 9114 §8.1), QPACK codes (RFC 9204 §6) and WebTransport codes. */
export const H3 = {
  /** `H3_NO_ERROR`: nothing went wrong; ferry closes connections and refused CONNECTs with it. */
  NO_ERROR: 0x100,
  /** `H3_GENERAL_PROTOCOL_ERROR`: a violation no specific code fits; ferry always names one. */
  GENERAL_PROTOCOL_ERROR: 0x101,
  /** `H3_INTERNAL_ERROR`: a failure inside the stack; ferry closes with it on a bug of its own. */
  INTERNAL_ERROR: 0x102,
  /** `H3_STREAM_CREATION_ERROR`: a stream the peer may not open (push, a second control, …). */
  STREAM_CREATION_ERROR: 0x103,
  /** `H3_CLOSED_CRITICAL_STREAM`: the peer closed or reset its control or a QPACK stream. */
  CLOSED_CRITICAL_STREAM: 0x104,
  /** `H3_FRAME_UNEXPECTED`: a frame not allowed there (DATA before HEADERS, second SETTINGS). */
  FRAME_UNEXPECTED: 0x105,
  /** `H3_FRAME_ERROR`: a frame with a bad layout or size (truncated, malformed SETTINGS/GOAWAY). */
  FRAME_ERROR: 0x106,
  /** `H3_EXCESSIVE_LOAD`: the peer went over a limit (`maxFrameBytes`, SETTINGS entries, …). */
  EXCESSIVE_LOAD: 0x107,
  /** `H3_ID_ERROR`: a misused stream id (a GOAWAY id that grows, an impossible session id). */
  ID_ERROR: 0x108,
  /** `H3_SETTINGS_ERROR`: a bad SETTINGS payload (an HTTP/2-only or repeated setting). */
  SETTINGS_ERROR: 0x109,
  /** `H3_MISSING_SETTINGS`: the peer's control stream did not begin with SETTINGS. */
  MISSING_SETTINGS: 0x10a,
  /** `H3_REQUEST_REJECTED`: not processed, safe to retry (past GOAWAY, over a limit). */
  REQUEST_REJECTED: 0x10b,
  /** `H3_REQUEST_CANCELLED`: a request abandoned (ferry's own ones past a peer's GOAWAY). */
  REQUEST_CANCELLED: 0x10c,
  /** `H3_REQUEST_INCOMPLETE`: the request stream ended before a complete request. */
  REQUEST_INCOMPLETE: 0x10d,
  /** `H3_MESSAGE_ERROR`: a malformed message (extended CONNECT, capsule, structured field). */
  MESSAGE_ERROR: 0x10e,
  /** `H3_CONNECT_ERROR`: a CONNECT proxy's TCP connection failed; ferry never sends it. */
  CONNECT_ERROR: 0x10f,
  /** `H3_VERSION_FALLBACK`: retry over HTTP/1.1; ferry never sends it. */
  VERSION_FALLBACK: 0x110,
  /** RFC 9204 §6: a field section cannot be decoded; the code of every `QpackError`. */
  QPACK_DECOMPRESSION_FAILED: 0x200,
  /** RFC 9204 §6: a bad encoder instruction; never sent (ferry has no dynamic table). */
  QPACK_ENCODER_STREAM_ERROR: 0x201,
  /** RFC 9204 §6: a bad decoder instruction; never sent (ferry has no dynamic table). */
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
  /** `'Http3Error'`; each subclass sets its own, so callers match on it. */
  override readonly name: string = 'Http3Error'
  constructor(
    /** The wire error code (an {@link H3} value) the connection or stream is closed with. */
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
  /** `'Http3StreamError'`. */
  override readonly name = 'Http3StreamError'
}

/** A QPACK field section that cannot be decoded (always `QPACK_DECOMPRESSION_FAILED`). */
export class QpackError extends Http3Error {
  static override readonly name = 'QpackError'
  /** `'QpackError'`. */
  override readonly name = 'QpackError'
  constructor(message: string, options?: ErrorOptions) {
    super(H3.QPACK_DECOMPRESSION_FAILED, message, options)
  }
}

/** A configured limit was exceeded; `limit` names which one (`maxHeaderBytes`, …). */
export class LimitError extends Error {
  static override readonly name = 'LimitError'
  /** `'LimitError'`. */
  override readonly name = 'LimitError'
  /** Always `'LIMIT_EXCEEDED'`; `limit` says which limit. */
  readonly code = 'LIMIT_EXCEEDED'
  constructor(
    /**
     * The exceeded limit by name: an `Http3Limits` key (`maxHeaderBytes`) or a fixed one
     * (`maxStringListBytes`, `maxStringListMembers`).
     */
    readonly limit: string,
    message: string,
  ) {
    super(message)
  }
}

/**
 * The QUIC connection closed: the `cause` of the `WebTransportError` a session or `ready`
 * rejects with when its connection went away. `code` is the wire code of the
 * CONNECTION_CLOSE (an HTTP/3 code when `app`, else a QUIC transport code such as
 * CONNECTION_REFUSED, 0x2, which a server past its connection limits sends).
 */
export class ConnectionClosedError extends Error {
  static override readonly name = 'ConnectionClosedError'
  /** `'ConnectionClosedError'`. */
  override readonly name = 'ConnectionClosedError'
  /** The CONNECTION_CLOSE's error code; 0 for an idle timeout. */
  readonly code: number
  /** `true` for an application (HTTP/3) code, `false` for a QUIC transport code. */
  readonly app: boolean
  /** The CONNECTION_CLOSE's reason phrase. */
  readonly reason: string
  /** Who closed it: `'peer'`, `'local'`, or `'idle'` for the idle timeout. */
  readonly by: 'local' | 'peer' | 'idle'

  constructor(info: { app: boolean; code: number; reason: string; by: 'local' | 'peer' | 'idle' }) {
    const kind = info.app ? 'application' : 'transport'
    super(
      `connection closed by ${info.by} (${kind} code 0x${info.code.toString(16)}` +
        `${info.reason ? `: ${info.reason}` : ''})`,
    )
    this.code = info.code
    this.app = info.app
    this.reason = info.reason
    this.by = info.by
  }
}
