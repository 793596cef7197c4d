/** Options of a {@link WebTransportError}, as in the W3C `WebTransportErrorOptions`. */
export interface WebTransportErrorOptions {
  /** Where the error came from. Default `'stream'`, as in the W3C constructor. */
  source?: 'stream' | 'session'
  /** The application's stream error code, or `null` (the default) when there is none. */
  streamErrorCode?: number | null
  /**
   * What caused it (not in the W3C dictionary): a `ConnectionClosedError` when the QUIC
   * connection went away, with its close code.
   */
  cause?: unknown
}

/**
 * The W3C `WebTransportError`: a `DOMException` named `WebTransportError` carrying where the
 * error came from and, for a stream reset or stop, the application's 32-bit error code.
 */
export class WebTransportError extends DOMException {
  /** `'stream'` for a failure of one stream, `'session'` for one of the whole session. */
  readonly source: 'stream' | 'session'
  /**
   * The 32-bit code the peer's RESET_STREAM or STOP_SENDING carried, or `null` when the error
   * did not come from one.
   */
  readonly streamErrorCode: number | null

  constructor(message = '', options: WebTransportErrorOptions = {}) {
    super(message, 'WebTransportError')
    // Set as `new Error(m, { cause })` would: own, non-enumerable (the DOMException types of
    // TypeScript's lib take a name, not an options bag).
    if (options.cause !== undefined) {
      Object.defineProperty(this, 'cause', {
        value: options.cause,
        writable: true,
        configurable: true,
      })
    }
    this.source = options.source ?? 'stream'
    this.streamErrorCode = options.streamErrorCode ?? null
  }
}
