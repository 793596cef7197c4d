import { H3 } from '../errors.js'
import type { Http3Connection, Http3Limits, WebTransportHandler } from '../h3/connection.js'
import type { QuicCloseInfo, QuicConnection } from '../quic/connection.js'
import { ConnectStream, type ConnectStreamEvents } from './connect-stream.js'
import { EarlyStreams, type HeldStream } from './early-streams.js'

/** How long a stream may wait for the CONNECT of the session it names. */
const earlyStreamMs = 2000
/** Request streams remembered as not (or no longer) sessions. */
const maxRetired = 1024

/** What the host tells a session. */
export interface SessionEvents extends ConnectStreamEvents {
  /** Streams of the session open now, for `maxStreamsPerSession`. */
  readonly streamCount: number
  /** A peer stream of the session, with the bytes read past its prefix. */
  acceptStream(id: number, bidi: boolean, leftover: Uint8Array | undefined, fin: boolean): void
  /** Stream `id` of the session has something to read. */
  streamReadable(id: number): void
  /** A datagram of the session; the callee owns the bytes. */
  datagram(payload: Uint8Array): void
  /** The connection is gone. */
  connectionClosed(info: QuicCloseInfo): void
  /** Closes the session (server shutdown). */
  close(info: { closeCode: number; reason: string }): void
}

/**
 * The WebTransport side of one HTTP/3 connection: it receives the streams and datagrams the
 * connection recognises and routes them to sessions by session id, holds streams that arrive
 * before their session (bounded in number and time), refuses those naming a session that is
 * gone, reads each session's CONNECT stream, and serves the sessions it hosts.
 */
export class SessionHost implements WebTransportHandler {
  readonly quic: QuicConnection
  private readonly sessions = new Map<number, { events: SessionEvents; connect: ConnectStream }>()
  private readonly early: EarlyStreams
  /** Request streams that did not become sessions, and sessions that ended. */
  private readonly retired = new Set<number>()
  /** Requests being decided (accept hooks running), counted against the session limit. */
  private deciding = 0
  private draining = false
  private readonly idleWaiters: (() => void)[] = []

  constructor(
    readonly h3: Http3Connection,
    private readonly limits: Http3Limits,
  ) {
    this.quic = h3.quic
    this.early = new EarlyStreams({
      maxStreams: limits.maxBufferedStreams,
      holdMs: earlyStreamMs,
      expired: (s) => h3.refuseStream(s.id, H3.WT_BUFFERED_STREAM_REJECTED),
    })
    h3.webtransport = this
  }

  /** Sessions established, plus requests still being decided. */
  get sessionCount(): number {
    return this.sessions.size + this.deciding
  }

  // ---- used by the server and the client ----

  /** A request is being decided; it counts as a session until {@link SessionHost.decided}. */
  decide(): void {
    this.deciding++
  }

  /** The request counted by {@link SessionHost.decide} is accepted or refused. */
  decided(): void {
    this.deciding--
    this.checkIdle()
  }

  /**
   * Makes request stream `sessionId` (answered 2xx) the CONNECT stream of `session`: streams
   * held for it are delivered, then what follows the response on the stream is read.
   */
  attach(sessionId: number, session: SessionEvents): void {
    const connect = new ConnectStream(this.h3, sessionId, session, this.limits.maxCapsuleBytes)
    this.sessions.set(sessionId, { events: session, connect })
    for (const s of this.early.take(sessionId)) this.deliver(sessionId, s)
    if (this.draining) this.drainSession(session, connect)
    this.h3.readBody(sessionId, connect)
  }

  /** Refuses request stream `streamId`: it will be no session; streams held for it are told. */
  reject(streamId: number): void {
    this.h3.stopReading(streamId, H3.NO_ERROR)
    this.retire(streamId)
    for (const s of this.early.take(streamId)) this.h3.refuseStream(s.id, H3.WT_SESSION_GONE)
  }

  /**
   * Starts a graceful shutdown of this connection: DRAIN_WEBTRANSPORT_SESSION to every session,
   * now and to any accepted later (their `draining` resolves), and GOAWAY once no session is
   * left. Sessions carry on. Resolves once no session is left and none is being decided.
   * Idempotent.
   *
   * GOAWAY waits for the last session because Chromium (156) opens no new stream at all, not
   * even a WebTransport stream of a session it has open, on a connection that got GOAWAY.
   */
  drain(): Promise<void> {
    if (!this.draining) {
      this.draining = true
      for (const { events, connect } of this.sessions.values()) this.drainSession(events, connect)
    }
    return new Promise((resolve) => {
      this.idleWaiters.push(resolve)
      this.checkIdle()
    })
  }

  /** Closes every session with `info`. */
  closeAll(info: { closeCode: number; reason: string }): void {
    for (const { events } of [...this.sessions.values()]) events.close(info)
  }

