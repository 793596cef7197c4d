import { concat, encodeVarint, readVarint, varintLength } from '@ferry/wire'
import { H3, Http3Error, Http3StreamError, LimitError } from '../errors.js'
import type { QuicCloseInfo, QuicConnection, QuicConnectionHandler } from '../quic/connection.js'
import { StreamResetError } from '../quic/connection.js'
import { ControlStream } from './control.js'
import { FrameReader, FrameType, StreamType, encodeFrame, encodeGoaway } from './frames.js'
import { HeaderDeadlines } from './header-deadlines.js'
import { decodeFieldSection, encodeFieldSection } from './qpack.js'
import { Setting, encodeSettings } from './settings.js'
import { h3Varint } from './varint.js'

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
  /**
   * Time a request stream has, from its first byte, to deliver its whole header section (the
   * HEADERS frame; for a WebTransport session, the CONNECT request), in milliseconds. Past it
   * the server resets the stream with H3_REQUEST_INCOMPLETE. Server only.
   */
  headerTimeoutMs: number
}

/** The limits used for every key a server's or client's `limits` option leaves out. */
export const defaultLimits: Http3Limits = {
  maxHeaderBytes: 16 * 1024,
  maxSessionsPerConnection: 16,
  maxStreamsPerSession: 1024,
  maxBufferedStreams: 32,
  maxCapsuleBytes: 4096,
  maxFrameBytes: 64 * 1024,
  maxDatagramBytes: 65536,
  headerTimeoutMs: 10_000,
}

/** Header fields as decoded: lowercase names, in wire order. */
export type HeaderList = [name: string, value: string][]

/**
 * Where the connection hands WebTransport traffic (draft-ietf-webtrans-http3 §4). HTTP/3 only
 * recognises it, by a stream's first bytes or a datagram's quarter stream id; sessions are the
 * handler's business.
 */
export interface WebTransportHandler {
  /**
   * A peer stream that began with the WebTransport signal (bidi, 0x41) or stream type (uni,
   * 0x54) and `sessionId`. `leftover` holds the bytes read past that prefix (a copy the callee
   * may keep) and `fin` says the stream ended within them. The stream's later readable events
   * go to {@link WebTransportHandler.streamReadable}.
   */
  stream(id: number, sessionId: number, leftover: Uint8Array, fin: boolean): void
  /** Stream `id` of session `sessionId` (handed over or opened by us) has something to read. */
  streamReadable(id: number, sessionId: number): void
  /** An HTTP datagram (RFC 9297) for the request stream `streamId`; the callee owns the bytes. */
  datagram(streamId: number, payload: Uint8Array): void
  /** The peer sent GOAWAY: it is shutting down (RFC 9114 §5.2). */
  goaway(): void
  /** The connection is gone. */
  closed(info: QuicCloseInfo): void
}

/** Receives a request stream's content after its header section (a CONNECT stream's capsules). */
export interface RequestBody {
  /** A piece of DATA frame payload: a view into a chunk that is never reused, so it may be kept. */
  data(payload: Uint8Array): void
  /** The stream ended: `reset` holds the peer's code when it was reset, `undefined` on a FIN. */
  end(reset: number | undefined): void
}

/** The role-specific part: the server answers requests. */
export interface Http3Role {
  /** A complete request header section on a client-initiated bidi stream (server only). */
  request?(h3: Http3Connection, streamId: number, headers: HeaderList): void
  /** The connection is gone. */
  closed?(h3: Http3Connection, info: QuicCloseInfo): void
  /** An unexpected exception (not a protocol error of the peer's) ended the connection. */
  error?(h3: Http3Connection, error: unknown): void
}

interface RequestState {
  kind: 'request'
  reader: FrameReader
  headersSeen: boolean
  /** The FIN was read; it may come with the header section, before anyone takes the body. */
  finSeen: boolean
  /** Who reads the content after the header section; until set, it stays in quiche. */
  body?: RequestBody
  /** On a request we sent: settles with the response header section. */
  response?: { resolve: (headers: HeaderList) => void; reject: (e: Error) => void }
}

type StreamState =
  | { kind: 'prefix'; bytes: Uint8Array; bidi: boolean }
  | { kind: 'control'; control: ControlStream }
  | { kind: 'discard' }
  | RequestState
  | { kind: 'webtransport'; sessionId: number }

const prefixReadBytes = 16

function isBidi(id: number): boolean {
  return (id & 2) === 0
}

