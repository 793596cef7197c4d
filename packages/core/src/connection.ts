import { ConnectionError } from './errors.js'
import type { PublicKey } from './identity.js'
import { AsyncQueue } from './internal/queue.js'
import type { HandshakeResult } from './secure/handshake.js'
import { datagramOverhead } from './secure/record-format.js'
import { RecordLayer } from './secure/record-layer.js'
import type { BidiStream, Session, SessionCloseInfo } from './session.js'

/**
 * Close codes ferry itself uses, from the top of the 32-bit WebTransport range. Applications
 * close with any code below {@link CloseCode.firstReserved}.
 */
export const CloseCode = {
  /** A normal close. */
  NORMAL: 0,
  /** The first code reserved for ferry; applications use codes below it. */
  firstReserved: 0xffff_ff00,
  /** The acceptor serves none of the offered ALPNs. */
  ALPN_REFUSED: 0xffff_ff01,
  /** The authenticated handshake failed (the reason names the HandshakeError code). */
  HANDSHAKE_FAILED: 0xffff_ff02,
  /** The endpoint is shutting down. */
  ENDPOINT_CLOSING: 0xffff_ff03,
  /** The peer broke a ferry protocol rule after the handshake. */
  PROTOCOL_ERROR: 0xffff_ff04,
  /** Never sent: reported locally when the transport was lost without a close. */
  LOST: 0xffff_ff05,
} as const

/** How a connection ended. */
export interface ConnectionCloseInfo {
  /** The close code (see {@link CloseCode}); {@link CloseCode.LOST} when the transport failed. */
  code: number
  /** The close reason, `''` when none was given. */
  reason: string
  /** Whether the peer (or the network) closed it, rather than this side. */
  remote: boolean
}

/** Whether the connection is one WebTransport session to the peer, or carried by a relay. */
export type ConnectionPath = 'direct' | 'relay'

/** Counters of one connection. */
export interface ConnectionStats {
  /** Bytes the transport sent, ferry's framing and encryption included. */
  bytesSent: number
  /** Bytes the transport received, ferry's framing and encryption included. */
  bytesReceived: number
  /** Streams this side opened. */
  streamsOpened: number
  /** Streams the peer opened that reached this side's application. */
  streamsAccepted: number
  /** Datagrams this side sent. */
  datagramsSent: number
  /** Datagrams from the peer that reached this side's application. */
  datagramsReceived: number
  /** Datagrams dropped because they did not authenticate (encrypted connections). */
  datagramsRejected: number
  /** Smoothed round-trip time in milliseconds, where the platform reports it. */
  rtt: number | undefined
}

/** Datagrams held for a reader that is not reading; older ones are dropped beyond this. */
const datagramQueueLimit = 128

/**
 * What {@link Connection.establish} needs; endpoints make these after the handshake.
 * @internal
 */
export interface ConnectionInit {
  session: Session
  handshake: HandshakeResult
  isDialer: boolean
  path: ConnectionPath
}

/**
 * One authenticated connection to a peer for one ALPN. Streams are web streams with
 * backpressure; on an encrypted connection they carry end-to-end encrypted records under the
 * hood, so the API is the same on every path.
 */
export class Connection {
  /** Resolves once, with the close code and reason, whichever side closed (never rejects). */
  readonly closed: Promise<ConnectionCloseInfo>
  private readonly incomingBi = new AsyncQueue<BidiStream>()
  private readonly incomingUni = new AsyncQueue<ReadableStream<Uint8Array>>()
  private incomingDatagrams: AsyncQueue<Uint8Array> | undefined
  private datagramWriter: WritableStreamDefaultWriter<Uint8Array> | undefined
  private closedLocally = false
  private closeInfo: ConnectionCloseInfo | undefined
  private readonly counters = {
    streamsOpened: 0,
    streamsAccepted: 0,
    datagramsSent: 0,
    datagramsReceived: 0,
    datagramsRejected: 0,
  }

  private constructor(
    private readonly session: Session,
    private readonly handshake: HandshakeResult,
    private readonly records: RecordLayer | undefined,
    /** How the connection reaches the peer. */
    readonly path: ConnectionPath,
  ) {
    this.closed = session.closed.then(
      (info: SessionCloseInfo) => this.settle(info.closeCode ?? 0, info.reason ?? ''),
      (e: unknown) => this.settle(CloseCode.LOST, e instanceof Error ? e.message : String(e)),
    )
    this.pumpStreams(session.incomingBidirectionalStreams, this.incomingBi, (raw) =>
      records ? records.acceptedBidi(raw) : raw,
    )
    this.pumpStreams(session.incomingUnidirectionalStreams, this.incomingUni, (raw) =>
      records ? records.acceptedUni(raw) : raw,
    )
  }

