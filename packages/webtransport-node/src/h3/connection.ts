import { H3, Http3Error, Http3StreamError, LimitError } from '../errors.js'
import type { QuicCloseInfo, QuicConnection, QuicConnectionHandler } from '../quic/connection.js'
import { StreamResetError } from '../quic/connection.js'
import { CapsuleReader } from '../wt/capsules.js'
import { FrameReader, FrameType, StreamType, encodeFrame, encodeGoaway } from './frames.js'
import { decodeFieldSection, encodeFieldSection } from './qpack.js'
import { Setting, decodeSettings, encodeSettings } from './settings.js'
import { encodeVarint, readVarint } from './varint.js'
import { concat } from '../internal/bytes.js'

/** Limits of one HTTP/3 connection; every one is enforced with a typed error or a status. */
export interface Http3Limits {
  /** Largest decoded header section (RFC 9114 §4.2.2 size); larger requests get 431. */
  maxHeaderBytes: number
  /** WebTransport sessions at once on one connection. */
  maxSessionsPerConnection: number
  /** Streams open at once in one session; more are reset with H3_REQUEST_REJECTED. */
  maxStreamsPerSession: number
  /** Streams held while waiting for their session's CONNECT to arrive. */
  maxBufferedStreams: number
  /** Largest capsule buffered on a CONNECT stream. */
  maxCapsuleBytes: number
  /** Largest non-DATA frame on any stream. */
  maxFrameBytes: number
  /** Largest datagram payload accepted from the application. */
  maxDatagramBytes: number
}

export const defaultLimits: Http3Limits = {
  maxHeaderBytes: 16 * 1024,
  maxSessionsPerConnection: 16,
  maxStreamsPerSession: 1024,
  maxBufferedStreams: 32,
  maxCapsuleBytes: 4096,
  maxFrameBytes: 64 * 1024,
  maxDatagramBytes: 65536,
}

/** Header fields as decoded: lowercase names, in wire order. */
export type HeaderList = [name: string, value: string][]

/** What a session needs from the connection carrying it. */
export interface SessionHost {
  readonly quic: QuicConnection
  /** Opens a stream of the session, waiting for the peer's stream credit. */
  openStream(sessionId: number, bidi: boolean): Promise<number>
  /** Writes capsule bytes inside a DATA frame on the CONNECT stream. */
  sendCapsule(sessionId: number, capsule: Uint8Array, fin: boolean): Promise<void>
  /** The prefix for this session's datagrams (its quarter stream id). */
  datagramPrefix(sessionId: number): Uint8Array
  /** The session is over; forget it. */
  sessionEnded(sessionId: number): void
  /** Both halves of stream `id` are over; forget it. */
  streamDone(id: number): void
}

/** What the connection tells a session. */
export interface SessionEvents {
  acceptStream(id: number, bidi: boolean, leftover: Uint8Array | undefined, fin: boolean): void
  streamReadable(id: number): void
  datagram(payload: Uint8Array): void
  capsule(type: number, value: Uint8Array): void
  /** The CONNECT stream ended: `reset` holds the code when it was reset. */
  connectStreamEnded(reset: number | undefined): void
  connectionClosed(info: QuicCloseInfo): void
  readonly streamCount: number
}

/** The role-specific part: the server answers requests, the client reads responses. */
export interface Http3Role {
  /** A complete request header section on a client-initiated bidi stream (server only). */
  request?(h3: Http3Connection, streamId: number, headers: HeaderList): void
  /** Response headers on a CONNECT stream we opened (client only). */
  response?(h3: Http3Connection, streamId: number, headers: HeaderList): void
  /** SETTINGS arrived from the peer. */
  settings?(h3: Http3Connection, settings: Map<number, number>): void
  /** The peer finished (FIN) the CONNECT stream `streamId`. */
  connectStreamFinished?(h3: Http3Connection, streamId: number): void
  /** The connection is gone. */
  closed?(h3: Http3Connection, info: QuicCloseInfo): void
  /** An unexpected exception (not a protocol error of the peer's) ended the connection. */
  error?(h3: Http3Connection, error: unknown): void
}

