/**
 * The relay server's protocol logic (`ferry-relay/1`, see `@ferry/core`'s relay `frames.ts`
 * and PROTOCOL.md): it authenticates each client session, registers it under its EndpointId,
 * and splices the streams and datagrams of virtual connections between two registered
 * clients, rewriting connection ids. It runs over any `Session`, so the in-memory network
 * tests it and the QUIC server binds it to real sockets.
 *
 * Choices the protocol leaves open, made here:
 * - A stream other than the control stream that arrives before READY was sent is cancelled
 *   (code 0); the session stays. A client must wait for READY before it dials.
 * - A CONNECT whose connection id is odd, or even but in use, is a broken promise about ids:
 *   the stream is cancelled and the client gets CLOSE{id, PROTOCOL_ERROR}; when the id was in
 *   use, that connection is closed on both sides (so the client's view and the relay's agree).
 * - A header that never arrives whole (too large, or late) gets CLOSE{id, HEADER_TOO_LARGE}
 *   when it is a CONNECT whose fresh id arrived; a header that does not decode gets
 *   CLOSE{id, PROTOCOL_ERROR} likewise. The stream is cancelled either way.
 * - The control stream ending, cleanly or not, closes the session with PROTOCOL_ERROR: it lives
 *   as long as the session, and a client leaves by closing the session.
 * - A client that leaves {@link maxQueuedControlMessages} control messages waiting (it does
 *   not read its control stream) is closed with PROTOCOL_ERROR, so no queue grows unbounded.
 * - Limits, access control and the per-ALPN policy, with the code of each refusal, are in
 *   `limits.ts`; byte rates pace the splice (`splice.ts`) and the datagrams (`datagrams.ts`).
 */
import {
  type BidiStream,
  CloseCode,
  ConnectError,
  DecodeError,
  RelayError,
  FramedReader,
  FramedWriter,
  type PublicKey,
  SecretKey,
} from '@ferry/core'
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  encodeHeader,
  type IncomingSessionInfo,
  maxControlMessageBytes,
  nonceBytes,
  relayAlpn,
  RelayCode,
  type RelayCodeName,
  relayVersion,
  type Session,
  type TransportListener,
  verifyAuth,
} from '@ferry/core/internal'
import type { RelayAccess } from './access.js'
import { Client } from './client.js'
import { cancelStream, partialConnectConn, readHeader, type HeaderResult } from './header.js'
import { codeOf, RelayLimits, type RelayLimitOptions } from './limits.js'
import type { RelayMetrics } from './metrics.js'
import { readDatagrams } from './datagrams.js'
import { pump, splice, writeHeader } from './splice.js'
import { AddrRecords } from './records.js'
import { IdRegistry } from './registry.js'
import { waitForTokens } from './token-bucket.js'

/** Options of a {@link Relay}: its identity, timeouts, and limits (see `limits.ts`). */
export interface RelayOptions extends RelayLimitOptions {
  /** The relay's own identity: its public key goes in every CHALLENGE. */
  secretKey: SecretKey
  /** Time a client has, from its session's start, for its control stream and AUTH. Default 10 s. */
  authTimeoutMs?: number
  /** Time any later stream's header has to arrive whole. Default 10 s. */
  headerTimeoutMs?: number
  /**
   * Hears why the relay closed a client's session or refused a stream ({@link RelayError},
   * `ConnectError` `ALPN_REFUSED`), and any unexpected failure. Default: ignore.
   */
  onError?: (error: unknown) => void
}

const defaultAuthTimeoutMs = 10_000
const defaultHeaderTimeoutMs = 10_000
/** Control messages a client may leave waiting for its control stream to take them. */
export const maxQueuedControlMessages = 256
/** How long {@link Relay.close} waits for its GOAWAYs to be queued before it closes. */
const goawayGraceMs = 1000
/** How long a stream may wait for its connection's CONNECT stream, which it overtook. */
const connectWaitMs = 5000
/** Older sessions of one EndpointId kept standing by; one more is refused. */
export const maxStandbyPerId = 8

/**
 * A relay: give {@link Relay.listener} to a transport's `listen()`, or each accepted session
 * to {@link Relay.handle}. Hostile clients cannot crash it or reach other clients' state: every
 * failure of a client becomes a close of its session or a cancel of one of its streams.
 */
