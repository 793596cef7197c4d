import type {
  BidiStream,
  Session,
  SessionCloseInfo,
  SessionDatagrams,
  SessionStats,
} from '../session.js'
import { Pipe } from './pipe.js'
import { sessionClosedError } from './transport-error.js'
import { copyChunk, type Wire } from './wire.js'

/** W3C: a datagram readable nobody reads keeps a bounded queue and drops the oldest. */
const incomingDatagramLimit = 128

type SessionState = 'connecting' | 'connected' | 'closed' | 'failed'

/** One side of a memory session. */
export class MemorySession implements Session {
  readonly ready: Promise<void>
  readonly closed: Promise<SessionCloseInfo>
  readonly incomingBidirectionalStreams: ReadableStream<BidiStream>
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>
  readonly datagrams: SessionDatagrams
  /** Every stream direction this side writes or reads that is not finished yet. */
  readonly pipes = new Set<Pipe>()
  bytesSent = 0
  bytesReceived = 0
  private peerSession: MemorySession | undefined
  private state: SessionState = 'connecting'
  private resolveReady!: () => void
  private rejectReady!: (error: unknown) => void
  private resolveClosed!: (info: SessionCloseInfo) => void
  private rejectClosed!: (error: unknown) => void
  private bidiController!: ReadableStreamDefaultController<BidiStream>
  private uniController!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>
  private bidiCancelled = false
  private uniCancelled = false
  private datagramReadController!: ReadableStreamDefaultController<Uint8Array>
  private datagramWriteController!: WritableStreamDefaultController
  private readonly datagramQueue: Uint8Array[] = []
  private datagramsDone = false
  private wakeDatagramReader: (() => void) | undefined

