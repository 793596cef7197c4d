/**
 * An in-memory network whose sessions behave like WebTransport sessions, so endpoints and
 * protocols can be tested without sockets. Every transfer is a task on a seeded scheduler that
 * interleaves streams and datagrams at random (keeping each stream direction in order), splits
 * and merges stream chunks, and drops datagrams; the same seed and program replay the same run.
 */
import { Prng } from './internal/prng.js'
import type {
  BidiStream,
  Session,
  SessionCloseInfo,
  SessionDatagrams,
  SessionStats,
} from './session.js'
import { concat } from './internal/bytes.js'

/** Options of a {@link MemoryNetwork}; every field has a default. */
export interface MemoryNetworkOptions {
  /** Seed of the scheduler, chunking and loss (default 1). */
  seed?: number
  /** Probability in [0,1) that a datagram is dropped (default 0). */
  datagramLoss?: number
  /** Largest datagram payload (default 1200). */
  maxDatagramSize?: number
  /** Bytes a stream direction buffers before the writer sees backpressure (default 64 KiB). */
  streamWindowBytes?: number
}

/** What a {@link MemoryNetwork} listener does with dialers. */
export interface MemoryListener {
  /**
   * Chooses the subprotocol from the dialer's offer (as a WebTransport server answers
   * `wt-protocol`); undefined = none.
   */
  choose(offer: string[]): string | undefined
  /** Receives the server side of each new session. */
  session(session: Session, info: { protocol: string | undefined; offer: string[] }): void
}

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
 * and `streamErrorCode` like the W3C `WebTransportError`, so code above {@link Session} handles
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

const defaultMaxDatagramSize = 1200
const defaultStreamWindowBytes = 64 * 1024
/** W3C: a datagram readable nobody reads keeps a bounded queue and drops the oldest. */
const incomingDatagramLimit = 128
/**
 * Microtask turns the scheduler gives the program between two deliveries, so that the reaction
 * to one delivery (a read, an echo) usually runs before the next. Any fixed number replays.
 */
const microtaskYields = 8
/** Deliveries between two macrotask yields, so timers and I/O are never starved. */
const tasksPerMacrotask = 256

/** One scheduled transfer. */
interface Task {
  readonly seq: number
  /** The session that sent it; a barrier waits for that session's earlier tasks. */
  readonly origin: object | undefined
  readonly barrier: boolean
  readonly run: () => void
}

// Taken at load, so a test that installs fake timers afterwards does not stall the network.
const realSetTimeout = globalThis.setTimeout
const realQueueMicrotask = globalThis.queueMicrotask

function macrotask(): Promise<void> {
  return new Promise((resolve) => realSetTimeout(resolve, 0))
}

/**
 * Runs tasks one at a time from a microtask loop. Tasks sit in FIFO lanes (one per stream
 * direction; datagrams and control messages get a lane each) and the next task is the head of
 * a lane picked with the seeded PRNG, so lanes interleave at random while each stays in order.
 */
class Scheduler {
  /** Map iteration follows insertion, so the candidate order (and the run) is deterministic. */
  private readonly lanes = new Map<object, Task[]>()
  private seq = 0
  private running = false
  private idleWaiters: (() => void)[] = []

  constructor(private readonly prng: Prng) {}

  /** Whether tasks are queued or the loop is still running. */
  get busy(): boolean {
    return this.running || this.lanes.size > 0
  }

  /**
   * Queues `run` at the back of `lane`. A `barrier` task waits until every task `origin` queued
   * before it has run (a session close goes after what the session sent before it).
   */
  push(lane: object, origin: object | undefined, run: () => void, barrier = false): void {
    const task: Task = { seq: this.seq++, origin, barrier, run }
    const queue = this.lanes.get(lane)
    if (queue) queue.push(task)
    else this.lanes.set(lane, [task])
    if (!this.running) {
      this.running = true
      // Never run a delivery inside the caller's own call (a write, a close): start afterwards.
      realQueueMicrotask(() => void this.loop())
    }
  }

