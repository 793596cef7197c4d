import { closeInfoOf, isClosing, type QuicCloseInfo } from './close-info.js'
import { classifyNativeError } from './errors.js'
import { Shutdown, type HostPort, type NativeConnection } from './native.js'
import { Requeue } from './requeue.js'
import { StopCodes } from './stop-codes.js'
import { StreamClosedError, StreamResetError, StreamStoppedError } from './stream-errors.js'

export type { QuicCloseInfo } from './close-info.js'
export { StreamClosedError, StreamResetError, StreamStoppedError } from './stream-errors.js'

/** What the layer above (HTTP/3) hears from a QUIC connection. */
export interface QuicConnectionHandler {
  /** The handshake completed; streams may be opened. */
  established(): void
  /** `id` has data, a FIN or a reset to read. Called on every pass while that is true. */
  streamReadable(id: number): void
  /** A QUIC DATAGRAM frame arrived. The bytes are owned by the callee. */
  datagram(data: Uint8Array): void
  /**
   * The connection is over: a CONNECTION_CLOSE was received or sent (quiche then drains it a
   * while longer, see {@link QuicConnection.drained}), or it timed out. Nothing more is heard.
   */
  closed(info: QuicCloseInfo): void
  /** Runs at the end of each pass's receive work (stream credit may have grown). */
  afterPass?(): void
}

interface PendingWrite {
  data: Uint8Array
  fin: boolean
  resolve: () => void
  reject: (e: Error) => void
}

/** The host a connection lives on: sends its packets and runs its passes. */
export interface QuicHost {
  sendPacket(data: Uint8Array, to: HostPort): void
  /** Asks for {@link QuicConnection.process} to run once more in this event-loop turn's batch. */
  schedule(conn: QuicConnection): void
  forget(conn: QuicConnection): void
}

const packetBytes = 1500
const chunkBytes = 64 * 1024
/**
 * Packets sent per pass before yielding to the event loop. The binding hides quiche's pacing
 * timestamps (`SendInfo.at` is an opaque handle), so we pace by bursts instead: a pass sends at
 * most this many packets, then lets incoming ACKs be processed before the next burst.
 */
const burstPackets = 48

/**
 * One QUIC connection on the native quiche layer: a send queue per stream (quiche may accept
 * only part of a buffer), batched passes, timers from `timeout()`, and burst-paced sending.
 */
export class QuicConnection {
  handler: QuicConnectionHandler | undefined
  /** Connection ids routed to this connection, as keys of the endpoint's table. */
  readonly cids = new Set<string>()
  private readonly pending = new Map<number, PendingWrite[]>()
  private established = false
  /** The handler heard `closed`: the connection is closing or draining. */
  private reported = false
  /** quiche has closed the connection; the endpoint has forgotten it. */
  private finished = false
  /**
   * Resolves once quiche is done with the connection, after its draining period (RFC 9000
   * §10.2), and the endpoint has forgotten it: later than the handler's `closed`.
   */
  readonly drained: Promise<void>
  private resolveDrained!: () => void
  private timer: NodeJS.Timeout | undefined
  private timerDeadline = 0
  /** Packets arrived, or a reader freed flow control, since the last pass. */
  private stirred = true
  /** The `recv` info handed to quiche for every packet of this connection. */
  readonly recvInfo: { from: HostPort; to: HostPort }
  private sendChunk = new Uint8Array(chunkBytes)
  private sendOffset = 0
  private readonly scratch = new Uint8Array(chunkBytes)
  private moreToSend = false
  /** Streams written recently, re-queued after each flush (see {@link Requeue}). */
  private readonly requeue: Requeue
  /** The peer's stop codes of streams quiche may collect before we write again. */
  private readonly stops: StopCodes

  constructor(
    readonly native: NativeConnection,
    private readonly host: QuicHost,
    readonly remote: HostPort,
    local: HostPort,
  ) {
    this.recvInfo = { from: remote, to: local }
    this.drained = new Promise((resolve) => (this.resolveDrained = resolve))
    this.stops = new StopCodes(native)
    this.requeue = new Requeue(native)
  }

  /** Feeds one received UDP payload to quiche; the pass that follows handles the rest. */
  recv(packet: Uint8Array): void {
    this.stirred = true
    try {
      this.native.recv(packet, this.recvInfo)
    } catch {
      // A packet quiche rejects (undecryptable, duplicate) is dropped; fatal errors close the
      // connection, which the next pass notices.
    }
  }

  get isEstablished(): boolean {
    return this.established
  }

  /** Closing, draining or closed: nothing more can be sent. */
  get isClosed(): boolean {
    return this.reported
  }

  /** Asks for a pass in this event-loop turn's batch (after reading frees flow control). */
  wantPass(): void {
    this.stirred = true
    this.host.schedule(this)
  }

