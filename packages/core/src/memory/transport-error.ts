/** Options of a {@link MemoryTransportError}, as the W3C `WebTransportErrorOptions`. */
export interface MemoryTransportErrorOptions {
  /** Whether a stream or the whole session failed (default `'stream'`). */
  source?: 'stream' | 'session'
  /** The application's code of a stream reset or stop, if any. */
  streamErrorCode?: number | null
  /** The underlying error, if any. */
  cause?: unknown
}

/**
 * The error memory sessions raise. Its `name` is `'WebTransportError'` and it carries `source`
 * and `streamErrorCode` like the W3C `WebTransportError`, so code above a `Session` handles
 * errors from every transport the same way. It is a plain `Error` subclass rather than a
 * `DOMException`, which not every runtime lets one subclass with a `cause`.
 */
export class MemoryTransportError extends Error {
  /** Whether a stream or the whole session failed. */
  readonly source: 'stream' | 'session'
  /** The peer's code for a stream reset or stop; `null` for session errors. */
  readonly streamErrorCode: number | null

  constructor(message: string, options: MemoryTransportErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.source = options.source ?? 'stream'
    this.streamErrorCode = options.streamErrorCode ?? null
  }

  static {
    this.prototype.name = 'WebTransportError'
  }
}

/** The error of a call on a closed session. */
export function sessionClosedError(): MemoryTransportError {
  return new MemoryTransportError('session is closed', { source: 'session' })
}
