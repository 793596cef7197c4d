import { classifyNativeError } from './errors.js'
import { Shutdown, type HostPort, type NativeConnection } from './native.js'

/** What the layer above (HTTP/3) hears from a QUIC connection. */
export interface QuicConnectionHandler {
  /** The handshake completed; streams may be opened. */
  established(): void
  /** `id` has data, a FIN or a reset to read. Called on every pass while that is true. */
  streamReadable(id: number): void
  /** A QUIC DATAGRAM frame arrived. The bytes are owned by the callee. */
  datagram(data: Uint8Array): void
  /** The connection is gone; nothing more will be heard. */
  closed(info: QuicCloseInfo): void
  /** Runs at the end of each pass's receive work (stream credit may have grown). */
  afterPass?(): void
}

/** Why a connection ended, from whichever side closed it. */
export interface QuicCloseInfo {
  /** `true` when closed with an application (HTTP/3) error code. */
  app: boolean
  code: number
  reason: string
  /** `'local'`, `'peer'`, or `'idle'` when the idle timeout fired. */
  by: 'local' | 'peer' | 'idle'
}

/** Thrown by {@link QuicConnection.read} when the peer reset the stream (RESET_STREAM). */
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
/** How long a written stream keeps being re-queued with quiche (see {@link QuicConnection.requeue}). */
const requeueMs = 1000
/** Stop codes kept for streams quiche has already collected (see `noteStop`); oldest go first. */
const maxRememberedStops = 1024
const empty = new Uint8Array(0)

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
  private finished = false
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
  /** Streams written recently: id → whether their FIN is written, and until when to re-queue. */
  private readonly recent = new Map<number, { fin: boolean; until: number }>()
  /** Bidirectional streams the peer stopped (STOP_SENDING): id → the peer's code. */
  private readonly stops = new Map<number, number>()

  constructor(
    readonly native: NativeConnection,
    private readonly host: QuicHost,
    readonly remote: HostPort,
    local: HostPort,
  ) {
    this.recvInfo = { from: remote, to: local }
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

  get isClosed(): boolean {
    return this.finished
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
    if (!this.established && native.isEstablished()) {
      this.established = true
      this.handler?.established()
    }
    // Only packets or freed flow control change what is readable; a pass that only sends
    // (a burst continuing) skips the scan.
    if (this.established && this.handler && this.stirred) {
      this.stirred = false
      const readable = [...native.readable()]
      for (const id of readable) {
        this.noteStop(id)
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
    if (this.requeue()) this.flush()
    this.armTimer()
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
    if (this.finished) return false
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
    if (this.finished) return
    try {
      this.native.close(true, code, new TextEncoder().encode(reason))
    } catch {
      // Already closing.
    }
    this.host.schedule(this)
  }

  /** Closes with a QUIC transport error (a protocol violation below HTTP/3). */
  closeTransport(code: number, reason = ''): void {
    if (this.finished) return
    try {
      this.native.close(false, code, new TextEncoder().encode(reason))
    } catch {
      // Already closing.
    }
    this.host.schedule(this)
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
      if (err.kind !== 'done') throw this.goneError(id, `stream ${id}: ${JSON.stringify(err)}`)
      n = null
    }
    if (n === null) return this.whyBlocked(id)
    const finWritten = this.recent.get(id)?.fin ?? false
    this.recent.set(id, {
      fin: finWritten || (fin && n === data.length),
      until: performance.now() + requeueMs,
    })
    return n
  }

  /**
   * Works around quiche 0.18 dropping a stream from its send queue when a packet has no room left
   * for the stream's frame header: such a stream is only queued again by its next `stream_send`,
   * so a last chunk or a lone FIN could wait forever. An empty `stream_send` (with the FIN flag
   * once the FIN is written) puts it back in the queue and is a no-op otherwise; we issue one for
   * each recently written stream after every flush.
   * @returns whether any stream was re-queued... conservatively `true` when any was touched.
   */
  private requeue(): boolean {
    if (this.recent.size === 0) return false
    const now = performance.now()
    for (const [id, entry] of this.recent) {
      if (now > entry.until) {
        this.recent.delete(id)
        continue
      }
      try {
        this.native.streamSend(id, empty, entry.fin)
      } catch {
        this.recent.delete(id) // finished, reset or stopped: nothing left to send
      }
    }
    return this.recent.size > 0
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
      if (err.kind !== 'done') throw this.goneError(id, `stream ${id} is closed`)
    }
    return undefined
  }

  /**
   * quiche collects a bidirectional stream once the peer has stopped our sending (STOP_SENDING)
   * and we have read its sending to the end, often in the very read that takes the FIN; a later
   * write then finds no stream and could only say "closed", where WebTransport reports the
   * peer's code. So a readable bidirectional stream's stop code is noted before it is read.
   */
  private noteStop(id: number): void {
    // A readable unidirectional stream is the peer's: we never write to it.
    if ((id & 0x2) !== 0) return
    try {
      this.native.streamCapacity(id)
    } catch (e) {
      const err = classifyNativeError(e)
      if (err.kind !== 'stream-stopped' || this.stops.get(id) === err.code) return
      this.stops.set(id, err.code)
      if (this.stops.size > maxRememberedStops) this.stops.delete(this.stops.keys().next().value!)
    }
  }

  /** Why a write to a stream quiche no longer knows failed: the peer's stop, if it sent one. */
  private goneError(id: number, message: string): Error {
    const code = this.stops.get(id)
    return code === undefined ? new StreamClosedError(message) : new StreamStoppedError(code)
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

  private finish(): void {
    if (this.finished) return
    this.finished = true
    if (this.timer) clearTimeout(this.timer)
    for (const id of [...this.pending.keys()]) {
      this.failWrites(id, new StreamClosedError('connection closed'))
    }
    const native = this.native
    const peer = native.peerError()
    const local = native.localError()
    const err = peer ?? local
    const info: QuicCloseInfo = {
      app: err?.isApp ?? false,
      code: err?.errorCode ?? 0,
      reason: err ? new TextDecoder().decode(err.reason) : '',
      by: native.isTimedOut() && !err ? 'idle' : peer ? 'peer' : 'local',
    }
    this.host.forget(this)
    this.handler?.closed(info)
  }
}
