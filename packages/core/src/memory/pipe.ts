import { streamErrorCodeOf } from '@ferry/wire'
import { concat } from '../internal/bytes.js'
import type { MemorySession } from './session.js'
import { MemoryTransportError } from './transport-error.js'
import { copyChunk, type Wire } from './wire.js'

/**
 * One direction of a stream: the sender's `writable` and the receiver's `readable`. The window
 * counts bytes written and not yet read (in flight plus arrived); a write waits while it is full.
 */
export class Pipe {
  readonly readable: ReadableStream<Uint8Array>
  readonly writable: WritableStream<Uint8Array>
  /** Lane of data, FIN and reset (sender to receiver). */
  private readonly lane = {}
  /** Lane of STOP_SENDING (receiver to sender). */
  private readonly backLane = {}
  private unread = 0
  private readonly arrived: Uint8Array<ArrayBuffer>[] = []
  private finArrived = false
  /** The readable is closed, errored or cancelled: nothing more is delivered. */
  private readDone = false
  /** The writable is closing, closed, aborted or errored: nothing more is written. */
  private writeDone = false
  private writeFailure: { error: unknown } | undefined
  private closeAck: { resolve: () => void; reject: (error: unknown) => void } | undefined
  private readController!: ReadableByteStreamController
  private writeController!: WritableStreamDefaultController
  private wakeReader: (() => void) | undefined
  private wakeWriter: (() => void) | undefined