  /** Resolves once the loop has run out of tasks. */
  idle(): Promise<void> {
    if (!this.busy) return Promise.resolve()
    return new Promise((resolve) => this.idleWaiters.push(resolve))
  }

  private async loop(): Promise<void> {
    let ran = 0
    for (let task = this.next(); task; task = this.next()) {
      try {
        task.run()
      } catch (error) {
        // A delivery never throws by design; if one does, report it without stopping the rest.
        realQueueMicrotask(() => {
          throw error
        })
      }
      ran++
      if (ran % tasksPerMacrotask === 0) await macrotask()
      else for (let i = 0; i < microtaskYields; i++) await Promise.resolve()
    }
    this.running = false
    for (const wake of this.idleWaiters.splice(0)) wake()
  }

  private next(): Task | undefined {
    const ready: object[] = []
    for (const [lane, queue] of this.lanes) {
      const head = queue[0]!
      if (!head.barrier || !this.hasEarlier(head)) ready.push(lane)
    }
    if (ready.length === 0) return undefined
    const lane = ready[ready.length === 1 ? 0 : this.prng.int(ready.length)]!
    const queue = this.lanes.get(lane)!
    const task = queue.shift()!
    if (queue.length === 0) this.lanes.delete(lane)
    return task
  }

  /** Whether `barrier`'s origin has a task queued before it (lane heads are each lane's oldest). */
  private hasEarlier(barrier: Task): boolean {
    for (const queue of this.lanes.values()) {
      const head = queue[0]!
      if (head !== barrier && head.origin === barrier.origin && head.seq < barrier.seq) return true
    }
    return false
  }
}

/** What every session and stream of one network shares. */
class Wire {
  readonly prng: Prng
  readonly scheduler: Scheduler

  constructor(
    seed: number,
    readonly datagramLoss: number,
    readonly maxDatagramSize: number,
    readonly windowBytes: number,
  ) {
    this.prng = new Prng(seed)
    this.scheduler = new Scheduler(this.prng)
  }

  /** Whether the next datagram is lost. */
  lose(): boolean {
    return this.datagramLoss > 0 && this.prng.u32() / 0x1_0000_0000 < this.datagramLoss
  }

  /** Cuts `bytes` into 1–4 pieces at random, each with its own buffer (byte streams transfer it). */
  split(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer>[] {
    if (bytes.length < 2 || this.prng.int(2) === 0) return [owned(bytes)]
    const cuts = new Set<number>()
    const pieces = 1 + this.prng.int(3)
    for (let i = 0; i < pieces; i++) cuts.add(1 + this.prng.int(bytes.length - 1))
    const out: Uint8Array<ArrayBuffer>[] = []
    let start = 0
    for (const cut of [...cuts].sort((a, b) => a - b)) {
      out.push(bytes.slice(start, cut))
      start = cut
    }
    out.push(bytes.slice(start))
    return out
  }

  /** How many queued pieces a read returns: mostly one, sometimes several merged. */
  mergeCount(available: number): number {
    if (available < 2 || this.prng.int(4) !== 0) return 1
    return 2 + this.prng.int(available - 1)
  }
}

/** `bytes` itself when it spans its whole buffer, else a copy that does. */
function owned(bytes: Uint8Array<ArrayBuffer>): Uint8Array<ArrayBuffer> {
  return bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
    ? bytes
    : bytes.slice()
}

/** A copy of a written chunk (the writer may reuse its buffer). */
function copyChunk(chunk: unknown): Uint8Array<ArrayBuffer> {
  if (ArrayBuffer.isView(chunk)) {
    return new Uint8Array(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength))
  }
  if (chunk instanceof ArrayBuffer) return new Uint8Array(chunk.slice(0))
  throw new TypeError('chunk must be a Uint8Array or another BufferSource')
}

/** The application code an abort or cancel reason carries, or 0 (W3C: "code 0"). */
function streamErrorCodeOf(reason: unknown): number {
  if (reason !== null && typeof reason === 'object' && 'streamErrorCode' in reason) {
    const code = reason.streamErrorCode
    if (typeof code === 'number' && Number.isInteger(code) && code >= 0 && code <= 0xffffffff) {
      return code
    }
  }
  return 0
}

