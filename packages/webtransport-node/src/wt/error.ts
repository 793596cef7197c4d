/** Options of a {@link WebTransportError}, as in the W3C `WebTransportErrorOptions`. */
export interface WebTransportErrorOptions {
  /** Where the error came from. Default `'stream'`, as in the W3C constructor. */
  source?: 'stream' | 'session'
  /** The application's stream error code, or `null` (the default) when there is none. */
  streamErrorCode?: number | null
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
    this.source = options.source ?? 'stream'
    this.streamErrorCode = options.streamErrorCode ?? null
  }
}