  constructor(
    private readonly wire: Wire,
    readonly protocol: string,
    private readonly onEnd: (session: MemorySession) => void,
  ) {
    this.ready = new Promise((resolve, reject) => {
      this.resolveReady = resolve
      this.rejectReady = reject
    })
    this.closed = new Promise((resolve, reject) => {
      this.resolveClosed = resolve
      this.rejectClosed = reject
    })
    // As in browsers, a rejected `ready` or `closed` nobody awaits is not an unhandled rejection.
    this.ready.catch(() => {})
    this.closed.catch(() => {})

    this.incomingBidirectionalStreams = new ReadableStream<BidiStream>({
      start: (controller) => {
        this.bidiController = controller
      },
      cancel: () => {
        this.bidiCancelled = true
      },
    })
    this.incomingUnidirectionalStreams = new ReadableStream<ReadableStream<Uint8Array>>({
      start: (controller) => {
        this.uniController = controller
      },
      cancel: () => {
        this.uniCancelled = true
      },
    })
    const readable = new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          this.datagramReadController = controller
        },
        pull: (controller) => this.pullDatagram(controller),
        cancel: () => {
          this.datagramsDone = true
          this.datagramQueue.length = 0
        },
      },
      { highWaterMark: 0 },
    )
    const writable = new WritableStream<Uint8Array>({
      start: (controller) => {
        this.datagramWriteController = controller
      },
      write: (chunk) => this.sendDatagram(chunk),
    })
    this.datagrams = { readable, writable, maxDatagramSize: wire.maxDatagramSize }
  }

  /** Whether this side still carries streams and datagrams. */
  get live(): boolean {
    return this.state === 'connected'
  }

  private get peer(): MemorySession {
    return this.peerSession!
  }

  /** Pairs this side with `peer` and makes it ready (called from a scheduled task). */
  establish(peer: MemorySession): void {
    this.peerSession = peer
    if (this.state !== 'connecting') return
    this.state = 'connected'
    this.resolveReady()
  }

  async createBidirectionalStream(): Promise<BidiStream> {
    await this.ready
    this.checkOpen()
    const peer = this.peer
    const out = new Pipe(this.wire, this, peer)
    const back = new Pipe(this.wire, peer, this)
    const peerEnd: BidiStream = { readable: out.readable, writable: back.writable }
    // Like WebTransport, the stream is announced on creation, not with its first bytes.
    out.announce(() => peer.acceptBidi(peerEnd))
    return { readable: back.readable, writable: out.writable }
  }

  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    await this.ready
    this.checkOpen()
    const peer = this.peer
    const out = new Pipe(this.wire, this, peer)
    out.announce(() => peer.acceptUni(out.readable))
    return out.writable
  }

  /**
   * Closes both sides with `closeCode` (default 0) and `reason` (default `''`). Idempotent.
   * @throws {RangeError} if `closeCode` is not an integer in [0, 2^32).
   * @throws {TypeError} if `reason` is not a string.
   */
  close(info: SessionCloseInfo = {}): void {
    const closeCode = info.closeCode ?? 0
    const reason = info.reason ?? ''
    if (!Number.isInteger(closeCode) || closeCode < 0 || closeCode > 0xffffffff) {
      throw new RangeError('closeCode must be an integer in [0, 2^32)')
    }
    if (typeof reason !== 'string') throw new TypeError('reason must be a string')
    if (this.state === 'closed' || this.state === 'failed') return
    const closeInfo = { closeCode, reason }
    const peer = this.peerSession
    this.terminate(closeInfo)
    // A barrier: the close reaches the peer after everything this side sent before it.
    if (peer) this.wire.scheduler.push({}, this, () => peer.terminate(closeInfo), true)
  }

  getStats(): Promise<SessionStats> {
    return Promise.resolve({ bytesSent: this.bytesSent, bytesReceived: this.bytesReceived })
  }

  /** Ends this side cleanly: `closed` resolves with `info`. */
  terminate(info: Required<SessionCloseInfo>): void {
    if (this.state === 'closed' || this.state === 'failed') return
    const wasConnecting = this.state === 'connecting'
    this.state = 'closed'
    const error = sessionClosedError()
    if (wasConnecting) this.rejectReady(error)
    this.endStreams(error, true)
    this.resolveClosed(info)
    this.onEnd(this)
  }

  /** Ends this side abruptly: `closed` (and `ready`, if pending) reject with `error`. */
  fail(error: Error): void {
    if (this.state === 'closed' || this.state === 'failed') return
    const wasConnecting = this.state === 'connecting'
    this.state = 'failed'
    if (wasConnecting) this.rejectReady(error)
    this.endStreams(error, false)
    this.rejectClosed(error)
    this.onEnd(this)
  }

  private acceptBidi(stream: BidiStream): void {
    if (!this.live) return
    if (this.bidiCancelled) return refuse(stream.readable, stream.writable)
    this.bidiController.enqueue(stream)
  }

  private acceptUni(readable: ReadableStream<Uint8Array>): void {
    if (!this.live) return
    if (this.uniCancelled) return refuse(readable)
    this.uniController.enqueue(readable)
  }

  private checkOpen(): void {
    if (this.state !== 'connected') throw sessionClosedError()
  }

  private async sendDatagram(chunk: unknown): Promise<void> {
    const bytes = copyChunk(chunk)
    if (this.state === 'connecting') await this.ready
    this.checkOpen()
    // Browsers drop an oversized datagram without an error.
    if (bytes.length > this.wire.maxDatagramSize) return
    this.bytesSent += bytes.length
    if (this.wire.lose()) return
    const peer = this.peer
    this.wire.scheduler.push({}, this, () => peer.acceptDatagram(bytes))
  }

  private acceptDatagram(bytes: Uint8Array): void {
    if (!this.live || this.datagramsDone) return
    this.bytesReceived += bytes.length
    this.datagramQueue.push(bytes)
    if (this.datagramQueue.length > incomingDatagramLimit) this.datagramQueue.shift()
    const wake = this.wakeDatagramReader
    this.wakeDatagramReader = undefined
    wake?.()
  }

  private async pullDatagram(
    controller: ReadableStreamDefaultController<Uint8Array>,
  ): Promise<void> {
    for (;;) {
      const datagram = this.datagramQueue.shift()
      if (datagram) {
        controller.enqueue(datagram)
        return
      }
      if (this.datagramsDone) return
      await new Promise<void>((resolve) => (this.wakeDatagramReader = resolve))
    }
  }

  /**
   * W3C "cleanup": open streams error either way; the incoming-stream and datagram readables
   * close after a clean close and error after an abrupt one; the datagram writable errors.
   */
  private endStreams(error: Error, clean: boolean): void {
    for (const pipe of [...this.pipes]) pipe.sessionEnded(this, error)
    this.pipes.clear()
    if (!this.bidiCancelled) endReadable(this.bidiController, error, clean)
    if (!this.uniCancelled) endReadable(this.uniController, error, clean)
    if (!this.datagramsDone) {
      this.datagramsDone = true
      this.datagramQueue.length = 0
      endReadable(this.datagramReadController, error, clean)
      const wake = this.wakeDatagramReader
      this.wakeDatagramReader = undefined
      wake?.()
    }
    this.datagramWriteController.error(error)
  }
}

function endReadable<T>(
  controller: ReadableStreamDefaultController<T>,
  error: Error,
  clean: boolean,
): void {
  if (clean) controller.close()
  else controller.error(error)
}

/** Resets a stream the application no longer accepts (code 0, as browsers do). */
function refuse(readable: ReadableStream<Uint8Array>, writable?: WritableStream<Uint8Array>) {
  // Fresh, unlocked streams: neither call can fail.
  void readable.cancel()
  void writable?.abort()
}