function sessionClosedError(): MemoryTransportError {
  return new MemoryTransportError('session is closed', { source: 'session' })
}

/**
 * One direction of a stream: the sender's `writable` and the receiver's `readable`. The window
 * counts bytes written and not yet read (in flight plus arrived); a write waits while it is full.
 */
class Pipe {
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
    let offset = 0
    while (offset < bytes.length) {
      while (this.unread >= this.wire.windowBytes && !this.writeFailure && !signal.aborted) {
        await new Promise<void>((resolve) => (this.wakeWriter = resolve))
      }
      if (this.writeFailure) throw this.writeFailure.error
      if (signal.aborted) throw signal.reason
      const n = Math.min(bytes.length - offset, this.wire.windowBytes - this.unread)
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

type SessionState = 'connecting' | 'connected' | 'closed' | 'failed'

/** One side of a memory session. */
class MemorySession implements Session {
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

/** Parses a `memory://<n>` address into its host part. */
function addressOf(url: unknown): string {
  if (typeof url !== 'string') throw new TypeError('url must be a string')
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw new TypeError(`url is not a URL: ${url}`, { cause: error })
  }
  if (parsed.protocol !== 'memory:') throw new TypeError(`url is not a memory:// URL: ${url}`)
  return parsed.host
}

/**
 * An in-memory network of WebTransport-like sessions with a seeded scheduler, for tests:
 * `listen()` hands out `memory://<n>` addresses, `dial()` pairs a client session with a server
 * session, and every stream chunk, stream open, FIN, reset, datagram and close is delivered
 * by the scheduler in a seeded random interleaving, so a failure replays from its seed.
 *
 * Delivery guarantees are those of WebTransport: each stream direction is in order (chunk
 * boundaries are split and merged at random), streams and datagrams interleave freely,
 * datagrams may be reordered and lost. A session's close reaches the peer after everything
 * that side sent before it. Stream writes are copied; reads get chunks they own.
 */
export class MemoryNetwork {
  private readonly wire: Wire
  private readonly listeners = new Map<string, MemoryListener>()
  private readonly sessions = new Set<MemorySession>()
  private readonly dialing = new Set<(error: Error) => void>()
  private nextAddress = 1

  /**
   * @throws {RangeError} if `datagramLoss` is outside [0,1), or `maxDatagramSize` or
   *   `streamWindowBytes` is not a positive integer.
   * @throws {TypeError} if `seed` is not a number.
   */
  constructor(options: MemoryNetworkOptions = {}) {
    const seed = options.seed ?? 1
    const loss = options.datagramLoss ?? 0
    const maxDatagramSize = options.maxDatagramSize ?? defaultMaxDatagramSize
    const window = options.streamWindowBytes ?? defaultStreamWindowBytes
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new TypeError('seed must be a finite number')
    }
    if (!(loss >= 0 && loss < 1)) throw new RangeError('datagramLoss must be in [0,1)')
    if (!Number.isSafeInteger(maxDatagramSize) || maxDatagramSize < 1) {
      throw new RangeError('maxDatagramSize must be a positive integer')
    }
    if (!Number.isSafeInteger(window) || window < 1) {
      throw new RangeError('streamWindowBytes must be a positive integer')
    }
    this.wire = new Wire(seed, loss, maxDatagramSize, window)
  }

  /**
   * Starts listening under a fresh address `memory://<n>` and returns it.
   * @throws {TypeError} if `listener` lacks `choose` or `session`.
   */
  listen(listener: MemoryListener): string {
    if (typeof listener?.choose !== 'function' || typeof listener.session !== 'function') {
      throw new TypeError('listener must have choose() and session() methods')
    }
    const host = String(this.nextAddress++)
    this.listeners.set(host, listener)
    return `memory://${host}`
  }

  /**
   * Stops listening on `url`; established sessions stay. Unknown addresses are ignored.
   * @throws {TypeError} if `url` is not a `memory://` URL.
   */
  unlisten(url: string): void {
    this.listeners.delete(addressOf(url))
  }

  /**
   * Dials `url` offering `protocols` (preference order) and resolves with the client side of
   * the session once it is ready. The path and query of `url` are ignored.
   *
   * Rejects with a `TypeError` for a bad `url` or `protocols`; with the signal's reason if
   * `signal` aborts first; and with a {@link MemoryTransportError} (source `'session'`) if
   * nobody listens at `url`, the listener chose a protocol outside the offer, `choose` or
   * `session` threw, or the network was partitioned meanwhile.
   */
  async dial(
    url: string,
    protocols: string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Session> {
    const host = addressOf(url)
    if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== 'string')) {
      throw new TypeError('protocols must be an array of strings')
    }
    const offer = [...protocols]
    const { signal } = options
    signal?.throwIfAborted()
    // The outcome comes back as a value so that an abort rethrows the signal's own reason.
    const outcome = await new Promise<MemorySession | Error | 'aborted'>((resolve) => {
      let done = false
      const finish = (result: MemorySession | Error | 'aborted'): void => {
        if (done) return
        done = true
        this.dialing.delete(finish)
        signal?.removeEventListener('abort', onAbort)
        resolve(result)
      }
      const onAbort = (): void => finish('aborted')
      signal?.addEventListener('abort', onAbort)
      this.dialing.add(finish)
      this.wire.scheduler.push({}, undefined, () => {
        if (done) return
        try {
          finish(this.connect(url, host, offer))
        } catch (error) {
          finish(
            error instanceof Error
              ? error
              : new MemoryTransportError('dial failed', { cause: error }),
          )
        }
      })
    })
    if (outcome === 'aborted') {
      signal?.throwIfAborted()
      throw new MemoryTransportError('dial aborted', { source: 'session' })
    }
    if (outcome instanceof Error) throw outcome
    return outcome
  }