type StreamState =
  | { kind: 'prefix'; bytes: Uint8Array; bidi: boolean }
  | { kind: 'control'; reader: FrameReader }
  | { kind: 'discard' }
  | { kind: 'request'; reader: FrameReader; headersSeen: boolean; finSeen?: boolean }
  | { kind: 'connect'; reader: FrameReader; capsules: CapsuleReader; sessionId: number }
  | { kind: 'session'; sessionId: number }

const prefixReadBytes = 16
/** How long a stream may wait for the CONNECT of the session it names. */
const bufferedStreamMs = 2000
const maxRetired = 1024

function isBidi(id: number): boolean {
  return (id & 2) === 0
}

/**
 * One HTTP/3 connection (RFC 9114) carrying WebTransport sessions: control and QPACK streams,
 * SETTINGS, request streams, stream classification by type and signal value, GOAWAY, datagram
 * routing by quarter stream id.
 */
export class Http3Connection implements QuicConnectionHandler, SessionHost {
  readonly streams = new Map<number, StreamState>()
  readonly sessions = new Map<number, SessionEvents>()
  /** Streams that named a session whose CONNECT has not been processed yet. */
  private readonly buffered = new Map<
    number,
    { id: number; leftover: Uint8Array; fin: boolean }[]
  >()
  private bufferedCount = 0
  /** Request streams that did not become sessions, and sessions that ended. */
  private readonly retired = new Set<number>()
  /** Sessions being decided (accept hooks running) and established, for the session limit. */
  pendingSessions = 0
  peerSettings: Map<number, number> | undefined
  private readonly settingsWaiters: (() => void)[] = []
  private nextBidi: number
  private nextUni: number
  private readonly openWaiters: { bidi: boolean; open: () => void; reject: (e: Error) => void }[] =
    []
  private controlStreamId = -1
  private maxRequestSeen = -1
  private goawaySent = false
  isClosed = false
  private readonly closedWaiters: (() => void)[] = []

  constructor(
    readonly quic: QuicConnection,
    readonly isServer: boolean,
    readonly limits: Http3Limits,
    private readonly role: Http3Role,
  ) {
    this.nextBidi = isServer ? 1 : 0
    this.nextUni = isServer ? 3 : 2
    quic.handler = this
  }

  /** Resolves once the peer's SETTINGS have arrived. */
  settingsReceived(): Promise<void> {
    if (this.peerSettings) return Promise.resolve()
    return new Promise((resolve) => this.settingsWaiters.push(resolve))
  }

  /** Resolves when the QUIC connection is closed. */
  whenClosed(): Promise<void> {
    if (this.isClosed) return Promise.resolve()
    return new Promise((resolve) => this.closedWaiters.push(resolve))
  }

  // ---- QuicConnectionHandler ----

  established(): void {
    const settings = encodeSettings([
      [Setting.QPACK_MAX_TABLE_CAPACITY, 0],
      [Setting.QPACK_BLOCKED_STREAMS, 0],
      [Setting.MAX_FIELD_SECTION_SIZE, this.limits.maxHeaderBytes],
      [Setting.ENABLE_CONNECT_PROTOCOL, 1],
      [Setting.H3_DATAGRAM, 1],
      [Setting.ENABLE_WEBTRANSPORT_DRAFT02, 1],
      [Setting.WT_MAX_SESSIONS, this.limits.maxSessionsPerConnection],
    ])
    this.controlStreamId = this.allocateUni()
    const control = concat(
      encodeVarint(StreamType.CONTROL),
      encodeFrame(FrameType.SETTINGS, settings),
    )
    this.writeCritical(this.controlStreamId, control)
    this.writeCritical(this.allocateUni(), encodeVarint(StreamType.QPACK_ENCODER))
    this.writeCritical(this.allocateUni(), encodeVarint(StreamType.QPACK_DECODER))
  }

  streamReadable(id: number): void {
    try {
      this.readStream(id)
    } catch (e) {
      this.fail(id, e)
    }
  }