  // ---- used by sessions ----

  /** Opens a stream of session `sessionId`, waiting for the peer's stream credit. */
  openStream(sessionId: number, bidi: boolean): Promise<number> {
    return this.h3.openWebTransportStream(sessionId, bidi)
  }

  /** Sends the CLOSE_WEBTRANSPORT_SESSION capsule and the FIN on the CONNECT stream. */
  closeSession(sessionId: number, info: { closeCode: number; reason: string }): void {
    void this.sessions
      .get(sessionId)
      ?.connect.close(info.closeCode, info.reason)
      .catch(() => {})
  }

  /** Answers the peer's FIN on the CONNECT stream with ours. */
  finishSession(sessionId: number): void {
    void this.sessions
      .get(sessionId)
      ?.connect.finish()
      .catch(() => {})
  }

  /** Sends a datagram of session `sessionId`; returns `false` when it was dropped. */
  sendDatagram(sessionId: number, payload: Uint8Array): boolean {
    return this.h3.sendDatagram(sessionId, payload)
  }

  /** The largest datagram payload of session `sessionId` the peer accepts now. */
  maxDatagramSize(sessionId: number): number {
    return this.h3.maxDatagramPayload(sessionId)
  }

  /** The session is over; streams naming it from now on are refused. */
  sessionEnded(sessionId: number): void {
    this.sessions.delete(sessionId)
    this.retire(sessionId)
    this.checkIdle()
  }

  /** Both halves of stream `id` are over; the connection may forget it. */
  streamDone(id: number): void {
    this.h3.forgetStream(id)
  }

  // ---- WebTransportHandler (called by the HTTP/3 connection) ----

  stream(id: number, sessionId: number, leftover: Uint8Array, fin: boolean): void {
    const stream = { id, leftover, fin }
    if (this.sessions.has(sessionId)) return this.deliver(sessionId, stream)
    // Sessions live on client-initiated bidi streams (ids 0 mod 4).
    if (sessionId % 4 !== 0) return this.h3.refuseStream(id, H3.ID_ERROR)
    if (this.retired.has(sessionId)) return this.h3.refuseStream(id, H3.WT_SESSION_GONE)
    // The CONNECT (or its response) may still be on its way or being decided: hold the stream.
    if (!this.early.hold(sessionId, stream)) {
      this.h3.refuseStream(id, H3.WT_BUFFERED_STREAM_REJECTED)
    }
  }

  streamReadable(id: number, sessionId: number): void {
    const session = this.sessions.get(sessionId)
    if (session) return session.events.streamReadable(id)
    // A held stream's bytes wait in quiche until its session is accepted.
    if (this.early.has(id)) return
    // A stream of a session that ended.
    this.h3.discardStream(id)
  }

  datagram(streamId: number, payload: Uint8Array): void {
    // Datagrams for unknown sessions are dropped (draft-ietf-webtrans-http3 §4.4).
    this.sessions.get(streamId)?.events.datagram(payload)
  }

  goaway(): void {
    // draft-ietf-webtrans-http3 §4.6: GOAWAY asks every session on the connection to wind down.
    for (const { events } of [...this.sessions.values()]) events.startDraining()
  }

  closed(info: QuicCloseInfo): void {
    const all = [...this.sessions.values()]
    this.sessions.clear()
    this.early.clear()
    for (const { events } of all) events.connectionClosed(info)
    this.checkIdle()
  }

  // ---- internals ----

  private deliver(sessionId: number, stream: HeldStream): void {
    const session = this.sessions.get(sessionId)
    if (!session) return this.h3.refuseStream(stream.id, H3.WT_SESSION_GONE)
    if (session.events.streamCount >= this.limits.maxStreamsPerSession) {
      return this.h3.refuseStream(stream.id, H3.REQUEST_REJECTED)
    }
    const leftover = stream.leftover.length > 0 ? stream.leftover : undefined
    session.events.acceptStream(stream.id, (stream.id & 2) === 0, leftover, stream.fin)
  }

  private drainSession(events: SessionEvents, connect: ConnectStream): void {
    connect.drain().catch(() => {})
    events.startDraining()
  }

  /** Remembers that `id` is not (or no longer) a session, so streams naming it are refused. */
  private retire(id: number): void {
    this.retired.add(id)
    // Bounded: past this many, the oldest are forgotten and streams naming them wait out
    // `earlyStreamMs` before being refused.
    if (this.retired.size > maxRetired) this.retired.delete(this.retired.values().next().value!)
  }

  private checkIdle(): void {
    // A closed connection hosts nothing more, whatever accept hooks are still running.
    if (!this.h3.isClosed && (this.sessions.size > 0 || this.deciding > 0)) return
    // Draining, with no session left: the client is to open new ones elsewhere.
    if (this.draining) this.h3.goaway()
    for (const w of this.idleWaiters.splice(0)) w()
  }
}
