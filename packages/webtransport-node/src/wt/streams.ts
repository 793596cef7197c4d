import { streamErrorCodeOf } from '@ferry/wire'
import {
  StreamClosedError,
  StreamResetError,
  StreamStoppedError,
  type QuicConnection,
} from '../quic/connection.js'
import { http3ToWebtransport, webtransportToHttp3 } from './codes.js'
import { WebTransportError } from './error.js'
import { H3 } from '../errors.js'

/** How many bytes a stream's readable buffers before it stops reading from QUIC. */
const readHighWaterMark = 256 * 1024
const readChunkBytes = 64 * 1024

/** The W3C `WebTransportBidirectionalStream` shape. */
export interface WebTransportBidirectionalStream {
  /** Bytes from the peer; `cancel(reason)` sends STOP_SENDING with `reason.streamErrorCode`. */
  readonly readable: ReadableStream<Uint8Array>
  /** Bytes to the peer; `close()` sends FIN, `abort(reason)` RESET_STREAM with that code. */
  readonly writable: WritableStream<Uint8Array>
}

function toStreamError(code: number, what: string): WebTransportError {
  return new WebTransportError(`stream ${what} by peer`, {
    source: 'stream',
    streamErrorCode: http3ToWebtransport(code),
  })
}

/** Sends a frame (`frame` does) now, or keeps it to send later. */
export type Send = (frame: () => void) => void

const now: Send = (frame) => frame()

/**
 * The receive half of a WebTransport stream as a byte `ReadableStream`. It reads from quiche only
 * while the stream wants data, so a slow consumer leaves bytes in quiche and QUIC flow control
 * holds the sender back.
 */
export class IncomingStream {
  readonly readable: ReadableStream<Uint8Array>
  private controller!: ReadableByteStreamController
  private wake: (() => void) | undefined
  private done = false

  constructor(
    private readonly conn: QuicConnection,
    readonly id: number,
    leftover: Uint8Array | undefined,
    fin: boolean,
    /** Called once; `ended` when the peer's FIN or reset was read (nothing more can come). */
    private readonly onDone: (ended: boolean) => void,
  ) {
    this.readable = new ReadableStream(
      {
        type: 'bytes',
        start: (controller) => {
          this.controller = controller
          if (leftover && leftover.length > 0)
            controller.enqueue(leftover as Uint8Array<ArrayBuffer>)
          if (fin) {
            // The whole stream arrived with its prefix.
            this.finish(true)
            controller.close()
          }
        },
        pull: () => {
          this.drain()
          if (this.done || (this.controller.desiredSize ?? 0) <= 0) return
          return new Promise<void>((resolve) => (this.wake = resolve))
        },
        cancel: (reason) => {
          this.finish(false)
          conn.stopSending(id, webtransportToHttp3(streamErrorCodeOf(reason)))
        },
      },
      { highWaterMark: readHighWaterMark },
    )
  }

  /** QUIC says the stream has something to read. */
  onReadable(): void {
    if (this.wake) this.drain()
  }

  /**
   * The session ended: errors the readable with `error` and stops the peer's sending
   * (STOP_SENDING with `code`), through `send` when given (which may send it later).
   */
  abort(error: Error, code: number = H3.NO_ERROR, send: Send = now): void {
    if (this.done) return
    this.finish(false)
    this.controller.error(error)
    send(() => this.conn.stopSending(this.id, code))
  }

  private drain(): void {
    if (this.done) return
    let progressed = false
    while ((this.controller.desiredSize ?? 0) > 0) {
      let r
      try {
        r = this.conn.readCopy(this.id, readChunkBytes)
      } catch (e) {
        this.finish(true)
        this.controller.error(
          e instanceof StreamResetError
            ? toStreamError(e.code, 'reset')
            : new WebTransportError('stream closed', { source: 'session' }),
        )
        this.resolveWake()
        return
      }
      if (!r) break
      const [bytes, fin] = r
      progressed = true
      if (bytes.length > 0) this.controller.enqueue(bytes)
      if (fin) {
        this.finish(true)
        this.controller.close()
        break
      }
    }
    if (progressed) {
      // Reading freed flow-control credit: let quiche send MAX_STREAM_DATA in the next pass.
      this.conn.wantPass()
      this.resolveWake()
    }
  }