  datagram(data: Uint8Array): void {
    const r = readVarint(data, 0)
    if (!r) return
    const session = this.sessions.get(r[0] * 4)
    // Datagrams for unknown sessions are dropped (draft-ietf-webtrans-http3 §4.4).
    session?.datagram(data.subarray(r[1]))
  }

  closed(info: QuicCloseInfo): void {
    this.isClosed = true
    for (const w of this.openWaiters.splice(0))
      w.reject(new Http3Error(H3.NO_ERROR, 'connection closed'))
    for (const s of [...this.sessions.values()]) s.connectionClosed(info)
    this.sessions.clear()
    this.role.closed?.(this, info)
    for (const w of this.closedWaiters.splice(0)) w()
    for (const w of this.settingsWaiters.splice(0)) w()
  }

  // ---- SessionHost ----

  openStream(sessionId: number, bidi: boolean): Promise<number> {
    const prefix = concat(
      encodeVarint(bidi ? FrameType.WEBTRANSPORT_STREAM : StreamType.WEBTRANSPORT_UNI),
      encodeVarint(sessionId),
    )
    return this.openWith(bidi, prefix, bidi ? { kind: 'session', sessionId } : undefined)
  }

  async sendCapsule(sessionId: number, capsule: Uint8Array, fin: boolean): Promise<void> {
    if (capsule.length > 0)
      await this.quic.write(sessionId, encodeFrame(FrameType.DATA, capsule), fin)
    else await this.quic.write(sessionId, capsule, fin)
  }

  datagramPrefix(sessionId: number): Uint8Array {
    return encodeVarint(sessionId / 4)
  }

  streamDone(id: number): void {
    if (this.streams.get(id)?.kind === 'session') this.streams.delete(id)
  }

  sessionEnded(sessionId: number): void {
    this.sessions.delete(sessionId)
    this.retire(sessionId)
    for (const [id, st] of this.streams) {
      if (st.kind === 'session' && st.sessionId === sessionId)
        this.streams.set(id, { kind: 'discard' })
    }
  }

  // ---- used by the roles ----

  /** Sends a response header section on a request stream. */
  respond(streamId: number, headers: [string, string][], fin: boolean): Promise<void> {
    const block = encodeFieldSection(headers)
    return this.quic.write(streamId, encodeFrame(FrameType.HEADERS, block), fin)
  }

  /** Sends a request header section on a new bidi stream (client). */
  request(headers: [string, string][]): Promise<number> {
    return this.openWith(true, encodeFrame(FrameType.HEADERS, encodeFieldSection(headers)), {
      kind: 'request',
      reader: new FrameReader({ maxFrameBytes: this.limits.maxHeaderBytes }),
      headersSeen: false,
    })
  }

  /** Makes `streamId` (a request stream) the CONNECT stream of a WebTransport session. */
  attachSession(streamId: number, session: SessionEvents): void {
    const st = this.streams.get(streamId)
    const reader = st && (st.kind === 'request' || st.kind === 'connect') ? st.reader : undefined
    const finSeen = st?.kind === 'request' && st.finSeen === true
    this.streams.set(streamId, {
      kind: 'connect',
      reader: reader ?? new FrameReader({ maxFrameBytes: this.limits.maxFrameBytes }),
      capsules: new CapsuleReader({ maxCapsuleBytes: this.limits.maxCapsuleBytes }),
      sessionId: streamId,
    })
    this.sessions.set(streamId, session)
    const waiting = this.buffered.get(streamId)
    if (waiting) {
      this.buffered.delete(streamId)
      this.bufferedCount -= waiting.length
      for (const w of waiting) this.deliverStream(streamId, w.id, w.leftover, w.fin)
    }
    // Bytes that followed the response headers (capsules) are already in the reader.
    this.pumpConnect(streamId)
    if (finSeen) {
      this.streams.delete(streamId)
      session.connectStreamEnded(undefined)
      this.role.connectStreamFinished?.(this, streamId)
    }
  }

  /** Refuses a request stream: no session will use it; its buffered streams are told so. */
  rejectSession(streamId: number): void {
    this.streams.set(streamId, { kind: 'discard' })
    this.quic.stopSending(streamId, H3.NO_ERROR)
    this.retire(streamId)
    this.dropBuffered(streamId, H3.WT_SESSION_GONE)
  }

