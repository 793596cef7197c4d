/**
 * A virtual connection through a relay, seen as a {@link Session}: the same shape as a
 * direct WebTransport session, so the handshake and `Connection` run on it unchanged.
 */
import type {
  BidiStream,
  Session,
  SessionCloseInfo,
  SessionDatagrams,
  SessionStats,
} from '../session.js'
import { varintLength } from '../codec/varint.js'
import { encodeDatagram, encodeHeader } from './frames.js'

/** What a virtual session needs from the relay client that carries it. */
export interface VirtualSessionHost {
  /** The session to the relay. */
  readonly session: Session
  /** Tells the relay (and through it the peer) that connection `conn` closed. */
  sendClose(conn: number, code: number, reason: string): void
  /** Sends one datagram on the relay session, best effort. */
  sendDatagram(bytes: Uint8Array): void
  /** The virtual session ended: forget it. */
  forget(conn: number): void
}

/** Incoming datagrams a virtual session holds for its reader; newer ones are dropped past it. */
const datagramQueue = 128
/**
 * How long unidirectional streams still arrive after the peer's close: the peer's last
 * stream (its authenticated close record) and its CLOSE travel apart, and may swap places.
 */
export const lateStreamGraceMs = 1000

/** Writes `header` in front of everything the stream's writer will write. */
export function writeHeader(writable: WritableStream<Uint8Array>, header: Uint8Array): void {
  const writer = writable.getWriter()
  // Queued ahead of any later write; its failure is the stream's, seen by whoever writes next.
  writer.write(header).catch(() => undefined)
  writer.releaseLock()
}

/** One virtual connection on a relay session; see the module comment. */
export class VirtualSession implements Session {
  readonly ready: Promise<void> = Promise.resolve()
  readonly closed: Promise<SessionCloseInfo>
  readonly incomingBidirectionalStreams: ReadableStream<BidiStream>
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>
  readonly datagrams: SessionDatagrams
  private bidi!: ReadableStreamDefaultController<BidiStream>
  private uni!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>
  private datagramController!: ReadableStreamDefaultController<Uint8Array>
  private resolveClosed!: (info: SessionCloseInfo) => void
  private rejectClosed!: (error: unknown) => void
  private ended = false
  /** Whether incoming unidirectional streams are still taken (a while after a remote close). */
  private takingUni = true
  /** Streams remembered before the forgotten ones are pruned. */
  private pruneAt = 256
  /**
   * This session's streams, reset when it closes (as a WebTransport session resets its
   * streams). Weakly held: a stream nobody holds any more is nobody's concern.
   */
  private readonly streams = new Set<WeakRef<Partial<BidiStream>>>()

  constructor(
    private readonly host: VirtualSessionHost,
    /** The connection id on this side's relay session. */
    readonly conn: number,
    /** The ALPN this side chose (an accepted connection), or `undefined` (a dialed one). */
    readonly protocol: string | undefined,
    /** The dialer's CONNECT stream, handed out by the first `createBidirectionalStream()`. */
    private first: BidiStream | undefined,
  ) {
    this.closed = new Promise((resolve, reject) => {
      this.resolveClosed = resolve
      this.rejectClosed = reject
    })
    this.closed.catch(() => undefined)
    this.incomingBidirectionalStreams = new ReadableStream({ start: (c) => void (this.bidi = c) })
    this.incomingUnidirectionalStreams = new ReadableStream({ start: (c) => void (this.uni = c) })
    const readable = new ReadableStream<Uint8Array>(
      { start: (c) => void (this.datagramController = c) },
      { highWaterMark: datagramQueue },
    )
    const writable = new WritableStream<Uint8Array>({
      write: (payload) => {
        if (this.ended) throw new TypeError('the session is closed')
        this.host.sendDatagram(encodeDatagram(this.conn, payload))
      },
    })
    const overhead = varintLength(conn)
    this.datagrams = {
      readable,
      writable,
      get maxDatagramSize() {
        return Math.max(0, host.session.datagrams.maxDatagramSize - overhead)
      },
    }
    if (first) this.track(first)
  }