  constructor(
    private readonly wire: Wire,
    private readonly sender: MemorySession,
    private readonly receiver: MemorySession,
  ) {
    sender.pipes.add(this)
    receiver.pipes.add(this)
    this.writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.writeController = controller
        // An abort must not wait for a write stuck on a full window.
        controller.signal.addEventListener('abort', () => this.wake('writer'))
      },
      write: (chunk, controller) => this.write(chunk, controller.signal),
      close: () => this.close(),
      abort: (reason) => this.abort(reason),
    })
    this.readable = new ReadableStream(
      {
        type: 'bytes',
        start: (controller) => {
          this.readController = controller
        },
        pull: (controller) => this.pull(controller),
        cancel: (reason) => this.cancel(reason),
      },
      { highWaterMark: 0 },
    )
  }

  /** Queues the stream's announcement to the receiver ahead of its first bytes. */
  announce(deliver: () => void): void {
    this.wire.scheduler.push(this.lane, this.sender, deliver)
  }

  /** The sender's or receiver's session ended: error what is still open. */
  sessionEnded(session: MemorySession, error: Error): void {
    if (session === this.sender) {
      this.failWriter(error)
    }
    // A readable whose FIN arrived is complete: its reader still gets every byte.
    if (session === this.receiver && !this.readDone && !this.finArrived) {
      this.readDone = true
      this.arrived.length = 0
      this.readController.error(error)
      this.wake('reader')
    }
    this.forgetIfDone()
  }

  private async write(chunk: unknown, signal: AbortSignal): Promise<void> {
    const bytes = copyChunk(chunk)
    const window = this.wire.windowBytes
    let offset = 0
    while (offset < bytes.length) {
      // Wait for room for the rest or a quarter of the window, as QUIC sends MAX_STREAM_DATA
      // only once a good part of the window is read. Sending whatever sliver one read freed
      // would cut a long stream into ever smaller pieces, down to single bytes.
      const wanted = Math.min(bytes.length - offset, Math.ceil(window / 4))
      while (window - this.unread < wanted && !this.writeFailure && !signal.aborted) {
        await new Promise<void>((resolve) => (this.wakeWriter = resolve))
      }
      if (this.writeFailure) throw this.writeFailure.error
      if (signal.aborted) throw signal.reason
      const n = Math.min(bytes.length - offset, window - this.unread)
      this.send(bytes.subarray(offset, offset + n))
      offset += n
    }
  }

  private send(bytes: Uint8Array<ArrayBuffer>): void {
    this.unread += bytes.length
    this.sender.bytesSent += bytes.length
    for (const piece of this.wire.split(bytes)) {
      this.wire.scheduler.push(this.lane, this.sender, () => this.arrive(piece))
    }
  }

  private arrive(piece: Uint8Array<ArrayBuffer>): void {
    if (this.readDone || !this.receiver.live) return
    this.arrived.push(piece)
    this.receiver.bytesReceived += piece.length
    this.wake('reader')
  }

  /** Fails the writing side with `error`: a pending close rejects, and further writes too. */
  private failWriter(error: Error): void {
    this.closeAck?.reject(error)
    this.closeAck = undefined
    if (this.writeDone) return
    this.writeDone = true
    this.writeFailure = { error }
    this.writeController.error(error)
    this.wake('writer')
  }

  private close(): Promise<void> {
    this.writeDone = true
    return new Promise((resolve, reject) => {
      this.closeAck = { resolve, reject }
      this.wire.scheduler.push(this.lane, this.sender, () => this.finish())
    })
  }

  /** The FIN arrives. A cancelled or gone receiver leaves `closeAck` to the stop or the end. */
  private finish(): void {
    if (this.readDone || !this.receiver.live) return
    this.finArrived = true
    this.closeAck?.resolve()
    this.closeAck = undefined
    this.wake('reader')
    this.forgetIfDone()
  }

  private abort(reason: unknown): void {
    this.writeDone = true
    const code = streamErrorCodeOf(reason)
    this.wire.scheduler.push(this.lane, this.sender, () => this.reset(code))
    this.forgetIfDone()
  }

  /** The peer's RESET_STREAM arrives: unread bytes are gone (QUIC lets the receiver drop them). */
  private reset(code: number): void {
    if (this.readDone || !this.receiver.live) return
    this.readDone = true
    this.arrived.length = 0
    this.readController.error(
      new MemoryTransportError('stream reset by peer', { source: 'stream', streamErrorCode: code }),
    )
    this.wake('reader')
    this.forgetIfDone()
  }

  private async pull(controller: ReadableByteStreamController): Promise<void> {
    for (;;) {
      if (this.readDone) return
      if (this.arrived.length > 0) {
        const pieces = this.arrived.splice(0, this.wire.mergeCount(this.arrived.length))
        const chunk = pieces.length === 1 ? pieces[0]! : concat(...pieces)
        this.unread -= chunk.length
        this.wake('writer')
        controller.enqueue(chunk)
        return
      }
      if (this.finArrived) {
        this.readDone = true
        controller.close()
        // A pending BYOB read must be answered to see the end.
        controller.byobRequest?.respond(0)
        this.forgetIfDone()
        return
      }
      await new Promise<void>((resolve) => (this.wakeReader = resolve))
    }
  }

  private cancel(reason: unknown): void {
    this.readDone = true
    this.arrived.length = 0
    this.wake('reader')
    if (!this.finArrived) {
      const code = streamErrorCodeOf(reason)
      this.wire.scheduler.push(this.backLane, this.receiver, () => this.stop(code))
    }
    this.forgetIfDone()
  }

  /** The peer's STOP_SENDING arrives: writes and a pending close fail with its code. */
  private stop(code: number): void {
    if (!this.sender.live) return
    const error = new MemoryTransportError('stream stopped by peer', {
      source: 'stream',
      streamErrorCode: code,
    })
    this.failWriter(error)
    this.forgetIfDone()
  }

  private wake(who: 'reader' | 'writer'): void {
    const wake = who === 'reader' ? this.wakeReader : this.wakeWriter
    if (who === 'reader') this.wakeReader = undefined
    else this.wakeWriter = undefined
    wake?.()
  }

  private forgetIfDone(): void {
    if (this.readDone && this.writeDone && !this.closeAck) {
      this.sender.pipes.delete(this)
      this.receiver.pipes.delete(this)
    }
  }
}