  /**
   * Starts a graceful shutdown: GOAWAY naming the first request stream we will not process
   * (RFC 9114 §5.2).
   */
  goaway(): void {
    if (this.goawaySent || this.controlStreamId < 0 || this.isClosed) return
    this.goawaySent = true
    const id = this.isServer ? this.maxRequestSeen + 4 : 0
    void this.quic.write(this.controlStreamId, encodeGoaway(Math.max(id, 0))).catch(() => {})
  }

  /** Closes the QUIC connection with an HTTP/3 error code. */
  close(code: number = H3.NO_ERROR, reason = ''): void {
    this.quic.close(code, reason)
  }

  // ---- internals ----

  private allocateUni(): number {
    const id = this.nextUni
    this.nextUni += 4
    return id
  }

  /**
   * Opens a stream with its first bytes, waiting for the peer's stream credit (MAX_STREAMS)
   * when there is none. Taking the id and writing happen together, so quiche counts the stream
   * before the next opener asks how many are left.
   */
  private openWith(bidi: boolean, first: Uint8Array, state?: StreamState): Promise<number> {
    return new Promise((resolve, reject) => {
      const open = (): void => {
        const id = bidi ? this.nextBidi : this.nextUni
        if (bidi) this.nextBidi += 4
        else this.nextUni += 4
        if (state) this.streams.set(id, state)
        this.quic.write(id, first).then(() => resolve(id), reject)
      }
      if (this.isClosed) reject(new Http3Error(H3.NO_ERROR, 'connection closed'))
      else if (this.openWaiters.length === 0 && this.streamsLeft(bidi) > 0) open()
      else this.openWaiters.push({ bidi, open, reject })
    })
  }

  private streamsLeft(bidi: boolean): number {
    const native = this.quic.native
    return bidi ? native.peerStreamsLeftBidi() : native.peerStreamsLeftUni()
  }

  /** Opens the streams that waited for the peer's MAX_STREAMS, in order. */
  afterPass(): void {
    while (this.openWaiters.length > 0 && !this.isClosed) {
      const w = this.openWaiters[0]!
      if (this.streamsLeft(w.bidi) <= 0) return
      this.openWaiters.shift()
      w.open()
    }
  }

  private writeCritical(id: number, bytes: Uint8Array): void {
    this.quic
      .write(id, bytes)
      .catch(() => this.close(H3.CLOSED_CRITICAL_STREAM, 'critical stream failed'))
  }

  private readStream(id: number): void {
    let st = this.streams.get(id)
    if (!st) {
      const peerInitiated = (id & 1) === (this.isServer ? 0 : 1)
      if (!peerInitiated) {
        // Our own stream the session layer does not track any more (finished): drain quietly.
        st = { kind: 'discard' }
      } else {
        st = { kind: 'prefix', bytes: new Uint8Array(0), bidi: isBidi(id) }
        if (isBidi(id) && this.isServer) this.maxRequestSeen = Math.max(this.maxRequestSeen, id)
      }
      this.streams.set(id, st)
    }
    switch (st.kind) {
      case 'prefix':
        return this.readPrefix(id, st)
      case 'control':
        return this.readControl(id, st.reader)
      case 'discard':
        return this.readDiscard(id)
      case 'request':
        return this.readRequest(id, st)
      case 'connect':
        return this.readConnect(id, st)
      case 'session': {
        const session = this.sessions.get(st.sessionId)
        if (session) session.streamReadable(id)
        else this.readDiscard(id)
        return
      }
    }
  }

  /** Reads everything buffered on `id`, handing each piece to `sink`; returns whether FIN came. */
  private readAll(id: number, sink: (bytes: Uint8Array) => void): boolean {
    for (;;) {
      const r = this.quic.readCopy(id)
      if (!r) return false
      if (r[0].length > 0) sink(r[0])
      if (r[1]) return true
    }
  }

  /** Reads and drops a stream's bytes; forgets the stream once it is finished or reset. */
  private readDiscard(id: number): void {
    try {
      if (this.readAll(id, () => {})) this.streams.delete(id)
    } catch {
      this.streams.delete(id)
    }
  }