  async createBidirectionalStream(): Promise<BidiStream> {
    this.throwIfEnded()
    if (this.first) {
      const first = this.first
      this.first = undefined
      return first
    }
    const stream = await this.host.session.createBidirectionalStream()
    writeHeader(stream.writable, encodeHeader({ kind: 'stream', conn: this.conn }))
    return this.track(stream)
  }

  async createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    this.throwIfEnded()
    const writable = await this.host.session.createUnidirectionalStream()
    writeHeader(writable, encodeHeader({ kind: 'stream', conn: this.conn }))
    return this.track({ writable }).writable
  }

  /** Closes this virtual connection: the relay and the peer are told, its streams reset. */
  close(info: SessionCloseInfo = {}): void {
    if (this.ended) return
    const code = info.closeCode ?? 0
    const reason = info.reason ?? ''
    this.host.sendClose(this.conn, code, reason)
    this.finish({ closeCode: code, reason })
    const reset = new Error('the session closed')
    for (const ref of this.streams) {
      const stream = ref.deref()
      stream?.readable?.cancel(reset).catch(() => undefined)
      stream?.writable?.abort(reset).catch(() => undefined)
    }
    this.streams.clear()
  }

  getStats(): Promise<SessionStats> {
    return this.host.session.getStats?.() ?? Promise.resolve({})
  }

  /** A stream the relay opened for this connection (its header already read). */
  deliverBidi(stream: BidiStream): void {
    if (this.ended) return void cancel(stream)
    this.bidi.enqueue(this.track(stream))
  }

  /** A uni stream the relay opened for this connection (its header already read). */
  deliverUni(readable: ReadableStream<Uint8Array>): void {
    if (!this.takingUni) return void cancel({ readable })
    this.uni.enqueue(this.track({ readable }).readable)
  }

  /** A datagram for this connection; dropped when the reader is behind. */
  deliverDatagram(payload: Uint8Array): void {
    if (this.ended) return
    const room = this.datagramController.desiredSize
    if (room !== null && room > 0) this.datagramController.enqueue(payload)
  }

  /**
   * The peer (or the relay, with a relay code) closed this connection. Its streams are left
   * to end as the relay ends them, and unidirectional streams are still taken for
   * {@link lateStreamGraceMs}, so a stream carrying the peer's last words is still read.
   */
  remoteClosed(code: number, reason: string): void {
    if (this.ended) return
    this.finish({ closeCode: code, reason }, lateStreamGraceMs)
  }

  /** The session to the relay was lost: this connection with it. */
  lost(error: unknown): void {
    if (this.ended) return
    this.ended = true
    this.takingUni = false
    this.host.forget(this.conn)
    this.rejectClosed(error)
    for (const controller of [this.bidi, this.uni, this.datagramController]) {
      try {
        controller.error(error)
      } catch {
        // Already closed.
      }
    }
  }

  private finish(info: SessionCloseInfo, uniGraceMs = 0): void {
    this.ended = true
    this.resolveClosed(info)
    const end = (controller: { close(): void }): void => {
      try {
        controller.close()
      } catch {
        // Already closed.
      }
    }
    end(this.bidi)
    end(this.datagramController)
    const endUni = (): void => {
      this.takingUni = false
      end(this.uni)
      // Only now do its late streams stop finding it.
      this.host.forget(this.conn)
    }
    if (uniGraceMs === 0) endUni()
    else setTimeout(endUni, uniGraceMs)
  }

  private throwIfEnded(): void {
    if (this.ended) throw new TypeError('the session is closed')
  }

  /** Remembers `stream`, to reset it if the session closes. */
  private track<T extends Partial<BidiStream>>(stream: T): T {
    if (this.streams.size >= this.pruneAt) {
      for (const ref of this.streams) if (!ref.deref()) this.streams.delete(ref)
      this.pruneAt = Math.max(256, this.streams.size * 2)
    }
    this.streams.add(new WeakRef(stream))
    return stream
  }
}

function cancel(stream: Partial<BidiStream>): void {
  const reason = new Error('the session is closed')
  stream.readable?.cancel(reason).catch(() => undefined)
  stream.writable?.abort(reason).catch(() => undefined)
}