export class Relay {
  readonly #secretKey: SecretKey
  readonly #authTimeoutMs: number
  readonly #headerTimeoutMs: number
  readonly #onError: (error: unknown) => void
  readonly #sessions = new Set<Client>()
  readonly #registry = new IdRegistry<Client>(maxStandbyPerId)
  readonly #limits: RelayLimits
  readonly #records = new AddrRecords()
  #closing: Promise<void> | undefined

  /**
   * @throws {TypeError} if `options.secretKey` is not a `SecretKey`, or a limit has the
   *   wrong type.
   * @throws {RangeError} if a timeout is not a positive number, or a limit is out of range.
   */
  constructor(options: RelayOptions) {
    if (!(options?.secretKey instanceof SecretKey)) {
      throw new TypeError('options.secretKey must be a SecretKey')
    }
    this.#secretKey = options.secretKey
    this.#authTimeoutMs = checkTimeout(options.authTimeoutMs, defaultAuthTimeoutMs, 'authTimeoutMs')
    this.#headerTimeoutMs = checkTimeout(
      options.headerTimeoutMs,
      defaultHeaderTimeoutMs,
      'headerTimeoutMs',
    )
    this.#onError = options.onError ?? (() => {})
    this.#limits = new RelayLimits(options)
  }

  /** The relay's id, which its CHALLENGEs carry. */
  get id(): PublicKey {
    return this.#secretKey.publicKey
  }

  /** Registered EndpointIds right now (sessions standing by behind a newer one not counted). */
  get clients(): number {
    return this.#registry.size
  }

  /** Datagrams dropped so far: undecodable, for no known connection, or the target was busy. */
  get droppedDatagrams(): number {
    return this.#limits.counters.datagramsDropped
  }

  /** A snapshot of the relay's gauges and counters (`renderPrometheus` prints one). */
  metrics(): RelayMetrics {
    return this.#limits.metrics(this.#registry.size)
  }

  /**
   * Replaces the access policy; registered clients it no longer admits are closed with
   * `ACCESS_DENIED`.
   * @throws {TypeError | RangeError} for a bad policy (the old one then stays).
   */
  setAccess(access: RelayAccess): void {
    this.#limits.access.set(access)
    for (const client of this.#registry.all()) {
      if (!this.#limits.access.allows(client.id!, client.token)) {
        this.#fail(client, 'ACCESS_DENIED', 'the access policy no longer admits this client')
      }
    }
  }

  /**
   * A listener for a transport's `listen()`: it chooses {@link relayAlpn} from an offer
   * (nothing else) and passes every session to {@link Relay.handle}.
   */
  listener(): TransportListener {
    return {
      choose: (offer) => (offer.includes(relayAlpn) ? relayAlpn : undefined),
      session: (session, info) => this.handle(session, info),
    }
  }

  /**
   * Takes one accepted session. One whose subprotocol is not {@link relayAlpn} is closed with
   * `CloseCode.ALPN_REFUSED`; after {@link Relay.close}, with `SHUTTING_DOWN`.
   */
  handle(session: Session, info: IncomingSessionInfo): void {
    if (info.protocol !== relayAlpn) {
      closeQuietly(session, CloseCode.ALPN_REFUSED, `this relay serves only ${relayAlpn}`)
      this.#onError(new ConnectError('ALPN_REFUSED', 'a client offered no relay ALPN'))
      return
    }
    if (this.#closing) {
      closeQuietly(session, RelayCode.SHUTTING_DOWN, 'relay shutting down')
      return
    }
    const refusal = this.#limits.admitSession(info.remote)
    if (refusal) {
      closeQuietly(session, codeOf(refusal), refusal.reason)
      this.#onError(new RelayError(refusal.code, refusal.reason))
      return
    }
    const client: Client = new Client(session, info.remote, this.#limits.clientBucket(), () =>
      this.#touch(client),
    )
    this.#sessions.add(client)
    client.authTimer = setTimeout(
      () => this.#fail(client, 'AUTH_FAILED', `no AUTH within ${this.#authTimeoutMs} ms`),
      this.#authTimeoutMs,
    )
    const end = (): void => this.#end(client)
    session.closed.then(end, end)
    void this.#acceptBidi(client)
    void this.#acceptUni(client)
    void readDatagrams(client, this.#limits)
  }

  /**
   * Sends GOAWAY{SHUTTING_DOWN} on every control stream, then closes every session with
   * `SHUTTING_DOWN`; later sessions are refused. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown()
    return this.#closing
  }

  /** {@link Relay.close}, for `await using relay = new Relay(…)`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  async #shutdown(): Promise<void> {
    const reason = 'relay shutting down'
    const clients = [...this.#sessions]
    const queued = clients.map((client) =>
      this.#send(client, { type: 'goaway', code: RelayCode.SHUTTING_DOWN, reason }),
    )
    // A client that does not read its control stream cannot hold the shutdown up.
    let timer: ReturnType<typeof setTimeout> | undefined
    await Promise.race([
      Promise.all(queued),
      new Promise((resolve) => (timer = setTimeout(resolve, goawayGraceMs))),
    ])
    clearTimeout(timer)
    for (const client of clients) this.#closeSession(client, RelayCode.SHUTTING_DOWN, reason)
  }

  // Sessions: accepting, failing, ending.

  async #acceptBidi(client: Client): Promise<void> {
    const reader = client.session.incomingBidirectionalStreams.getReader()
    try {
      for (;;) {
        const { done, value: stream } = await reader.read()
        if (done) return
        // Past its stream rate, the client's next stream waits here, and the ones after it
        // in the transport (whose stream credit then holds the client back).
        if (!(await this.#paceStreams(client)))
          return cancelStream(stream.readable, stream.writable)
        if (!client.sawControl) {
          client.sawControl = true
          void this.#runControl(client, stream)
        } else if (!client.registered || client.ended) {
          cancelStream(stream.readable, stream.writable)
        } else {
          void this.#route(client, stream.readable, stream.writable)
        }
      }
    } catch {
      // The session failed; its `closed` rejected too, and #end runs from there.
    }
  }

  async #acceptUni(client: Client): Promise<void> {
    const reader = client.session.incomingUnidirectionalStreams.getReader()
    try {
      for (;;) {
        const { done, value: readable } = await reader.read()
        if (done) return
        if (!(await this.#paceStreams(client))) return cancelStream(readable, undefined)
        if (!client.registered || client.ended) cancelStream(readable, undefined)
        else void this.#route(client, readable, undefined)
      }
    } catch {
      // As in #acceptBidi.
    }
  }

  /**
   * Waits until a registered client's stream rate allows one more stream, and takes it (the
   * control stream and streams before READY are not paced). Resolves `false` once the client
   * has ended.
   */
  async #paceStreams(client: Client): Promise<boolean> {
    if (!client.registered) return !client.ended
    client.streamBucket ??= this.#limits.streamBucket()
    if (!(await waitForTokens([client.streamBucket], client.stop.signal))) return false
    client.streamBucket.charge(1)
    return true
  }

  /** Closes `client`'s session with `code`, telling `onError` why. */
  #fail(client: Client, code: RelayCodeName, reason: string, cause?: unknown): void {
    if (client.ended) return
    this.#limits.counters.refused(code)
    if (code === 'AUTH_FAILED') this.#limits.counters.authFailures++
    this.#onError(new RelayError(code, reason, cause === undefined ? undefined : { cause }))
    this.#closeSession(client, RelayCode[code], reason)
  }

  #closeSession(client: Client, code: number, reason: string): void {
    if (client.ended) return
    closeQuietly(client.session, code, reason)
    // At once, not when `closed` settles: the peers hear PEER_GONE promptly either way.
    this.#end(client)
  }

  /** The session ended: unregister it and tell the peers of its connections. */
  #end(client: Client): void {
    if (client.ended) return
    client.ended = true
    client.stop.abort()
    clearTimeout(client.authTimer)
    clearTimeout(client.idleTimer)
    this.#sessions.delete(client)
    this.#limits.releaseSession(client.remote)
    if (client.id !== undefined) {
      const promoted = this.#registry.remove(client.id.toString(), client)
      // The newest session of the id standing by takes over, and is told so.
      if (promoted) void this.#send(promoted, { type: 'ready' })
    }
    for (const link of client.conns.values()) {
      if (link.peer === client) continue
      link.peer.conns.delete(link.conn)
      void this.#send(link.peer, {
        type: 'close',
        conn: link.conn,
        code: RelayCode.PEER_GONE,
        reason: 'the peer left the relay',
      })
    }
    client.conns.clear()
  }

  // The control stream.

  async #runControl(client: Client, stream: BidiStream): Promise<void> {
    try {
      const result = await readHeader(stream.readable, this.#authTimeoutMs)
      if (!result.ok) {
        cancelStream(result.reader, stream.writable)
        if (result.reason === 'timeout') this.#fail(client, 'AUTH_FAILED', 'no control stream')
        else this.#fail(client, 'PROTOCOL_ERROR', 'the first stream has no header', result.error)
        return
      }
      if (result.header.kind !== 'control') {
        cancelStream(result.rest, stream.writable)
        this.#fail(client, 'PROTOCOL_ERROR', 'the first stream is not the control stream')
        return
      }
      const options = { maxMessageBytes: maxControlMessageBytes }
      const reader = new FramedReader(result.rest, options)
      client.control = new FramedWriter(stream.writable, options)
      const nonce = crypto.getRandomValues(new Uint8Array(nonceBytes))
      void this.#send(client, {
        type: 'challenge',
        version: relayVersion,
        relayId: this.id,
        nonce,
      })
      const id = await this.#readAuth(client, reader, nonce)
      if (id === undefined || client.ended) return
      this.#register(client, id)
      await this.#serveControl(client, reader)
    } catch (error) {
      // Nothing above throws by design; a bug must still cost only this session.
      this.#fail(client, 'PROTOCOL_ERROR', 'the control stream failed', error)
    }
  }

  /** The AUTH's EndpointId once its signature verifies; else fails the session. */
  async #readAuth(
    client: Client,
    reader: FramedReader,
    nonce: Uint8Array,
  ): Promise<PublicKey | undefined> {
    let bytes: Uint8Array | undefined
    try {
      bytes = await reader.read()
    } catch (error) {
      this.#fail(client, 'AUTH_FAILED', 'the control stream failed before AUTH', error)
      return undefined
    }
    if (bytes === undefined) {
      this.#fail(client, 'AUTH_FAILED', 'the control stream ended before AUTH')
      return undefined
    }
    const message = this.#decode(client, bytes, 'AUTH_FAILED')
    if (message === undefined) return undefined
    if (message.type !== 'auth') {
      this.#fail(client, 'AUTH_FAILED', `a ${message.type} message instead of AUTH`)
      return undefined
    }
    if (!(await verifyAuth(message.id, nonce, this.id, message.signature))) {
      this.#fail(client, 'AUTH_FAILED', 'the AUTH signature does not verify')
      return undefined
    }
    if (!this.#limits.access.allows(message.id, message.token)) {
      this.#fail(client, 'ACCESS_DENIED', 'this relay does not admit this client')
      return undefined
    }
    client.token = message.token
    return message.id
  }

  #register(client: Client, id: PublicKey): void {
    clearTimeout(client.authTimer)
    if (this.#closing) {
      this.#closeSession(client, RelayCode.SHUTTING_DOWN, 'relay shutting down')
      return
    }
    client.id = id
    const key = id.toString()
    if (this.#registry.full(key)) {
      // Refused rather than displacing the oldest, which would come back and displace the next:
      // the newcomer retries with a growing backoff and gets in once one of them leaves.
      this.#fail(client, 'TOO_MANY_SESSIONS', 'too many sessions of this id')
      return
    }
    // Another tab or process with the same identity: the newer one gets the id's connections,
    // and the older stands by instead of fighting for them.
    const older = this.#registry.add(key, client)
    client.registered = true
    void this.#send(client, { type: 'ready' })
    this.#touch(client)
    if (older) void this.#send(older, { type: 'standby' })
  }

  /** Restarts `client`'s idle timer (see `Client.restartIdle`). */
  #touch(client: Client): void {
    const ms = this.#limits.idleTimeoutMs
    client.restartIdle(ms, () => this.#fail(client, 'IDLE_TIMEOUT', `nothing for ${ms} ms`))
  }

  async #serveControl(client: Client, reader: FramedReader): Promise<void> {
    for (;;) {
      let bytes: Uint8Array | undefined
      try {
        bytes = await reader.read()
      } catch (error) {
        this.#fail(client, 'PROTOCOL_ERROR', 'the control stream failed', error)
        return
      }
      if (client.ended) return
      if (bytes === undefined) {
        this.#fail(client, 'PROTOCOL_ERROR', 'the control stream ended')
        return
      }
      const message = this.#decode(client, bytes, 'PROTOCOL_ERROR')
      if (message === undefined) return
      this.#touch(client)
      switch (message.type) {
        case 'close':
          this.#closeConn(client, message.conn, message.code, message.reason)
          break
        case 'ping':
          // Alive: the idle timer restarted above.
          break
        case 'publish':
          // Kept if it is the client's own, signed and fresh; otherwise ignored.
          void this.#records.publish(client.id!, message.record)
          break
        case 'resolve':
          void this.#send(client, {
            type: 'resolved',
            request: message.request,
            record: this.#records.get(message.id) ?? new Uint8Array(0),
          })
          break
        default:
          this.#fail(client, 'PROTOCOL_ERROR', `a ${message.type} message from a client`)
          return
      }
    }
  }

  #decode(client: Client, bytes: Uint8Array, code: RelayCodeName): ControlMessage | undefined {
    try {
      return decodeControl(bytes)
    } catch (error) {
      if (!(error instanceof DecodeError)) throw error
      this.#fail(client, code, 'a control message that does not decode', error)
      return undefined
    }
  }

  /**
   * Queues `message` on `client`'s control stream; resolves once queued, or when it cannot be
   * (the session is then closed). Never rejects.
   */
  #send(client: Client, message: ControlMessage): Promise<void> {
    const control = client.control
    if (client.ended || control === undefined) return Promise.resolve()
    if (client.queuedControl >= maxQueuedControlMessages) {
      this.#fail(client, 'PROTOCOL_ERROR', 'the client does not read its control stream')
      return Promise.resolve()
    }
    client.queuedControl++
    let bytes: Uint8Array
    try {
      bytes = encodeControl(message)
    } catch (error) {
      // Every field comes from a decoded message or from here, so this is a bug.
      client.queuedControl--
      this.#onError(error)
      return Promise.resolve()
    }
    return control.write(bytes).then(
      () => void client.queuedControl--,
      (error: unknown) => this.#fail(client, 'PROTOCOL_ERROR', 'the control stream failed', error),
    )
  }

  /** Forgets connection `conn` of `client` on both sides and tells the peer with CLOSE. */
  #closeConn(client: Client, conn: number, code: number, reason: string): void {
    const link = client.conns.get(conn)
    // An unknown id is no error: the peer may have closed it, or left, at the same time.
    if (link === undefined) return
    client.conns.delete(conn)
    link.peer.conns.delete(link.conn)
    void this.#send(link.peer, { type: 'close', conn: link.conn, code, reason })
  }

  // Streams.

  async #route(
    client: Client,
    readable: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array> | undefined,
  ): Promise<void> {
    try {
      const result = await readHeader(readable, this.#headerTimeoutMs)
      if (!result.ok) {
        this.#headerFailed(client, result, writable)
        return
      }
      const { header, rest } = result
      if (client.ended) {
        cancelStream(rest, writable)
      } else if (header.kind === 'connect' && writable) {
        await this.#connect(client, header.conn, header.peer, header.offer, rest, writable)
      } else if (header.kind === 'stream') {
        await this.#forward(client, header.conn, rest, writable)
      } else {
        const kind = writable ? 'bidi' : 'uni'
        const error = new RelayError(
          'PROTOCOL_ERROR',
          `a ${header.kind} header on a ${kind} stream`,
        )
        cancelStream(rest, writable, error)
        this.#onError(error)
      }
    } catch (error) {
      // Nothing above throws by design; a bug must still cost only this stream.
      // A readable still locked by its header's reader refuses the cancel; the reset still goes out.
      cancelStream(readable, writable, error)
      this.#onError(error)
    }
  }

  #headerFailed(
    client: Client,
    result: Extract<HeaderResult, { ok: false }>,
    writable: WritableStream<Uint8Array> | undefined,
  ): void {
    const late = result.reason === 'timeout'
    const tooLarge = late || (result.reason === 'decode' && result.error.code === 'TOO_LARGE')
    const code = tooLarge ? 'HEADER_TOO_LARGE' : 'PROTOCOL_ERROR'
    const reason = late ? 'the stream header came too late' : 'a stream header that does not decode'
    const error = new RelayError(code, reason, late ? undefined : { cause: result.error })
    cancelStream(result.reader, writable, error)
    // A reset or a stream that ended inside its header is the client's own doing: no answer.
    if (result.reason === 'stream') return
    if (result.reason === 'decode' && result.error.code === 'TRUNCATED') return
    this.#onError(error)
    const conn = partialConnectConn(result.partial)
    if (writable && conn !== undefined && conn % 2 === 0 && !client.conns.has(conn)) {
      void this.#send(client, { type: 'close', conn, code: RelayCode[code], reason })
    }
  }

  async #connect(
    client: Client,
    conn: number,
    target: PublicKey,
    offer: string[],
    rest: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array>,
  ): Promise<void> {
    const refuse = (code: RelayCodeName, reason: string): void => {
      this.#limits.counters.refused(code)
      const error = new RelayError(code, reason)
      cancelStream(rest, writable, error)
      // Streams of this connection that overtook its CONNECT are refused with it.
      if (conn % 2 === 0 && !client.conns.has(conn)) client.conns.delete(conn)
      void this.#send(client, { type: 'close', conn, code: RelayCode[code], reason })
      if (code === 'PROTOCOL_ERROR') this.#onError(error)
    }
    if (conn % 2 !== 0 || client.conns.has(conn)) {
      const reason = `a CONNECT with connection id ${conn}, ${conn % 2 ? 'odd' : 'in use'}`
      // The client reads the CLOSE as the end of connection `conn`: so it is, on both sides.
      const link = client.conns.get(conn)
      if (link) {
        client.conns.delete(conn)
        link.peer.conns.delete(link.conn)
        void this.#send(link.peer, {
          type: 'close',
          conn: link.conn,
          code: RelayCode.PROTOCOL_ERROR,
          reason: 'the peer broke the relay protocol',
        })
      }
      refuse('PROTOCOL_ERROR', reason)
      return
    }
    const allowed = this.#limits.allowedOffer(offer)
    const early = 'code' in allowed ? allowed : this.#limits.dialerRefusal(client)
    if (early) return refuse(early.code, early.reason)
    const peer = this.#registry.get(target.toString())
    if (peer === undefined) {
      refuse('OFFLINE', `${target.short()} is not connected to this relay`)
      return
    }
    const account = this.#limits.admitConnection(client, peer, allowed as string[])
    if ('code' in account) return refuse(account.code, account.reason)
    // Admitted with the connection, so the check above stands for it.
    const ticket = this.#limits.admitStream(client, peer)!
    const peerConn = peer.nextConn
    peer.nextConn += 2
    client.conns.set(conn, { peer, conn: peerConn, account })
    peer.conns.set(peerConn, { peer: client, conn, account })
    let stream: BidiStream
    try {
      stream = await peer.session.createBidirectionalStream()
    } catch (error) {
      // The target's session is ending; its #end tells the client, unless it already ran.
      ticket.release()
      cancelStream(rest, writable, error)
      if (client.conns.get(conn)?.peer === peer) {
        client.conns.delete(conn)
        peer.conns.delete(peerConn)
        void this.#send(client, {
          type: 'close',
          conn,
          code: RelayCode.PEER_GONE,
          reason: 'the peer left the relay',
        })
      }
      return
    }
    const header = encodeHeader({
      kind: 'connect',
      conn: peerConn,
      peer: client.id!,
      offer: allowed as string[],
    })
    const flows = {
      out: this.#limits.flow(client, account),
      back: this.#limits.flow(peer, account),
    }
    await splice(header, { readable: rest, writable }, stream, flows, ticket)
  }

  async #forward(
    client: Client,
    conn: number,
    rest: ReadableStream<Uint8Array>,
    writable: WritableStream<Uint8Array> | undefined,
  ): Promise<void> {
    const link = await client.conns.arrival(conn, connectWaitMs)
    if (link === undefined) {
      // Not an error worth a close: the connection may have just closed.
      cancelStream(rest, writable, new RelayError('PROTOCOL_ERROR', `no connection ${conn}`))
      return
    }
    const ticket = this.#limits.admitStream(client, link.peer)
    if (ticket === undefined) {
      // Only the stream: the connection is fine, its ends have too many streams (limits.ts).
      cancelStream(rest, writable, new RelayError('TOO_MANY_STREAMS', 'too many streams'))
      return
    }
    const header = encodeHeader({ kind: 'stream', conn: link.conn })
    const out = this.#limits.flow(client, link.account)
    try {
      if (writable) {
        const stream = await link.peer.session.createBidirectionalStream()
        const back = this.#limits.flow(link.peer, link.account)
        await splice(header, { readable: rest, writable }, stream, { out, back }, ticket)
      } else {
        const uni = await link.peer.session.createUnidirectionalStream()
        if (await writeHeader(uni, header, rest)) await pump(rest, uni, out)
        ticket.release()
      }
    } catch (error) {
      // The peer's session is ending (its #end closes the connection): drop this stream.
      ticket.release()
      cancelStream(rest, writable, error)
    }
  }
}

function closeQuietly(session: Session, closeCode: number, reason: string): void {
  try {
    session.close({ closeCode, reason })
  } catch {
    // Only a bad code or reason throws, and both come from this file.
  }
}

function checkTimeout(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (!(typeof value === 'number' && value > 0 && Number.isFinite(value))) {
    throw new RangeError(`options.${name} must be a positive number of milliseconds`)
  }
  return value
}