  private readPrefix(id: number, st: { kind: 'prefix'; bytes: Uint8Array; bidi: boolean }): void {
    let fin = false
    // Only the few bytes of the stream type and session id are read here, so a WebTransport
    // stream's data stays in quiche (under flow control) until the application reads it.
    while (st.bytes.length < prefixReadBytes) {
      const r = this.quic.readCopy(id, prefixReadBytes - st.bytes.length)
      if (!r) break
      st.bytes = concat(st.bytes, r[0])
      if (r[1]) {
        fin = true
        break
      }
    }
    const type = readVarint(st.bytes, 0)
    if (!type) {
      if (fin) this.streams.delete(id)
      return
    }
    const [t, afterType] = type
    if (st.bidi) {
      if (t === FrameType.WEBTRANSPORT_STREAM) return this.prefixSession(id, st, afterType, fin)
      if (!this.isServer) {
        // A server may not open request streams (RFC 9114 §6.1).
        throw new Http3Error(H3.STREAM_CREATION_ERROR, 'server-initiated request stream')
      }
      const reader = new FrameReader({ maxFrameBytes: this.limits.maxHeaderBytes })
      const req = { kind: 'request' as const, reader, headersSeen: false }
      this.streams.set(id, req)
      reader.push(st.bytes)
      return this.readRequest(id, req, fin)
    }
    switch (t) {
      case StreamType.CONTROL: {
        if ([...this.streams.values()].some((s) => s.kind === 'control')) {
          throw new Http3Error(H3.STREAM_CREATION_ERROR, 'second control stream')
        }
        const reader = new FrameReader({ maxFrameBytes: this.limits.maxFrameBytes })
        this.streams.set(id, { kind: 'control', reader })
        reader.push(st.bytes.subarray(afterType))
        if (fin) throw new Http3Error(H3.CLOSED_CRITICAL_STREAM, 'control stream closed')
        return this.readControl(id, reader)
      }
      case StreamType.QPACK_ENCODER:
      case StreamType.QPACK_DECODER:
        // With a dynamic table capacity of 0 nothing on these streams changes our state.
        this.streams.set(id, { kind: 'discard' })
        if (fin) throw new Http3Error(H3.CLOSED_CRITICAL_STREAM, 'QPACK stream closed')
        return this.readDiscard(id)
      case StreamType.WEBTRANSPORT_UNI:
        return this.prefixSession(id, st, afterType, fin)
      case StreamType.PUSH:
        throw new Http3Error(H3.STREAM_CREATION_ERROR, 'push stream')
      default:
        // Unknown and reserved stream types are ignored (RFC 9114 §6.2.3).
        this.streams.set(id, { kind: 'discard' })
        this.quic.stopSending(id, H3.STREAM_CREATION_ERROR)
        return
    }
  }

  private prefixSession(
    id: number,
    st: { bytes: Uint8Array; bidi: boolean },
    afterType: number,
    fin: boolean,
  ): void {
    const sid = readVarint(st.bytes, afterType)
    if (!sid) {
      if (fin) this.streams.delete(id)
      return
    }
    const [sessionId, afterSession] = sid
    const leftover = st.bytes.subarray(afterSession)
    if (this.sessions.has(sessionId)) return this.deliverStream(sessionId, id, leftover, fin)
    // A server's sessions live on client-initiated bidi streams (ids 0 mod 4).
    if (this.isServer && sessionId % 4 !== 0) return this.refuseStream(id, H3.ID_ERROR)
    if (this.isServer && !this.retired.has(sessionId)) {
      // The CONNECT may still be on its way or being decided: hold the stream, bounded in
      // number and in time.
      if (this.bufferedCount >= this.limits.maxBufferedStreams) {
        return this.refuseStream(id, H3.WT_BUFFERED_STREAM_REJECTED)
      }
      const list = this.buffered.get(sessionId) ?? []
      list.push({ id, leftover, fin })
      this.buffered.set(sessionId, list)
      this.bufferedCount++
      this.streams.set(id, { kind: 'session', sessionId })
      setTimeout(() => this.expireBuffered(sessionId, id), bufferedStreamMs).unref()
      return
    }
    this.refuseStream(id, H3.WT_SESSION_GONE)
  }