  /**
   * Wraps a session whose handshake succeeded. The session's first incoming bidirectional
   * stream must already have been taken (it carried the handshake). Endpoints call this.
   * @internal
   */
  static async establish(init: ConnectionInit): Promise<Connection> {
    const { handshake } = init
    const records = handshake.encrypted
      ? await RecordLayer.create({
          sendKey: handshake.keys.send,
          receiveKey: handshake.keys.receive,
          isDialer: init.isDialer,
        })
      : undefined
    return new Connection(init.session, handshake, records, init.path)
  }

  /** The peer's authenticated identity. */
  get remoteId(): PublicKey {
    return this.handshake.remoteId
  }

  /** The application protocol both ends confirmed in the handshake. */
  get alpn(): string {
    return this.handshake.alpn
  }

  /** Whether ferry encrypts this connection's streams and datagrams end to end itself. */
  get encrypted(): boolean {
    return this.records !== undefined
  }

  /** Noise's handshake hash: a unique, authenticated name of this connection. */
  get handshakeHash(): Uint8Array {
    return this.handshake.handshakeHash.slice()
  }

  /** The largest payload {@link Connection.sendDatagram} takes. */
  get maxDatagramSize(): number {
    const max = this.session.datagrams.maxDatagramSize
    return this.records ? Math.max(0, max - datagramOverhead) : max
  }

  /**
   * Opens a bidirectional stream.
   * @throws {ConnectionError} once the connection is closed.
   */
  async openBi(): Promise<BidiStream> {
    this.throwIfClosed()
    const raw = await this.session.createBidirectionalStream().catch((e) => this.fail(e))
    this.counters.streamsOpened++
    return this.records ? this.records.openedBidi(raw) : raw
  }

  /**
   * Opens a unidirectional stream to the peer.
   * @throws {ConnectionError} once the connection is closed.
   */
  async openUni(): Promise<WritableStream<Uint8Array>> {
    this.throwIfClosed()
    const raw = await this.session.createUnidirectionalStream().catch((e) => this.fail(e))
    this.counters.streamsOpened++
    return this.records ? this.records.openedUni(raw) : raw
  }

  /**
   * Bidirectional streams the peer opens, until the connection closes (then the iteration
   * ends; {@link Connection.closed} says why). Every call shares one queue: each stream reaches
   * one consumer.
   */
  bidiStreams(): AsyncGenerator<BidiStream, void, undefined> {
    return this.incomingBi.values()
  }

  /** Unidirectional streams the peer opens, until the connection closes; as {@link bidiStreams}. */
  uniStreams(): AsyncGenerator<ReadableStream<Uint8Array>, void, undefined> {
    return this.incomingUni.values()
  }

  /**
   * Sends one unreliable datagram.
   * @throws {RangeError} when `payload` is above {@link Connection.maxDatagramSize}.
   * @throws {ConnectionError} once the connection is closed.
   */
  async sendDatagram(payload: Uint8Array): Promise<void> {
    this.throwIfClosed()
    if (payload.length > this.maxDatagramSize) {
      throw new RangeError(`payload: ${payload.length} bytes is above maxDatagramSize`)
    }
    const bytes = this.records ? await this.records.sealDatagram(payload) : payload
    this.datagramWriter ??= this.session.datagrams.writable.getWriter()
    await this.datagramWriter.write(bytes).catch((e) => this.fail(e))
    this.counters.datagramsSent++
  }

  /**
   * Datagrams from the peer, until the connection closes. Every call shares one queue (each
   * datagram reaches one reader); at most 128 wait, older ones are dropped beyond that.
   */
  datagrams(): AsyncGenerator<Uint8Array, void, undefined> {
    return this.startDatagrams().values()
  }

