/** Thrown by `QuicConnection.read` when the peer reset the stream (RESET_STREAM). */
export class StreamResetError extends Error {
  static override readonly name = 'StreamResetError'
  override readonly name = 'StreamResetError'
  constructor(readonly code: number) {
    super(`stream reset by peer with code ${code}`)
  }
}

/** Rejects a pending write when the peer asked us to stop sending (STOP_SENDING). */
export class StreamStoppedError extends Error {
  static override readonly name = 'StreamStoppedError'
  override readonly name = 'StreamStoppedError'
  constructor(readonly code: number) {
    super(`stream stopped by peer with code ${code}`)
  }
}

/** A write that failed because the stream or connection is gone. */
export class StreamClosedError extends Error {
  static override readonly name = 'StreamClosedError'
  override readonly name = 'StreamClosedError'
}