  /** Runs one pass: handshake state, readable streams, datagrams, queued writes, send, timer. */
  process(): void {
    if (this.finished) return
    const native = this.native
    if (this.reported) {
      // Draining: only quiche's timer is left to run, until it closes.
      this.armTimer()
      if (native.isClosed()) this.finish()
      return
    }
    // A handshake that completes in the very packets that close the connection (a server that
    // refuses us after its first flight) opens nothing.
    if (!this.established && native.isEstablished() && !isClosing(native)) {
      this.established = true
      this.handler?.established()
    }
    // Only packets or freed flow control change what is readable; a pass that only sends
    // (a burst continuing) skips the scan.
    if (this.established && this.handler && this.stirred) {
      this.stirred = false
      const readable = [...native.readable()]
      for (const id of readable) {
        this.stops.note(id)
        this.handler.streamReadable(id)
      }
      for (;;) {
        let d: Uint8Array | null
        try {
          d = native.dgramRecvVec()
        } catch {
          d = null
        }
        if (!d) break
        this.handler.datagram(d)
      }
      this.retryWrites()
      this.handler.afterPass?.()
    }
    this.flush()
    if (this.requeue.run()) this.flush()
    this.armTimer()
    // Streams read above may have carried the last words (a CLOSE capsule in the packet with
    // the CONNECTION_CLOSE); the close is reported after them, as soon as it is known.
    if (isClosing(native)) this.report()
    if (native.isClosed()) this.finish()
  }

  /**
   * Reads up to `into.length` bytes from a stream.
   * @returns `[bytesRead, fin]`, or `undefined` when nothing is buffered.
   * @throws {StreamResetError} when the peer reset the stream.
   */
  read(id: number, into: Uint8Array): [number, boolean] | undefined {
    try {
      const r = this.native.streamRecv(id, into)
      return r ?? undefined
    } catch (e) {
      const err = classifyNativeError(e)
      if (err.kind === 'done') return undefined
      if (err.kind === 'stream-reset') throw new StreamResetError(err.code)
      if (err.kind === 'invalid-stream-state') return [0, true]
      throw new StreamClosedError(`stream ${id}: ${JSON.stringify(err)}`)
    }
  }

  /** Reads into an internal buffer and returns a copy (the caller keeps it). */
  readCopy(id: number, max = chunkBytes): [Uint8Array<ArrayBuffer>, boolean] | undefined {
    const r = this.read(id, max < chunkBytes ? this.scratch.subarray(0, max) : this.scratch)
    if (!r) return undefined
    return [this.scratch.slice(0, r[0]), r[1]]
  }

  /**
   * Writes to a stream. Resolves once quiche has taken every byte (so a caller that awaits each
   * write is held back by QUIC flow control); rejects with {@link StreamStoppedError} or
   * {@link StreamClosedError}.
   */
  write(id: number, data: Uint8Array, fin = false): Promise<void> {
    if (this.reported) return Promise.reject(new StreamClosedError('connection closed'))
    const queue = this.pending.get(id)
    if (!queue) {
      let written: number | undefined
      try {
        written = this.trySend(id, data, fin)
      } catch (e) {
        return Promise.reject(e instanceof Error ? e : new Error(String(e)))
      }
      if (written === data.length) {
        // A lone FIN goes out now, before an ACK for the earlier data can arrive: quiche 0.18
        // would take that ACK as completing the stream and never send the FIN.
        if (fin && data.length === 0) this.flush()
        this.host.schedule(this)
        return Promise.resolve()
      }
      data = data.subarray(written ?? 0)
    }
    return new Promise<void>((resolve, reject) => {
      const entry = { data, fin, resolve, reject }
      if (queue) queue.push(entry)
      else this.pending.set(id, [entry])
      this.host.schedule(this)
    })
  }

  /** Sends RESET_STREAM with `code` and fails queued writes. */
  resetStream(id: number, code: number): void {
    this.failWrites(id, new StreamClosedError(`stream ${id} was reset locally`))
    this.shutdown(id, Shutdown.Write, code)
  }

  /** Sends STOP_SENDING with `code`; further incoming data is discarded. */
  stopSending(id: number, code: number): void {
    this.shutdown(id, Shutdown.Read, code)
  }

  /** Queues a datagram. Returns `false` when it was dropped (too large, queue full, closed). */
  sendDatagram(data: Uint8Array): boolean {
    if (this.reported) return false
    try {
      if (this.native.isDgramSendQueueFull()) return false
      this.native.dgramSend(data)
    } catch {
      return false
    }
    this.host.schedule(this)
    return true
  }

  /** The largest datagram payload the peer accepts now, or 0 without datagram support. */
  maxDatagramPayload(): number {
    try {
      return this.native.dgramMaxWritableLen() ?? 0
    } catch {
      return 0
    }
  }

  /** Closes with an application error code (HTTP/3). Idempotent. */
  close(code: number, reason = ''): void {
    this.closeWith(true, code, reason)
  }

  /** Closes with a QUIC transport error (a protocol violation below HTTP/3). */
  closeTransport(code: number, reason = ''): void {
    this.closeWith(false, code, reason)
  }

