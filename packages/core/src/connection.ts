import { ConnectionError, RecordError } from './errors.js'
import type { PublicKey } from './identity.js'
import { AsyncQueue } from './internal/queue.js'
import type { HandshakeResult } from './secure/handshake.js'
import { datagramOverhead } from './secure/record-format.js'
import {
  type AuthenticatedClose,
  RecordLayer,
  type RecordLayerOptions,
} from './secure/record-layer.js'
import { maxCloseReasonBytes } from './secure/record-format.js'
import { utf8 } from './internal/bytes.js'
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
  /**
   * Never sent: reported locally when an encrypted connection's transport session closed
   * without the peer's authenticated close record, so nobody vouches for its code (a relay
   * may have forged it). The transport's code and reason are in
   * {@link ConnectionCloseInfo.transport}.
   */
  UNAUTHENTICATED_CLOSE: 0xffff_ff06,
  /**
   * Sent by the side that closes an encrypted connection because too many records, stream
   * openings and datagrams failed to authenticate under its peer's keys (2^20, the integrity
   * limit; datagrams then fail with `RecordError` `TOO_MANY`): someone on the path is forging
   * them.
   */
  INTEGRITY_LIMIT: 0xffff_ff07,
} as const

/** How a connection ended. */
export interface ConnectionCloseInfo {
  /**
   * The close code (see {@link CloseCode}); {@link CloseCode.LOST} when the transport failed;
   * on an encrypted connection, {@link CloseCode.UNAUTHENTICATED_CLOSE} when the transport
   * closed without the peer's authenticated close.
   */
  code: number
  /** The close reason, `''` when none was given. */
  reason: string
  /**
   * Whether the peer closed it (or, with {@link CloseCode.LOST}, the network), rather than
   * this side. On an encrypted connection `true` with a code other than `LOST` means the
   * peer's close record authenticated: the code and reason are the peer's own.
   * {@link CloseCode.UNAUTHENTICATED_CLOSE} comes with `false`: nobody known closed it.
   */
  remote: boolean
  /**
   * On an encrypted connection closed by the transport alone
   * ({@link CloseCode.UNAUTHENTICATED_CLOSE}): the code and reason the transport reported,
   * which anyone on the path may have chosen.
   */
  transport?: {
    /** The transport's close code, unauthenticated. */
    code: number
    /** The transport's close reason, unauthenticated. */
    reason: string
  }
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
 * On an encrypted connection, how long a transport close waits for close records still being
 * read (the peer's close stream may arrive with, or just after, the transport's close), and how
 * long a closer waits for its close stream to go out before it closes the transport.
 */
const closeRecordGraceMs = 1000

/**
 * What {@link Connection.establish} needs; endpoints make these after the handshake.
 * @internal
 */
export interface ConnectionInit {
  session: Session
  handshake: HandshakeResult
  isDialer: boolean
  path: ConnectionPath
  /** Lower record-layer limits, for tests only. */
  _recordLimits?: RecordLayerOptions['_limits']
}

/**
 * One authenticated connection to a peer for one ALPN. Streams are web streams with
 * backpressure; on an encrypted connection they carry end-to-end encrypted records under the
 * hood, so the API is the same on every path.
 */
export class Connection {
  /**
   * Resolves once, with the close code and reason, whichever side closed (never rejects). On
   * an encrypted connection a close reported with `remote: true` is the peer's authenticated
   * close record; a transport close without one is {@link CloseCode.UNAUTHENTICATED_CLOSE}.
   */
  readonly closed: Promise<ConnectionCloseInfo>
  private readonly incomingBi = new AsyncQueue<BidiStream>()
  private readonly incomingUni = new AsyncQueue<ReadableStream<Uint8Array>>()
  private incomingDatagrams: AsyncQueue<Uint8Array> | undefined
  private datagramWriter: WritableStreamDefaultWriter<Uint8Array> | undefined
  private closedLocally = false
  /** This side's close, as it asked for it. */
  private localClose: { code: number; reason: string } | undefined
  /** The peer's close record, once it authenticated. */
  private peerClose: AuthenticatedClose | undefined
  /** Incoming uni streams being read: any may be the peer's close record. */
  private readonly pendingUni = new Set<Promise<unknown>>()
  private uniPumpDone: Promise<void> = Promise.resolve()
  private resolveClosed!: (info: ConnectionCloseInfo) => void
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
    this.closed = new Promise((resolve) => (this.resolveClosed = resolve))
    if (records) {
      // Past the integrity limit the keys may no longer be trusted to reject forgeries.
      records.onIntegrityLimit = () =>
        this.closeWith(
          CloseCode.INTEGRITY_LIMIT,
          'too many records, openings or datagrams failed to authenticate (integrity limit)',
        )
    }
    session.closed.then(
      (info: SessionCloseInfo) => this.transportClosed(info.closeCode ?? 0, info.reason ?? ''),
      (e: unknown) => {
        const reason = e instanceof Error ? e.message : String(e)
        this.settle({ code: CloseCode.LOST, reason, remote: true })
      },
    )
    void this.pumpStreams(session.incomingBidirectionalStreams, this.incomingBi, (raw) =>
      records ? records.acceptedBidi(raw) : raw,
    )
    this.uniPumpDone = this.pumpStreams(
      session.incomingUnidirectionalStreams,
      this.incomingUni,
      (raw) => (records ? this.acceptUni(records, raw) : raw),
    )
  }