  /**
   * Closes the connection with an application `code` and `reason`; the peer's
   * {@link Connection.closed} resolves with them. Idempotent.
   * @throws {RangeError} for a code outside `[0, CloseCode.firstReserved)`.
   */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (!Number.isInteger(code) || code < 0 || code >= CloseCode.firstReserved) {
      throw new RangeError(`code must be an integer in [0, ${CloseCode.firstReserved})`)
    }
    this.closeWith(code, reason)
  }

  /**
   * Closes with any code, ferry's reserved ones included (for endpoints and routers).
   * @internal
   */
  closeWith(code: number, reason: string): void {
    if (this.closeInfo || this.closedLocally) return
    this.closedLocally = true
    this.session.close({ closeCode: code, reason })
  }

  /** Counters, with the transport's byte counts and RTT where it reports them. */
  async stats(): Promise<ConnectionStats> {
    const transport = (await this.session.getStats?.().catch(() => undefined)) ?? {}
    return {
      bytesSent: transport.bytesSent ?? 0,
      bytesReceived: transport.bytesReceived ?? 0,
      rtt: transport.smoothedRtt,
      ...this.counters,
    }
  }

  /** Closes with code 0 and waits for {@link Connection.closed}: `await using conn = …`. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.closeWith(CloseCode.NORMAL, '')
    await this.closed
  }

  private settle(code: number, reason: string): ConnectionCloseInfo {
    const info = { code, reason, remote: !this.closedLocally || code === CloseCode.LOST }
    this.closeInfo = info
    const error = this.closedError()
    this.incomingBi.end(error)
    this.incomingUni.end(error)
    this.incomingDatagrams?.end(error)
    for (const s of this.incomingBi.drain()) s.readable.cancel(error).catch(() => {})
    for (const s of this.incomingUni.drain()) s.cancel(error).catch(() => {})
    return info
  }

  private closedError(): ConnectionError {
    const info = this.closeInfo
    if (!info) return new ConnectionError('CLOSED', 'the connection is closing')
    if (info.code === CloseCode.LOST) {
      return new ConnectionError('LOST', `the connection was lost: ${info.reason}`)
    }
    const by = info.remote ? 'the peer' : 'this side'
    const why = info.reason ? `: ${info.reason}` : ''
    return new ConnectionError(
      'CLOSED',
      `closed by ${by} with code ${info.code}${why}`,
      info.code,
      info.reason,
    )
  }

  private throwIfClosed(): void {
    if (this.closeInfo || this.closedLocally) throw this.closedError()
  }

  /** Rethrows a transport failure as a ConnectionError once the connection is closed. */
  private fail(e: unknown): never {
    if (this.closeInfo || this.closedLocally) throw this.closedError()
    throw e
  }

  /**
   * Moves the session's incoming streams into `queue`, through `wrap` (which reads an
   * encrypted stream's preamble). A stream that fails to wrap (a replayed or garbage
   * preamble) is cancelled and skipped; the connection goes on.
   */
  private pumpStreams<Raw, T>(
    incoming: ReadableStream<Raw>,
    queue: AsyncQueue<T>,
    wrap: (raw: Raw) => T | Promise<T>,
  ): void {
    const reader = incoming.getReader()
    const pump = async (): Promise<void> => {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        Promise.resolve(wrap(value)).then(
          (stream) => {
            this.counters.streamsAccepted++
            if (!queue.push(stream)) cancelStream(stream)
          },
          (e: unknown) => cancelStream(value, e),
        )
      }
    }
    pump().catch(() => {
      // The session failed; `closed` reports why and ends the queues.
    })
  }

  private startDatagrams(): AsyncQueue<Uint8Array> {
    if (this.incomingDatagrams) return this.incomingDatagrams
    const queue = new AsyncQueue<Uint8Array>()
    this.incomingDatagrams = queue
    if (this.closeInfo) {
      queue.end(this.closedError())
      return queue
    }
    const reader = this.session.datagrams.readable.getReader()
    const pump = async (): Promise<void> => {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) return
        let payload = value
        if (this.records) {
          try {
            payload = await this.records.unsealDatagram(value)
          } catch {
            // Forged, replayed or stale: unreliable datagrams are dropped, and counted.
            this.counters.datagramsRejected++
            continue
          }
        }
        this.counters.datagramsReceived++
        if (queue.size >= datagramQueueLimit) queue.dropOldest()
        queue.push(payload)
      }
    }
    pump().catch(() => {})
    return queue
  }
}

/** Cancels whatever kind of stream `stream` is, ignoring failures (it is being discarded). */
function cancelStream(stream: unknown, reason?: unknown): void {
  if (stream instanceof ReadableStream) {
    stream.cancel(reason).catch(() => {})
  } else if (stream && typeof stream === 'object' && 'readable' in stream) {
    const bidi = stream as BidiStream
    bidi.readable.cancel(reason).catch(() => {})
    bidi.writable.abort(reason).catch(() => {})
  }
}