  /** Called by the endpoint's timer when quiche's timeout elapses. */
  onTimeout(): void {
    this.native.onTimeout()
    this.process()
  }

  /**
   * One `streamSend`. Returns the bytes taken, or `undefined` when quiche took nothing — not
   * even a FIN, which matters for an empty final write.
   */
  private trySend(id: number, data: Uint8Array, fin: boolean): number | undefined {
    let n: number | null
    try {
      n = this.native.streamSend(id, data, fin)
    } catch (e) {
      const err = classifyNativeError(e)
      if (err.kind === 'stream-stopped') throw new StreamStoppedError(err.code)
      if (err.kind !== 'done')
        throw this.stops.goneError(id, `stream ${id}: ${JSON.stringify(err)}`)
      n = null
    }
    if (n === null) return this.whyBlocked(id)
    this.requeue.written(id, fin && n === data.length)
    return n
  }

  /**
   * quiche answers `Done` both for a stream blocked by flow control and for one it has already
   * collected (the peer stopped it and our reading ended it); only the first may wait.
   * @throws {StreamStoppedError} or {StreamClosedError} when the stream is gone.
   */
  private whyBlocked(id: number): undefined {
    try {
      this.native.streamCapacity(id)
    } catch (e) {
      const err = classifyNativeError(e)
      if (err.kind === 'stream-stopped') throw new StreamStoppedError(err.code)
      if (err.kind !== 'done') throw this.stops.goneError(id, `stream ${id} is closed`)
    }
    return undefined
  }

  private retryWrites(): void {
    for (const [id, queue] of this.pending) {
      while (queue.length > 0) {
        const head = queue[0]!
        let written: number | undefined
        try {
          written = this.trySend(id, head.data, head.fin)
        } catch (e) {
          this.failWrites(id, e as Error)
          break
        }
        if (written === undefined) break
        if (written < head.data.length) {
          head.data = head.data.subarray(written)
          break
        }
        queue.shift()
        head.resolve()
      }
      if (queue.length === 0) this.pending.delete(id)
    }
  }

  private failWrites(id: number, error: Error): void {
    const queue = this.pending.get(id)
    if (!queue) return
    this.pending.delete(id)
    for (const w of queue) w.reject(error)
  }

  private shutdown(id: number, direction: number, code: number): void {
    try {
      this.native.streamShutdown(id, direction, code)
    } catch {
      // The stream is already finished in that direction; nothing to tell the peer.
    }
    this.host.schedule(this)
  }

  private flush(): void {
    const native = this.native
    this.moreToSend = false
    for (let sent = 0; ; sent++) {
      if (sent === burstPackets) {
        this.moreToSend = true
        this.host.schedule(this)
        return
      }
      if (this.sendOffset + packetBytes > this.sendChunk.length) {
        // Packets handed to the socket must stay untouched until sent: start a fresh chunk.
        this.sendChunk = new Uint8Array(chunkBytes)
        this.sendOffset = 0
      }
      let r
      try {
        r = native.send(this.sendChunk.subarray(this.sendOffset, this.sendOffset + packetBytes))
      } catch {
        // `Done` is the normal end; anything else will surface as the connection closing.
        return
      }
      if (!r) return
      const [n, info] = r
      this.host.sendPacket(this.sendChunk.subarray(this.sendOffset, this.sendOffset + n), info.to)
      this.sendOffset += n
    }
  }

  /**
   * Keeps one timer at quiche's next deadline. A timer already due no later than the new
   * deadline is kept (an early `onTimeout()` is a no-op in quiche, and the pass after it re-arms),
   * which spares a clearTimeout/setTimeout pair on nearly every pass.
   */
  private armTimer(): void {
    if (this.moreToSend) return
    const ms = this.native.timeout()
    if (ms === null) {
      if (this.timer) clearTimeout(this.timer)
      this.timer = undefined
      return
    }
    const deadline = performance.now() + ms
    if (this.timer && this.timerDeadline <= deadline) return
    if (this.timer) clearTimeout(this.timer)
    this.timerDeadline = deadline
    this.timer = setTimeout(() => {
      this.timer = undefined
      this.onTimeout()
    }, ms)
  }

  private closeWith(app: boolean, code: number, reason: string): void {
    if (this.reported) return
    try {
      this.native.close(app, code, new TextEncoder().encode(reason))
    } catch {
      // Already closing.
    }
    this.host.schedule(this)
  }

  /** Tells the handler the connection is over, once; quiche may still be draining it. */
  private report(): void {
    if (this.reported) return
    this.reported = true
    for (const id of [...this.pending.keys()]) {
      this.failWrites(id, new StreamClosedError('connection closed'))
    }
    this.handler?.closed(closeInfoOf(this.native))
  }

  private finish(): void {
    if (this.finished) return
    this.report()
    this.finished = true
    if (this.timer) clearTimeout(this.timer)
    this.host.forget(this)
    this.resolveDrained()
  }
}