  private deliverStream(sessionId: number, id: number, leftover: Uint8Array, fin: boolean): void {
    const session = this.sessions.get(sessionId)
    if (!session) return this.refuseStream(id, H3.WT_SESSION_GONE)
    if (session.streamCount >= this.limits.maxStreamsPerSession) {
      return this.refuseStream(id, H3.REQUEST_REJECTED)
    }
    this.streams.set(id, { kind: 'session', sessionId })
    session.acceptStream(id, isBidi(id), leftover.length > 0 ? leftover : undefined, fin)
  }

  private refuseStream(id: number, code: number): void {
    this.streams.set(id, { kind: 'discard' })
    this.quic.stopSending(id, code)
    if (isBidi(id)) this.quic.resetStream(id, code)
  }

  /** A held stream whose session did not appear in time is refused. */
  private expireBuffered(sessionId: number, id: number): void {
    const list = this.buffered.get(sessionId)
    const i = list?.findIndex((w) => w.id === id) ?? -1
    if (!list || i < 0) return
    list.splice(i, 1)
    if (list.length === 0) this.buffered.delete(sessionId)
    this.bufferedCount--
    this.refuseStream(id, H3.WT_BUFFERED_STREAM_REJECTED)
  }

  /** Remembers that `id` is not (or no longer) a session, so streams naming it are refused. */
  private retire(id: number): void {
    this.retired.add(id)
    // Bounded: past this many, the oldest are forgotten and streams naming them wait out
    // `bufferedStreamMs` before being refused.
    if (this.retired.size > maxRetired) this.retired.delete(this.retired.values().next().value!)
  }

  private dropBuffered(sessionId: number, code: number): void {
    const waiting = this.buffered.get(sessionId)
    if (!waiting) return
    this.buffered.delete(sessionId)
    this.bufferedCount -= waiting.length
    for (const w of waiting) this.refuseStream(w.id, code)
  }

  private readControl(id: number, reader: FrameReader): void {
    const fin = this.readAll(id, (b) => reader.push(b))
    for (let f = reader.next(); f; f = reader.next()) {
      if (!this.peerSettings) {
        if (f.type !== FrameType.SETTINGS) {
          throw new Http3Error(H3.MISSING_SETTINGS, 'first control frame is not SETTINGS')
        }
        this.peerSettings = decodeSettings(f.payload, { maxEntries: 64 })
        this.role.settings?.(this, this.peerSettings)
        for (const w of this.settingsWaiters.splice(0)) w()
        continue
      }
      switch (f.type) {
        case FrameType.SETTINGS:
          throw new Http3Error(H3.FRAME_UNEXPECTED, 'second SETTINGS frame')
        case FrameType.DATA:
        case FrameType.HEADERS:
        case FrameType.PUSH_PROMISE:
        case FrameType.WEBTRANSPORT_STREAM:
          throw new Http3Error(
            H3.FRAME_UNEXPECTED,
            `frame 0x${f.type.toString(16)} on control stream`,
          )
        case FrameType.MAX_PUSH_ID:
          if (!this.isServer) throw new Http3Error(H3.FRAME_UNEXPECTED, 'MAX_PUSH_ID from server')
          break
        default:
          // GOAWAY, CANCEL_PUSH and reserved frames: nothing for us to act on.
          break
      }
    }
    if (fin) throw new Http3Error(H3.CLOSED_CRITICAL_STREAM, 'control stream closed')
  }