/** Frames that belong on the control stream only (RFC 9114 §7.2.3, §7.2.4, §7.2.6, §7.2.7). */
function isControlFrame(type: number): boolean {
  return (
    type === FrameType.SETTINGS ||
    type === FrameType.GOAWAY ||
    type === FrameType.MAX_PUSH_ID ||
    type === FrameType.CANCEL_PUSH
  )
}

/**
 * One HTTP/3 connection (RFC 9114): control and QPACK streams, SETTINGS, request streams and
 * their bodies, GOAWAY both ways, and the recognition of WebTransport streams and HTTP
 * datagrams, which it hands to its {@link WebTransportHandler}.
 */
export class Http3Connection implements QuicConnectionHandler {
  readonly streams = new Map<number, StreamState>()
  /** Receives WebTransport streams and datagrams; without one, they are refused or dropped. */
  webtransport: WebTransportHandler | undefined
  peerSettings: Map<number, number> | undefined
  /** The id of the last GOAWAY the peer sent (a request stream id, or a push id from a client). */
  peerGoawayId: number | undefined
  /** The id of the GOAWAY we sent, once {@link Http3Connection.goaway} was called. */
  goawayId: number | undefined
  /** Why the connection ended, once it has. */
  closeInfo: QuicCloseInfo | undefined
  private readonly settingsWaiters: (() => void)[] = []
  private nextBidi: number
  private nextUni: number
  private readonly openWaiters: { bidi: boolean; open: () => void; reject: (e: Error) => void }[] =
    []
  private controlStreamId = -1
  private maxRequestSeen = -1
  private readonly closedWaiters: (() => void)[] = []
  /** The server's deadline for each request stream's header section. */
  private readonly headerDeadlines: HeaderDeadlines | undefined

  constructor(
    readonly quic: QuicConnection,
    readonly isServer: boolean,
    readonly limits: Http3Limits,
    private readonly role: Http3Role = {},
  ) {
    this.nextBidi = isServer ? 1 : 0
    this.nextUni = isServer ? 3 : 2
    if (isServer) {
      this.headerDeadlines = new HeaderDeadlines(limits.headerTimeoutMs, (id) =>
        this.headersLate(id),
      )
    }
    quic.handler = this
  }

  get isClosed(): boolean {
    return this.closeInfo !== undefined
  }

  /** Resolves once the peer's SETTINGS have arrived, or the connection is closed. */
  settingsReceived(): Promise<void> {
    if (this.peerSettings || this.isClosed) return Promise.resolve()
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
      // A GOAWAY asked for before the handshake completed follows SETTINGS at once.
      this.goawayId === undefined ? new Uint8Array(0) : encodeGoaway(this.goawayId),
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
    const r = readVarint(data, 0, h3Varint)
    if (!r) return
    // RFC 9297 §2.1: the quarter stream id names the request stream the datagram belongs to.
    this.webtransport?.datagram(r[0] * 4, data.subarray(r[1]))
  }

