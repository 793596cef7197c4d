/**
 * The transport a {@link Connection} runs over: the subset of the W3C `WebTransport` object
 * that ferry uses. A browser's native `WebTransport`, `@ferry/webtransport-node`'s client and
 * server sessions, the in-memory transport and (later) relayed virtual sessions all fit it,
 * so everything above this line is written once.
 */

/** A bidirectional byte stream, as `WebTransportBidirectionalStream`. */
export interface BidiStream {
  /** What the peer writes. */
  readonly readable: ReadableStream<Uint8Array>
  /** What this side writes; closing it ends the stream in this direction. */
  readonly writable: WritableStream<Uint8Array>
}

/** How a session ended, as the W3C `WebTransportCloseInfo`. */
export interface SessionCloseInfo {
  closeCode?: number
  reason?: string
}

/** Unreliable datagrams, as the W3C `WebTransportDatagramDuplexStream`. */
export interface SessionDatagrams {
  readonly readable: ReadableStream<Uint8Array>
  readonly writable: WritableStream<Uint8Array>
  readonly maxDatagramSize: number
}

/** Connection statistics a transport may report (every field optional). */
export interface SessionStats {
  bytesSent?: number
  bytesReceived?: number
  /** Smoothed round-trip time in milliseconds. */
  smoothedRtt?: number
}

/** One established (or establishing) transport session between two endpoints. */
export interface Session {
  /** Resolves when the session can carry streams; rejects if it never does. */
  readonly ready: Promise<void>
  /** Resolves with the close code and reason when either side closes; rejects on loss. */
  readonly closed: Promise<SessionCloseInfo>
  /** The negotiated subprotocol; `''` or `undefined` where the platform has none. */
  readonly protocol?: string
  readonly incomingBidirectionalStreams: ReadableStream<BidiStream>
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>
  readonly datagrams: SessionDatagrams
  createBidirectionalStream(): Promise<BidiStream>
  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>>
  close(info?: SessionCloseInfo): void
  getStats?(): Promise<SessionStats>
}