  /**
   * Runs every scheduled delivery until none is left, and until the program's reactions to
   * them (microtasks) have run too, for tests that want quiescence.
   */
  async settle(): Promise<void> {
    for (;;) {
      await macrotask()
      if (!this.wire.scheduler.busy) return
      await this.wire.scheduler.idle()
    }
  }

  /**
   * Closes every session abruptly (their `closed` rejects with a {@link MemoryTransportError}),
   * as a network outage would, and fails dials in flight. Listeners stay; later dials work.
   */
  partition(): void {
    const lost = () =>
      new MemoryTransportError('connection lost: network partition', { source: 'session' })
    for (const fail of [...this.dialing]) fail(lost())
    for (const session of [...this.sessions]) session.fail(lost())
  }

  /** The dial's request arrives: pair a client and a server session, or throw why not. */
  private connect(url: string, host: string, offer: string[]): MemorySession {
    const listener = this.listeners.get(host)
    if (!listener) {
      throw new MemoryTransportError(`nobody listens at ${url}`, { source: 'session' })
    }
    let protocol: string | undefined
    try {
      protocol = listener.choose([...offer])
    } catch (error) {
      throw new MemoryTransportError('the listener failed to choose a protocol', {
        source: 'session',
        cause: error,
      })
    }
    // W3C: the client fails a session whose protocol it did not offer.
    if (protocol !== undefined && !offer.includes(protocol)) {
      throw new MemoryTransportError(`the listener chose ${protocol}, which was not offered`, {
        source: 'session',
      })
    }
    const onEnd = (session: MemorySession) => this.sessions.delete(session)
    const client = new MemorySession(this.wire, protocol ?? '', onEnd)
    const server = new MemorySession(this.wire, protocol ?? '', onEnd)
    this.sessions.add(client)
    this.sessions.add(server)
    client.establish(server)
    server.establish(client)
    try {
      listener.session(server, { protocol, offer: [...offer] })
    } catch (error) {
      const refused = new MemoryTransportError('the listener failed to take the session', {
        source: 'session',
        cause: error,
      })
      server.fail(refused)
      client.fail(refused)
      throw refused
    }
    return client
  }
}