  private readRequest(
    id: number,
    st: { kind: 'request'; reader: FrameReader; headersSeen: boolean },
    finSeen = false,
  ): void {
    let fin = finSeen
    try {
      if (!fin) fin = this.readAll(id, (b) => st.reader.push(b))
      while (!st.headersSeen) {
        const f = st.reader.next()
        if (!f) break
        if (f.type === FrameType.HEADERS) {
          st.headersSeen = true
          const headers = decodeFieldSection(f.payload, {
            maxHeaderBytes: this.limits.maxHeaderBytes,
          })
          if (this.isServer) this.role.request?.(this, id, headers)
          else this.role.response?.(this, id, headers)
          break
        }
        if (f.type === FrameType.DATA)
          throw new Http3Error(H3.FRAME_UNEXPECTED, 'DATA before HEADERS')
        if (
          f.type === FrameType.SETTINGS ||
          f.type === FrameType.GOAWAY ||
          f.type === FrameType.MAX_PUSH_ID
        ) {
          throw new Http3Error(H3.FRAME_UNEXPECTED, 'control frame on a request stream')
        }
      }
    } catch (e) {
      if (e instanceof LimitError || (e instanceof Http3Error && e.code === H3.EXCESSIVE_LOAD)) {
        // RFC 9114 §4.2.2: a header section we will not process gets 431.
        this.streams.set(id, { kind: 'discard' })
        this.quic.stopSending(id, H3.REQUEST_REJECTED)
        if (this.isServer) void this.respond(id, [[':status', '431']], true).catch(() => {})
        return
      }
      throw e
    }
    const now = this.streams.get(id)
    if (now?.kind === 'connect') return this.readConnect(id, now, fin)
    if (fin && now?.kind === 'request' && !now.headersSeen) {
      this.streams.delete(id)
      throw new Http3StreamError(H3.REQUEST_INCOMPLETE, 'request ended before headers')
    }
    if (fin && now?.kind === 'request') {
      // A client may read the CONNECT response, the session's capsules (a CLOSE) and the FIN
      // all at once, before the session attaches: keep them for attachSession.
      if (this.isServer) this.streams.delete(id)
      else now.finSeen = true
    }
  }

  private readConnect(
    id: number,
    st: { kind: 'connect'; reader: FrameReader; capsules: CapsuleReader; sessionId: number },
    finSeen = false,
  ): void {
    let fin = finSeen
    try {
      if (!fin) fin = this.readAll(id, (b) => st.reader.push(b))
    } catch (e) {
      if (e instanceof StreamResetError) {
        this.streams.delete(id)
        this.sessions.get(st.sessionId)?.connectStreamEnded(e.code)
        return
      }
      throw e
    }
    this.pumpConnect(id)
    if (fin) {
      this.streams.delete(id)
      this.sessions.get(st.sessionId)?.connectStreamEnded(undefined)
      this.role.connectStreamFinished?.(this, id)
    }
  }

  private pumpConnect(id: number): void {
    const st = this.streams.get(id)
    if (st?.kind !== 'connect') return
    for (let f = st.reader.next(); f; f = st.reader.next()) {
      if (f.type === FrameType.DATA) {
        st.capsules.push(f.payload)
        for (let c = st.capsules.next(); c; c = st.capsules.next()) {
          this.sessions.get(st.sessionId)?.capsule(c.type, c.value)
        }
      } else if (f.type !== FrameType.HEADERS && f.type !== FrameType.WEBTRANSPORT_STREAM) {
        if (f.type === FrameType.SETTINGS || f.type === FrameType.GOAWAY) {
          throw new Http3Error(H3.FRAME_UNEXPECTED, 'control frame on a CONNECT stream')
        }
      }
    }
  }

  /** Turns an error while reading `id` into the stream or connection error the spec names. */
  private fail(id: number, e: unknown): void {
    if (e instanceof Http3StreamError) {
      this.refuseStream(id, e.code)
      return
    }
    if (e instanceof StreamResetError) {
      const st = this.streams.get(id)
      this.streams.delete(id)
      if (st?.kind === 'control') this.close(H3.CLOSED_CRITICAL_STREAM, 'control stream reset')
      return
    }
    if (e instanceof Http3Error) {
      this.close(e.code, e.message)
      return
    }
    if (e instanceof LimitError) {
      this.close(H3.EXCESSIVE_LOAD, e.message)
      return
    }
    // A bug of ours, not the peer's: this connection ends, the process and the others go on.
    this.close(H3.INTERNAL_ERROR, 'internal error')
    this.role.error?.(this, e)
  }
}