  closed(info: QuicCloseInfo): void {
    this.closeInfo = info
    this.headerDeadlines?.clear()
    const error = new Http3Error(H3.NO_ERROR, 'connection closed')
    for (const w of this.openWaiters.splice(0)) w.reject(error)
    for (const st of this.streams.values())
      if (st.kind === 'request') this.settleResponse(st, error)
    this.webtransport?.closed(info)
    this.role.closed?.(this, info)
    for (const w of this.closedWaiters.splice(0)) w()
    for (const w of this.settingsWaiters.splice(0)) w()
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

  // ---- requests ----

  /**
   * Sends a request header section on a new bidi stream (client). Resolves once the stream is
   * open, with its id and the response header section to come; that promise rejects with an
   * {@link Http3StreamError} when the server resets the stream, and with an {@link Http3Error}
   * `H3_REQUEST_REJECTED` when the server's GOAWAY says it will not process it.
   * @throws {Http3Error} `H3_REQUEST_REJECTED` after the peer's GOAWAY: a connection that got
   *   one takes no new requests (RFC 9114 §5.2); `H3_NO_ERROR` when the connection is closed.
   */
  async request(headers: HeaderList): Promise<{ streamId: number; response: Promise<HeaderList> }> {
    let response!: RequestState['response']
    const answer = new Promise<HeaderList>((resolve, reject) => (response = { resolve, reject }))
    // The caller may never ask for the response (the open may fail first).
    answer.catch(() => {})
    const state: RequestState = {
      kind: 'request',
      reader: new FrameReader({ maxFrameBytes: this.limits.maxHeaderBytes }),
      headersSeen: false,
      finSeen: false,
      response,
    }
    const block = encodeFrame(FrameType.HEADERS, encodeFieldSection(headers))
    const streamId = await this.openWith(true, block, state)
    return { streamId, response: answer }
  }

  /** Sends a response header section on a request stream (server). */
  respond(streamId: number, headers: HeaderList, fin: boolean): Promise<void> {
    const block = encodeFieldSection(headers)
    return this.quic.write(streamId, encodeFrame(FrameType.HEADERS, block), fin)
  }

  /**
   * Hands what follows the header section of request stream `streamId` to `body`: what has
   * already arrived (a response, capsules and the FIN may come in one read) at once, the rest
   * as it comes. A stream that is already gone ends at once with `H3_REQUEST_CANCELLED`.
   */
  readBody(streamId: number, body: RequestBody): void {
    const st = this.streams.get(streamId)
    if (st?.kind !== 'request' || !st.headersSeen || st.body) {
      body.end(H3.REQUEST_CANCELLED)
      return
    }
    st.body = body
    try {
      this.readRequest(streamId, st)
    } catch (e) {
      this.fail(streamId, e)
    }
  }

  /** Writes `payload` as one DATA frame on request stream `streamId`; an empty one sends none. */
  sendData(streamId: number, payload: Uint8Array, fin: boolean): Promise<void> {
    const bytes = payload.length > 0 ? encodeFrame(FrameType.DATA, payload) : payload
    return this.quic.write(streamId, bytes, fin)
  }

  /** Reads no more of `streamId`: STOP_SENDING with `code`; whatever still arrives is dropped. */
  stopReading(streamId: number, code: number): void {
    this.headerDeadlines?.stop(streamId)
    this.streams.set(streamId, { kind: 'discard' })
    this.quic.stopSending(streamId, code)
  }

  /** Refuses a stream: STOP_SENDING and, for a bidi stream, RESET_STREAM, both with `code`. */
  refuseStream(id: number, code: number): void {
    this.stopReading(id, code)
    if (isBidi(id)) this.quic.resetStream(id, code)
  }

  /**
   * Starts a graceful shutdown (RFC 9114 §5.2): GOAWAY with the first request stream a server
   * will not process (a client sends push id 0: it accepts no pushes). Later requests at or
   * above it are refused with `H3_REQUEST_REJECTED`. Sent with SETTINGS when called before the
   * handshake completes. Idempotent.
   */
  goaway(): void {
    if (this.goawayId !== undefined || this.isClosed) return
    this.goawayId = this.isServer && this.maxRequestSeen >= 0 ? this.maxRequestSeen + 4 : 0
    if (this.controlStreamId < 0) return
    void this.quic.write(this.controlStreamId, encodeGoaway(this.goawayId)).catch(() => {})
  }

  /** Closes the QUIC connection with an HTTP/3 error code. */
  close(code: number = H3.NO_ERROR, reason = ''): void {
    this.quic.close(code, reason)
  }

  // ---- WebTransport streams and datagrams ----

  /**
   * Opens a WebTransport stream of session `sessionId` (its prefix written first), waiting for
   * the peer's stream credit. Data arriving on a bidi one goes to the handler.
   */
  openWebTransportStream(sessionId: number, bidi: boolean): Promise<number> {
    const prefix = concat(
      encodeVarint(bidi ? FrameType.WEBTRANSPORT_STREAM : StreamType.WEBTRANSPORT_UNI),
      encodeVarint(sessionId),
    )
    return this.openWith(bidi, prefix, bidi ? { kind: 'webtransport', sessionId } : undefined)
  }

  /** Forgets a WebTransport stream whose both halves are over. */
  forgetStream(id: number): void {
    if (this.streams.get(id)?.kind === 'webtransport') this.streams.delete(id)
  }

  /** Drops everything that arrives on `id` from now on, starting with what is there. */
  discardStream(id: number): void {
    this.streams.set(id, { kind: 'discard' })
    this.readDiscard(id)
  }

  /**
   * Sends an HTTP datagram (RFC 9297) for request stream `streamId`. Returns `false` when it
   * was dropped (too large, queue full, closed).
   */
  sendDatagram(streamId: number, payload: Uint8Array): boolean {
    return this.quic.sendDatagram(concat(encodeVarint(streamId / 4), payload))
  }

  /** The largest datagram payload for request stream `streamId` the peer accepts now. */
  maxDatagramPayload(streamId: number): number {
    return Math.max(0, this.quic.maxDatagramPayload() - varintLength(streamId / 4))
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
        // A request that waited for credit may meet a GOAWAY that came meanwhile.
        if (state?.kind === 'request' && this.peerGoawayId !== undefined) {
          return reject(this.goawayRejection())
        }
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

  private goawayRejection(): Http3Error {
    return new Http3Error(H3.REQUEST_REJECTED, 'the server sent GOAWAY: no new requests here')
  }

  private streamsLeft(bidi: boolean): number {
    const native = this.quic.native
    return bidi ? native.peerStreamsLeftBidi() : native.peerStreamsLeftUni()
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
        // Our own stream nobody tracks any more (finished): drain quietly.
        st = { kind: 'discard' }
      } else {
        st = { kind: 'prefix', bytes: new Uint8Array(0), bidi: isBidi(id) }
        if (isBidi(id) && this.isServer) {
          this.maxRequestSeen = Math.max(this.maxRequestSeen, id)
          this.headerDeadlines?.start(id)
        }
      }
      this.streams.set(id, st)
    }
    switch (st.kind) {
      case 'prefix':
        return this.readPrefix(id, st)
      case 'control':
        return this.readControl(id, st.control)
      case 'discard':
        return this.readDiscard(id)
      case 'request':
        return this.readRequest(id, st)
      case 'webtransport':
        if (this.webtransport) this.webtransport.streamReadable(id, st.sessionId)
        else this.discardStream(id)
        return
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
    const type = readVarint(st.bytes, 0, h3Varint)
    if (!type) {
      if (fin) this.streams.delete(id)
      return
    }
    const [t, afterType] = type
    if (st.bidi) {
      if (t === FrameType.WEBTRANSPORT_STREAM) return this.readSessionId(id, st, afterType, fin)
      if (!this.isServer) {
        // A server may not open request streams (RFC 9114 §6.1).
        throw new Http3Error(H3.STREAM_CREATION_ERROR, 'server-initiated request stream')
      }
      if (this.goawayId !== undefined && id >= this.goawayId) {
        // Past our GOAWAY: not processed, so the client may retry it elsewhere (§5.2).
        return this.refuseStream(id, H3.REQUEST_REJECTED)
      }
      const reader = new FrameReader({ maxFrameBytes: this.limits.maxHeaderBytes })
      const req: RequestState = { kind: 'request', reader, headersSeen: false, finSeen: fin }
      this.streams.set(id, req)
      reader.push(st.bytes)
      return this.readRequest(id, req)
    }
    switch (t) {
      case StreamType.CONTROL: {
        if ([...this.streams.values()].some((s) => s.kind === 'control')) {
          throw new Http3Error(H3.STREAM_CREATION_ERROR, 'second control stream')
        }
        const control = new ControlStream(
          { peerIsServer: !this.isServer, maxFrameBytes: this.limits.maxFrameBytes },
          {
            settings: (settings) => {
              this.peerSettings = settings
              for (const w of this.settingsWaiters.splice(0)) w()
            },
            goaway: (goawayId) => this.goawayReceived(goawayId),
          },
        )
        this.streams.set(id, { kind: 'control', control })
        control.push(st.bytes.subarray(afterType))
        if (fin) control.end()
        return this.readControl(id, control)
      }
      case StreamType.QPACK_ENCODER:
      case StreamType.QPACK_DECODER:
        // With a dynamic table capacity of 0 nothing on these streams changes our state.
        this.streams.set(id, { kind: 'discard' })
        if (fin) throw new Http3Error(H3.CLOSED_CRITICAL_STREAM, 'QPACK stream closed')
        return this.readDiscard(id)
      case StreamType.WEBTRANSPORT_UNI:
        return this.readSessionId(id, st, afterType, fin)
      case StreamType.PUSH:
        throw new Http3Error(H3.STREAM_CREATION_ERROR, 'push stream')
      default:
        // Unknown and reserved stream types are ignored (RFC 9114 §6.2.3).
        this.stopReading(id, H3.STREAM_CREATION_ERROR)
        return
    }
  }

  /** Reads the session id after a WebTransport prefix and hands the stream over. */
  private readSessionId(
    id: number,
    st: { bytes: Uint8Array; bidi: boolean },
    afterType: number,
    fin: boolean,
  ): void {
    const sid = readVarint(st.bytes, afterType, h3Varint)
    if (!sid) {
      if (fin) this.streams.delete(id)
      return
    }
    const [sessionId, afterSession] = sid
    if (!this.webtransport) {
      if (st.bidi) return this.refuseStream(id, H3.STREAM_CREATION_ERROR)
      return this.stopReading(id, H3.STREAM_CREATION_ERROR)
    }
    this.headerDeadlines?.stop(id)
    this.streams.set(id, { kind: 'webtransport', sessionId })
    this.webtransport.stream(id, sessionId, st.bytes.subarray(afterSession), fin)
  }

  private readControl(id: number, control: ControlStream): void {
    if (this.readAll(id, (b) => control.push(b))) control.end()
  }

  /**
   * RFC 9114 §5.2, on a GOAWAY that passed its checks: our requests at or above `id` were not
   * processed and never will be; the connection takes no new ones.
   */
  private goawayReceived(id: number): void {
    this.peerGoawayId = id
    if (!this.isServer) {
      for (const [streamId, st] of this.streams) {
        if (st.kind !== 'request' || !st.response || streamId < id) continue
        this.settleResponse(st, this.goawayRejection())
        this.refuseStream(streamId, H3.REQUEST_CANCELLED)
      }
    }
    this.webtransport?.goaway()
  }

  /**
   * Reads a request stream: its header section, then, once someone takes the body, what follows.
   * Until then the rest stays in quiche, so a peer cannot make us buffer more than one read.
   */
  private readRequest(id: number, st: RequestState): void {
    for (;;) {
      this.parseRequest(id, st)
      if (this.streams.get(id) !== st) return
      if (st.finSeen) return this.requestFinished(id, st)
      if (st.headersSeen && !st.body) return
      let r
      try {
        r = this.quic.readCopy(id)
      } catch (e) {
        if (e instanceof StreamResetError) return this.requestReset(id, st, e.code)
        throw e
      }
      if (!r) return
      if (r[0].length > 0) st.reader.push(r[0])
      if (r[1]) st.finSeen = true
    }
  }

  private parseRequest(id: number, st: RequestState): void {
    while ((!st.headersSeen || st.body) && this.streams.get(id) === st) {
      let f
      try {
        f = st.reader.next()
      } catch (e) {
        if (!st.headersSeen && e instanceof Http3Error && e.code === H3.EXCESSIVE_LOAD)
          return this.rejectHeaders(id, st, e)
        throw e
      }
      if (!f) return
      if (f.type === FrameType.DATA) {
        if (!st.headersSeen) throw new Http3Error(H3.FRAME_UNEXPECTED, 'DATA before HEADERS')
        st.body!.data(f.payload)
      } else if (isControlFrame(f.type)) {
        throw new Http3Error(H3.FRAME_UNEXPECTED, 'control frame on a request stream')
      } else if (f.type === FrameType.HEADERS && !st.headersSeen) {
        let headers: HeaderList
        try {
          headers = decodeFieldSection(f.payload, { maxHeaderBytes: this.limits.maxHeaderBytes })
        } catch (e) {
          if (e instanceof LimitError) return this.rejectHeaders(id, st, e)
          throw e
        }
        st.headersSeen = true
        this.headerDeadlines?.stop(id)
        if (st.response) this.settleResponse(st, headers)
        else if (this.isServer) this.role.request?.(this, id, headers)
      }
      // Trailers, unknown and reserved frames are skipped.
    }
  }

  /** RFC 9114 §4.2.2: a header section we will not process gets 431; the connection lives. */
  private rejectHeaders(id: number, st: RequestState, e: Error): void {
    this.settleResponse(st, e)
    this.stopReading(id, H3.REQUEST_REJECTED)
    if (this.isServer) void this.respond(id, [[':status', '431']], true).catch(() => {})
  }

  private requestFinished(id: number, st: RequestState): void {
    if (!st.headersSeen) {
      this.headerDeadlines?.stop(id)
      this.streams.delete(id)
      const error = new Http3StreamError(H3.REQUEST_INCOMPLETE, 'request ended before headers')
      this.settleResponse(st, error)
      throw error
    }
    // Kept until someone takes the body, which then hears the end.
    if (!st.body) return
    this.streams.delete(id)
    st.body.end(undefined)
  }

  private requestReset(id: number, st: RequestState, code: number): void {
    this.headerDeadlines?.stop(id)
    this.streams.delete(id)
    this.settleResponse(st, new Http3StreamError(code, 'request stream reset by peer'))
    st.body?.end(code)
  }

  private settleResponse(st: RequestState, outcome: HeaderList | Error): void {
    const response = st.response
    if (!response) return
    st.response = undefined
    if (outcome instanceof Error) response.reject(outcome)
    else response.resolve(outcome)
  }

  /**
   * A request stream's header section did not arrive in time: reset it with
   * H3_REQUEST_INCOMPLETE (RFC 9114 §4.1.2, an incomplete request; STOP_SENDING too, since we
   * will read none of it) and drop what was buffered. A stream whose type or session prefix is
   * still incomplete is treated the same.
   */
  private headersLate(id: number): void {
    const st = this.streams.get(id)
    if (st?.kind === 'prefix' || (st?.kind === 'request' && !st.headersSeen)) {
      this.refuseStream(id, H3.REQUEST_INCOMPLETE)
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