  /**
   * An incoming uni stream on an encrypted connection: an application stream, or the peer's
   * close record (then the connection closes with its code and reason, and no stream is
   * delivered: the rejection skips it).
   */
  private async acceptUni(
    records: RecordLayer,
    raw: ReadableStream<Uint8Array>,
  ): Promise<ReadableStream<Uint8Array>> {
    const accepting = records.acceptedIncomingUni(raw)
    this.pendingUni.add(accepting)
    try {
      const incoming = await accepting
      if (incoming.readable) return incoming.readable
      this.peerClosed(incoming.close)
      throw new ConnectionError('CLOSED', 'the peer closed the connection')
    } finally {
      this.pendingUni.delete(accepting)
    }
  }

  /** The peer's close record authenticated: that is how the connection ended. */
  private peerClosed(close: AuthenticatedClose): void {
    this.peerClose ??= close
    if (this.closedLocally) return
    this.settle({ code: close.code, reason: close.reason, remote: true })
    // Our transport session too, in case the relay holds back the peer's transport close.
    this.session.close({ closeCode: close.code, reason: close.reason })
  }

  /** The transport session closed with `code` and `reason`, which only TLS can vouch for. */
  private transportClosed(code: number, reason: string): void {
    if (!this.records) {
      this.settle({ code, reason, remote: !this.closedLocally })
      return
    }
    if (this.localClose) {
      this.settle({ ...this.localClose, remote: false })
      return
    }
    // The peer's close stream may still be on its way in, with or just behind the transport
    // close: wait for the streams already arriving (bounded), never for streams to come.
    const arriving = Promise.all([this.uniPumpDone, ...this.pendingUni])
    void settledWithin(arriving, closeRecordGraceMs).then(() => {
      if (this.peerClose) {
        this.settle({ ...this.peerClose, remote: true })
        return
      }
      this.settle({
        code: CloseCode.UNAUTHENTICATED_CLOSE,
        reason: `the transport closed without the peer's authenticated close (transport code ${code}${reason ? `: ${reason}` : ''})`,
        remote: false,
        transport: { code, reason },
      })
    })
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
          _limits: init._recordLimits,
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
   * {@link Connection.closed} resolves with them. On an encrypted connection they travel in an
   * authenticated close record ahead of the transport's close, so the peer knows they are
   * this side's. Idempotent.
   * @throws {RangeError} for a code outside `[0, CloseCode.firstReserved)`, or a reason above
   *   1024 bytes of UTF-8.
   */
  close(code: number = CloseCode.NORMAL, reason = ''): void {
    if (!Number.isInteger(code) || code < 0 || code >= CloseCode.firstReserved) {
      throw new RangeError(`code must be an integer in [0, ${CloseCode.firstReserved})`)
    }
    if (utf8(reason).length > maxCloseReasonBytes) {
      throw new RangeError(`reason must be at most ${maxCloseReasonBytes} bytes of UTF-8`)
    }
    this.closeWith(code, reason)
  }

  /**
   * Closes with any code, ferry's reserved ones included (for endpoints and routers). A reason
   * above 1024 bytes of UTF-8 is cut (at a character boundary).
   * @internal
   */
  closeWith(code: number, reason: string): void {
    if (this.closeInfo || this.closedLocally) return
    this.closedLocally = true
    reason = clipReason(reason)
    this.localClose = { code, reason }
    const records = this.records
    if (!records) {
      this.session.close({ closeCode: code, reason })
      return
    }
    // The close record first, on a uni stream of its own; the transport close once the stream
    // has gone out (bounded: a peer or relay that stalls it cannot hold the close).
    const sending = this.session
      .createUnidirectionalStream()
      .then((writable) => records.sendClose(writable, code, reason))
    void settledWithin(sending, closeRecordGraceMs).then(() =>
      this.session.close({ closeCode: code, reason }),
    )
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

  /** Settles {@link Connection.closed} with `info`, the first time only. */
  private settle(info: ConnectionCloseInfo): void {
    if (this.closeInfo) return
    if (info.code === CloseCode.LOST) info.remote = true
    this.closeInfo = info
    this.resolveClosed(info)
    const error = this.closedError()
    this.incomingBi.end(error)
    this.incomingUni.end(error)
    this.incomingDatagrams?.end(error)
    for (const s of this.incomingBi.drain()) s.readable.cancel(error).catch(() => {})
    for (const s of this.incomingUni.drain()) s.cancel(error).catch(() => {})
  }

  private closedError(): ConnectionError {
    const info = this.closeInfo
    if (!info) return new ConnectionError('CLOSED', 'the connection is closing')
    if (info.code === CloseCode.LOST) {
      return new ConnectionError('LOST', `the connection was lost: ${info.reason}`)
    }
    if (info.code === CloseCode.UNAUTHENTICATED_CLOSE) {
      return new ConnectionError('CLOSED', info.reason, info.code, info.reason)
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
  ): Promise<void> {
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
    return pump().catch(() => {
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
          } catch (e) {
            // Forged, replayed or stale: unreliable datagrams are dropped, and counted.
            this.counters.datagramsRejected++
            // Past the integrity limit the record layer has the connection closed.
            if (e instanceof RecordError && e.code === 'TOO_MANY') return
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

/** `reason`, cut to at most 1024 bytes of UTF-8 at a character boundary. */
function clipReason(reason: string): string {
  if (utf8(reason).length <= maxCloseReasonBytes) return reason
  let clipped = ''
  let bytes = 0
  for (const char of reason) {
    bytes += utf8(char).length
    if (bytes > maxCloseReasonBytes) break
    clipped += char
  }
  return clipped
}

/** Waits until `promise` settles, but at most `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  await Promise.race([promise.then(noop, noop), bound])
  clearTimeout(timer)
}

function noop(): void {}

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