  private resolveWake(): void {
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }

  private finish(ended: boolean): void {
    if (this.done) return
    this.done = true
    this.onDone(ended)
  }
}

/**
 * The send half of a WebTransport stream as a `WritableStream`. A write resolves when quiche has
 * taken every byte, so `writer.ready` follows QUIC flow control.
 */
export class OutgoingStream {
  readonly writable: WritableStream<Uint8Array>
  private controller!: WritableStreamDefaultController
  private done = false
  /**
   * The last byte of the latest write, held back until the next write, the close, or the end of
   * the event-loop turn in which the write completed. quiche 0.18 counts a stream's send side
   * complete once its data is acknowledged, even if a FIN written later on its own has not gone
   * out yet, and may then drop the stream with the FIN unsent. Holding one byte lets the FIN
   * ride on data whenever the close follows the last write.
   */
  private tail: Uint8Array | undefined
  private tailFlush: NodeJS.Immediate | undefined

  constructor(
    private readonly conn: QuicConnection,
    readonly id: number,
    private readonly onDone: () => void,
  ) {
    this.writable = new WritableStream<Uint8Array>(
      {
        start: (controller) => {
          this.controller = controller
        },
        write: async (chunk) => {
          if (!(chunk instanceof Uint8Array)) {
            throw new TypeError('WebTransport streams take Uint8Array chunks')
          }
          if (chunk.length === 0) return
          try {
            // An end-of-turn flush still due from the previous write would otherwise send this
            // write's tail while the write waits on flow control, leaving a lone FIN to the close.
            if (this.tailFlush) clearImmediate(this.tailFlush)
            this.tailFlush = undefined
            const pending = this.takeTail()
            const body = conn.write(id, chunk.subarray(0, chunk.length - 1))
            // Copied: the caller may reuse its buffer once the write resolves.
            this.tail = chunk.slice(chunk.length - 1)
            await Promise.all([pending, body])
            // A close that follows at once (pipeTo, write-then-close) finds the tail still held;
            // a writer that goes quiet gets it sent at the end of this event-loop turn.
            this.tailFlush = setImmediate(() => this.flushTail())
          } catch (e) {
            throw this.mapWriteError(e)
          }
        },
        close: async () => {
          try {
            if (this.tailFlush) clearImmediate(this.tailFlush)
            this.tailFlush = undefined
            const last = this.tail ?? new Uint8Array(0)
            this.tail = undefined
            await conn.write(id, last, true)
          } catch (e) {
            throw this.mapWriteError(e)
          } finally {
            this.finish()
          }
        },
        abort: (reason) => {
          this.finish()
          conn.resetStream(id, webtransportToHttp3(streamErrorCodeOf(reason)))
        },
      },
      { highWaterMark: 1 },
    )
  }

  private takeTail(): Promise<void> {
    const tail = this.tail
    this.tail = undefined
    return tail ? this.conn.write(this.id, tail) : Promise.resolve()
  }

  private flushTail(): void {
    this.tailFlush = undefined
    if (this.done || !this.tail) return
    this.takeTail().catch((e: unknown) => {
      try {
        this.controller.error(this.mapWriteError(e))
      } catch {
        // Already errored.
      }
    })
  }

  /**
   * The session ended: errors the writable with `error` and resets the stream (RESET_STREAM
   * with `code`), through `send` when given (which may send it later).
   */
  abort(error: Error, code: number = H3.NO_ERROR, send: Send = now): void {
    if (this.done) return
    this.finish()
    this.controller.error(error)
    send(() => this.conn.resetStream(this.id, code))
  }

  private mapWriteError(e: unknown): Error {
    this.finish()
    if (e instanceof StreamStoppedError) return toStreamError(e.code, 'stopped')
    if (e instanceof StreamClosedError) {
      return new WebTransportError(`stream closed: ${e.message}`, { source: 'session' })
    }
    return e instanceof Error ? e : new Error(String(e))
  }

  private finish(): void {
    if (this.done) return
    this.done = true
    if (this.tailFlush) clearImmediate(this.tailFlush)
    this.onDone()
  }
}
