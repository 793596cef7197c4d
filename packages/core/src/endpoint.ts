import { type DirectAddr, type EndpointAddr, validateAddr } from './addr.js'
import { CloseCode, Connection, type ConnectionPath } from './connection.js'
import { ConnectError, HandshakeError, RelayError } from './errors.js'
import { type EndpointId, PublicKey, type SecretKey } from './identity.js'
import { AsyncQueue } from './internal/queue.js'
import {
  acceptHandshake,
  dialHandshake,
  type HandshakeResult,
  handshakeVersion,
  type LocalIdentity,
} from './secure/handshake.js'
import type { RecordLayerOptions } from './secure/record-layer.js'
import { RelayClient, type RelayState } from './relay/client.js'
import { relayConfigOf } from './relay/config.js'
import { relayCodeName } from './relay/frames.js'
import { signAddrRecord } from './relay/addr-record.js'
import { VirtualSession } from './relay/virtual-session.js'
import type { Session } from './session.js'
import { EndpointTicket, parseTicket } from './ticket.js'
import { equalBytes } from './internal/bytes.js'

/** A dialed session, and what the transport verified about it. */
export interface DialedSession {
  /** The session, ready to carry streams. */
  session: Session
  /**
   * SHA-256 of the certificate this very session was verified against, when the platform can
   * tell (see {@link DialHandshakeOptions.tlsCertHash}).
   */
  tlsCertHash?: Uint8Array
}

/** What a transport knows of a session it accepted. */
export interface IncomingSessionInfo {
  /** The ALPN the listener chose, or `undefined` if it chose none. */
  protocol: string | undefined
  /** SHA-256 of the certificate the session was served with, if any. */
  certHash?: Uint8Array
  /** The dialer's network address (its IP address), where the transport knows it. */
  remote?: string
}

/** How an {@link Endpoint} hears about incoming sessions. */
export interface TransportListener {
  /** Picks the ALPN from the dialer's offer (preference order); `undefined` for none. */
  choose(offer: string[]): string | undefined
  /** Takes each accepted session (also the ones whose offer matched nothing, to refuse them). */
  session(session: Session, info: IncomingSessionInfo): void
}

/**
 * What an {@link Endpoint} runs on: the browser's WebTransport, `webtransport-node`, the
 * in-memory network, and later the relay. Platform packages implement it.
 */
export interface Transport {
  /**
   * Opens a session to `addr`, offering `alpns` in preference order (as the WebTransport
   * `protocols` and, for browsers without that option, in the URL), and resolves once ready.
   */
  dial(addr: DirectAddr, alpns: string[], options: { signal?: AbortSignal }): Promise<DialedSession>
  /** Starts accepting sessions; a dial-only transport leaves this out. */
  listen?(listener: TransportListener): Promise<void> | void
  /** The direct addresses to publish, with the current certificate hashes. */
  directAddrs(): DirectAddr[]
  /** Stops listening and closes every session. */
  close(): Promise<void>
}

/** SHA-256 hashes of certificates, to pin: 32 bytes each, or as hex. */
export type CertHashes = (Uint8Array | string)[]

/** The relay an endpoint uses, when more than its URL is needed. */
export interface RelayConfig {
  /** The relay's `https:` URL. */
  url: string
  /**
   * SHA-256 hashes of the relay's self-signed certificates, to pin: 32 bytes each, or as hex
   * as `ferry relay` prints them. Leave out for a certificate the system trusts.
   *
   * A relay renews its self-signed certificate before it expires (`ferry relay --key-file`
   * does, a day before): give a function instead, which the endpoint calls before each
   * connection to the relay, to learn the new hash where the app learnt the first (a page's
   * configuration, the relay's `/relay`). A rejection fails that attempt; the endpoint retries.
   */
  certHashes?: CertHashes | (() => Promise<CertHashes> | CertHashes)
  /** The shared access token, for a relay started with one. */
  token?: string
}

/** Options every platform's `Endpoint.create` takes. */
export interface EndpointOptions {
  /** ALPNs to accept connections for (a `Router` adds its own). Default none. */
  alpns?: string[]
  /**
   * The home relay: the endpoint keeps a session to it, is reachable through it by its
   * EndpointId (browsers, which cannot listen, only so), dials through it when no direct
   * address works, and publishes its URL in {@link Endpoint.addr}. A URL (`https:`, its
   * certificate trusted by the system), or the URL with the SHA-256 hashes of the relay's
   * self-signed certificates (as `ferry relay` prints them).
   */
  relay?: string | RelayConfig
  /** Hears each change of {@link Endpoint.relayState}. */
  onRelayState?: (state: RelayState) => void
  /** How long either side of a handshake may take. Default 10 s. */
  handshakeTimeoutMs?: number
  /**
   * Hears failures of incoming connections (a handshake that failed, a refused ALPN): the
   * connection is closed with a code the peer sees, and the error comes here. Default: ignore.
   */
  onError?: (error: unknown) => void
  /**
   * @internal Lower record-layer limits on this endpoint's encrypted connections, for tests
   * only (see `RecordLayerOptions._limits`).
   */
  _recordLimits?: RecordLayerOptions['_limits']
}

/** Options of {@link Endpoint.connect}. */
export interface ConnectOptions {
  /** Aborts the connect; it then rejects with `ConnectError` `ABORTED`. */
  signal?: AbortSignal
  /**
   * Encrypt streams and datagrams end to end even on a direct connection whose TLS is bound
   * to the peer's identity (where it adds nothing but cost). Default false.
   */
  encrypt?: boolean
}

/**
 * What {@link Endpoint.connect} takes as its target: an address, a ticket (or its text), or a
 * bare EndpointId (or its text), which is reached through the relay.
 */
export type ConnectTarget = EndpointAddr | EndpointTicket | EndpointId | string

/**
 * How long a direct dial may take before a connect that also has a relay gives up on it and
 * goes through the relay.
 */
export const directDialTimeoutMs = 3000

const defaultHandshakeTimeoutMs = 10_000

/** How long a failed connect waits for the session's close code, which says why it failed. */
const closeInfoGraceMs = 1000

/**
 * An endpoint: an identity that dials other endpoints by id and accepts connections for the
 * ALPNs it serves. Platform packages (`@ferry/browser`, `@ferry/node`, and the in-memory
 * network in `@ferry/core/testing`) subclass it with their transport, key storage and a
 * `create()` factory.
 */
export class Endpoint {
  private readonly accepted = new AsyncQueue<Connection>()
  private readonly live = new Set<Connection>()
  private readonly pendingSessions = new Set<Session>()
  private readonly alpnSet: Set<string>
  private closing: Promise<void> | undefined
  private readonly handshakeTimeoutMs: number
  private readonly onError: (error: unknown) => void
  private readonly relay: RelayClient | undefined

  /** Subclasses construct, then finish their `create()` with {@link Endpoint.start}. */
  protected constructor(
    private readonly identity: LocalIdentity,
    /** The transport this endpoint runs on. */
    protected readonly transport: Transport,
    private readonly options: EndpointOptions,
  ) {
    this.alpnSet = new Set(options.alpns ?? [])
    this.handshakeTimeoutMs = options.handshakeTimeoutMs ?? defaultHandshakeTimeoutMs
    this.onError = options.onError ?? (() => {})
    if (options.relay !== undefined) {
      const { url, certHashes, token } = relayConfigOf(options.relay)
      this.relay = new RelayClient({
        transport,
        relay: { url, certHashes },
        token,
        record: () => signAddrRecord(identity.secretKey, this.addr()),
        secretKey: identity.secretKey,
        listener: this.listener(),
        onState: options.onRelayState,
      })
    }
  }

  /** Where sessions peers open (directly or through the relay) reach this endpoint. */
  private listener(): TransportListener {
    return {
      choose: (offer) => offer.find((alpn) => this.alpnSet.has(alpn)),
      session: (session, info) => this.acceptSession(session, info),
    }
  }

  /**
   * Starts the transport's listener, if it has one; if that fails, closes the endpoint and
   * rethrows. Every platform's `create()` ends with it.
   */
  protected async start(): Promise<this> {
    try {
      await this.transport.listen?.(this.listener())
      this.relay?.start()
    } catch (e) {
      await this.close()
      throw e
    }
    return this
  }

  /** This endpoint's id: its public key. */
  get id(): EndpointId {
    return this.identity.id
  }

  /** This endpoint's secret key. */
  get secretKey(): SecretKey {
    return this.identity.secretKey
  }

  /** The ALPNs this endpoint accepts connections for. */
  get alpns(): string[] {
    return [...this.alpnSet]
  }

  /**
   * Replaces the ALPNs this endpoint accepts; sessions already accepted are unaffected. The
   * {@link Router} owns this.
   * @internal
   */
  setAlpns(alpns: Iterable<string>): void {
    this.alpnSet.clear()
    for (const alpn of alpns) this.alpnSet.add(alpn)
  }

  /** Connections open right now, dialed and accepted. */
  get connections(): ReadonlySet<Connection> {
    return this.live
  }

  /** Whether {@link Endpoint.close} was called. */
  get isClosed(): boolean {
    return this.closing !== undefined
  }

  /** How others reach this endpoint. */
  addr(): EndpointAddr {
    const addr: EndpointAddr = { id: this.id, direct: this.transport.directAddrs() }
    if (this.relay) addr.relay = this.relay.url
    return addr
  }

  /** Where this endpoint stands with its relay; `undefined` without one. */
  get relayState(): RelayState | undefined {
    return this.relay?.state
  }

  /**
   * Resolves once this endpoint is registered with its relay, and so reachable by its
   * EndpointId (at once when it is now). Also on `standby`, when another endpoint with the same
   * identity registered later and is the one reached (see {@link RelayState}): it can dial.
   * @throws {RelayError} when the relay refused to register this endpoint (`ACCESS_DENIED`,
   *   `TOO_MANY_SESSIONS`, `RATE_LIMITED`, …); the endpoint keeps trying, with backoff.
   * @throws {ConnectError} `NO_ADDRESS` without a relay, `ABORTED` when `signal` aborts first,
   *   `CLOSED` when the endpoint closes first.
   */
  online(signal?: AbortSignal): Promise<void> {
    if (!this.relay) {
      return Promise.reject(new ConnectError('NO_ADDRESS', 'this endpoint has no relay'))
    }
    return this.relay.online(signal)
  }

  /** {@link Endpoint.addr} as a ticket to share as text. */
  ticket(): EndpointTicket {
    return new EndpointTicket(this.addr())
  }

  /**
   * Connects to the endpoint `target` names, offering `alpn` (one, or several in preference
   * order; the connection's `alpn` says which one the peer chose). The peer must prove it is
   * `target`'s id.
   *
   * Paths: each direct address of `target` is tried in turn; when none answers (with a relay,
   * each gets {@link directDialTimeoutMs}), the connection goes through this endpoint's relay,
   * which must be the target's relay too. `conn.path` says which path was taken.
   * @throws {ConnectError} when no path works (`TRANSPORT`, `NO_ADDRESS`), the peer serves
   *   none of the ALPNs (`ALPN_REFUSED`), the signal aborts (`ABORTED`), or this endpoint is
   *   closed (`CLOSED`).
   * @throws {RelayError} when the relay refuses the connection (`OFFLINE` at once when the
   *   target has no session there, `ACCESS_DENIED`, a limit, …).
   * @throws {HandshakeError} when the peer fails authentication (`WRONG_ENDPOINT`, …).
   * @throws {DecodeError} when `target` is text that is neither a ticket nor an EndpointId.
   */
  async connect(
    target: ConnectTarget,
    alpn: string | string[],
    options: ConnectOptions = {},
  ): Promise<Connection> {
    const addr = toAddr(target)
    const alpns = typeof alpn === 'string' ? [alpn] : [...alpn]
    if (this.closing) throw new ConnectError('CLOSED', 'the endpoint is closed')
    const { signal } = options
    if (signal?.aborted) {
      throw new ConnectError('ABORTED', 'connect was aborted', { cause: signal.reason })
    }
    if (addr.direct.length === 0 && !this.relay) {
      throw new ConnectError('NO_ADDRESS', `no address to reach ${addr.id.short()}`)
    }
    const failures: unknown[] = []
    for (const direct of addr.direct) {
      let dialed: DialedSession
      try {
        const bounded = this.relay ? withTimeout(signal, directDialTimeoutMs) : signal
        dialed = await this.transport.dial(direct, alpns, { signal: bounded })
      } catch (e) {
        if (signal?.aborted) throw new ConnectError('ABORTED', 'connect was aborted', { cause: e })
        failures.push(e)
        continue
      }
      return this.dialed(dialed, addr.id, alpns, options, 'direct')
    }
    if (this.relay) {
      // What the endpoint itself last published may name addresses the ticket lacks (or
      // newer ones: a stale ticket heals so).
      const tried = new Set(addr.direct.map((d) => d.url))
      const published = await this.relay
        .resolve(addr.id, withTimeout(signal, this.handshakeTimeoutMs))
        .catch(() => undefined)
      for (const direct of published?.direct ?? []) {
        if (tried.has(direct.url) && !hashesDiffer(direct, addr.direct)) continue
        let dialed: DialedSession
        try {
          dialed = await this.transport.dial(direct, alpns, {
            signal: withTimeout(signal, directDialTimeoutMs),
          })
        } catch (e) {
          if (signal?.aborted)
            throw new ConnectError('ABORTED', 'connect was aborted', { cause: e })
          continue
        }
        return this.dialed(dialed, addr.id, alpns, options, 'direct')
      }
      const session = await this.relayed(this.relay, addr.id, alpns, signal)
      return this.dialed({ session }, addr.id, alpns, options, 'relay')
    }
    throw new ConnectError('TRANSPORT', `no address of ${addr.id.short()} answered`, {
      cause: failures.length === 1 ? failures[0] : new AggregateError(failures),
    })
  }

  /** A virtual session to `id` through the relay, once online (within the handshake time). */
  private async relayed(
    relay: RelayClient,
    id: EndpointId,
    alpns: string[],
    signal: AbortSignal | undefined,
  ): Promise<Session> {
    try {
      return await relay.connect(id, alpns, withTimeout(signal, this.handshakeTimeoutMs))
    } catch (e) {
      if (signal?.aborted) throw new ConnectError('ABORTED', 'connect was aborted', { cause: e })
      if (e instanceof ConnectError && e.code === 'ABORTED') {
        // Not online within the handshake time.
        const state = relay.state
        throw new ConnectError('TRANSPORT', `the relay ${relay.url} is not reachable`, {
          cause: state.state === 'offline' ? state.error : e,
        })
      }
      throw e
    }
  }

  /**
   * Connections peers make to this endpoint's ALPNs, until the endpoint closes. A
   * `Router` is the usual consumer; every call shares one queue.
   */
  incoming(): AsyncGenerator<Connection, void, undefined> {
    return this.accepted.values()
  }

  /**
   * Stops accepting, closes every connection with {@link CloseCode.ENDPOINT_CLOSING}, then the
   * transport. Idempotent; each step runs even if an earlier one failed.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown()
    return this.closing
  }

  /** {@link Endpoint.close}, for `await using ep = await Endpoint.create()`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** Subclasses add their own steps (key storage, certificate timers) after these. */
  protected async shutdown(): Promise<void> {
    this.accepted.end()
    for (const conn of this.accepted.drain()) {
      conn.closeWith(CloseCode.ENDPOINT_CLOSING, 'endpoint closing')
    }
    for (const session of this.pendingSessions) {
      session.close({ closeCode: CloseCode.ENDPOINT_CLOSING, reason: 'endpoint closing' })
    }
    const closing = [...this.live].map((conn) => {
      conn.closeWith(CloseCode.ENDPOINT_CLOSING, 'endpoint closing')
      return conn.closed
    })
    await Promise.all(closing)
    await this.relay?.close()
    await this.transport.close()
  }

  private async dialed(
    dialed: DialedSession,
    expectedId: EndpointId,
    alpns: string[],
    options: ConnectOptions,
    path: ConnectionPath,
  ): Promise<Connection> {
    const { session } = dialed
    const { signal } = options
    // Why the session closed, if it did: the acceptor refuses an ALPN, or a handshake version,
    // by closing with a code and reason.
    let closedWith: number | undefined
    let closeReason: string | undefined
    void session.closed.then(
      (info) => {
        closedWith = info.closeCode ?? 0
        closeReason = info.reason
      },
      () => (closedWith = CloseCode.LOST),
    )
    this.pendingSessions.add(session)
    try {
      const stream = await session.createBidirectionalStream()
      // A session that closes mid-handshake ends it at once (a relay refusing the connection
      // says so with a close, and may leave the stream open).
      const closedFirst = session.closed.then(
        (info): never => {
          throw new ConnectError('TRANSPORT', `the session closed: ${info.reason ?? ''}`)
        },
        (e: unknown): never => {
          throw e
        },
      )
      const handshake = await this.withDeadline(
        Promise.race([
          dialHandshake(stream, {
            identity: this.identity,
            alpns,
            expectedId,
            transportProtocol: session.protocol || undefined,
            tlsCertHash: dialed.tlsCertHash,
            encrypt: options.encrypt,
          }),
          closedFirst,
        ]),
        signal,
      )
      return await this.adopt(session, handshake, true, path)
    } catch (e) {
      // An acceptor that refuses closes the session with a code saying why, but the transport
      // may fail the handshake's stream before that close arrives (a browser rejects
      // createBidirectionalStream() at once, a reset stream truncates the handshake): after
      // any failure that is not the peer's authenticated answer, give the close a moment.
      const transportFailed = !(e instanceof HandshakeError) || e.code === 'TRUNCATED'
      if (transportFailed && closedWith === undefined && !signal?.aborted) {
        await settledWithin(session.closed, closeInfoGraceMs)
      }
      const relayCode = closedWith === undefined ? undefined : relayCodeName(closedWith)
      if (relayCode) {
        throw new RelayError(relayCode, closeReason || `the relay refused: ${relayCode}`, {
          cause: e,
        })
      }
      if (closedWith === CloseCode.ALPN_REFUSED) {
        throw new ConnectError(
          'ALPN_REFUSED',
          `${expectedId.short()} serves none of ${alpns.join(', ')}`,
          {
            cause: e,
          },
        )
      }
      session.close({ closeCode: CloseCode.HANDSHAKE_FAILED, reason: errorCode(e) })
      if (signal?.aborted) throw new ConnectError('ABORTED', 'connect was aborted', { cause: e })
      // An acceptor that speaks another handshake version (an old one) refuses ours in the only
      // way both versions share: closing with HANDSHAKE_FAILED and the reason's error code.
      const versionRefused =
        closedWith === CloseCode.HANDSHAKE_FAILED && closeReason === 'UNSUPPORTED_VERSION'
      if (transportFailed && versionRefused) {
        throw new HandshakeError(
          'UNSUPPORTED_VERSION',
          `${expectedId.short()} refused handshake version ${handshakeVersion}: it speaks another`,
          { cause: e },
        )
      }
      if (e instanceof HandshakeError) throw e
      throw new ConnectError('TRANSPORT', 'the session failed during the handshake', { cause: e })
    } finally {
      this.pendingSessions.delete(session)
    }
  }

  private acceptSession(session: Session, info: IncomingSessionInfo): void {
    if (this.closing) {
      session.close({ closeCode: CloseCode.ENDPOINT_CLOSING, reason: 'endpoint closing' })
      return
    }
    if (info.protocol === undefined) {
      session.close({ closeCode: CloseCode.ALPN_REFUSED, reason: 'no offered ALPN is served' })
      this.onError(new ConnectError('ALPN_REFUSED', 'a dialer offered no ALPN served here'))
      return
    }
    this.pendingSessions.add(session)
    void this.runAcceptor(session, info)
      .then((conn) => {
        if (!this.accepted.push(conn)) conn.closeWith(CloseCode.ENDPOINT_CLOSING, 'closing')
      })
      .catch((e: unknown) => {
        session.close({ closeCode: CloseCode.HANDSHAKE_FAILED, reason: errorCode(e) })
        this.onError(e)
      })
      .finally(() => this.pendingSessions.delete(session))
  }

  private async runAcceptor(session: Session, info: IncomingSessionInfo): Promise<Connection> {
    const run = async (): Promise<HandshakeResult> => {
      await session.ready
      const reader = session.incomingBidirectionalStreams.getReader()
      const first = await reader.read()
      reader.releaseLock()
      if (first.done) throw new HandshakeError('TRUNCATED', 'the session ended before a stream')
      return acceptHandshake(first.value, {
        identity: this.identity,
        alpns: this.alpnSet,
        transportProtocol: info.protocol,
        certHash: info.certHash,
      })
    }
    const handshake = await this.withDeadline(run(), undefined)
    return this.adopt(
      session,
      handshake,
      false,
      session instanceof VirtualSession ? 'relay' : 'direct',
    )
  }

  private async adopt(
    session: Session,
    handshake: HandshakeResult,
    isDialer: boolean,
    path: ConnectionPath,
  ): Promise<Connection> {
    const conn = await Connection.establish({
      session,
      handshake,
      isDialer,
      path,
      _recordLimits: this.options._recordLimits,
    })
    if (this.closing) {
      conn.closeWith(CloseCode.ENDPOINT_CLOSING, 'endpoint closing')
      throw new ConnectError('CLOSED', 'the endpoint closed during the handshake')
    }
    this.live.add(conn)
    void conn.closed.then(() => this.live.delete(conn))
    return conn
  }

  /** Races `work` against the handshake timeout and the caller's signal. */
  private withDeadline<T>(work: Promise<T>, signal: AbortSignal | undefined): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new HandshakeError('TIMEOUT', 'the handshake did not finish in time')),
        this.handshakeTimeoutMs,
      )
      const onAbort = (): void =>
        reject(signal?.reason instanceof Error ? signal.reason : new Error('aborted'))
      signal?.addEventListener('abort', onAbort, { once: true })
      work.then(resolve, reject).finally(() => {
        clearTimeout(timer)
        signal?.removeEventListener('abort', onAbort)
      })
    })
  }
}

/** Whether `direct` pins other certificates than the address of the same URL in `known`. */
function hashesDiffer(direct: DirectAddr, known: DirectAddr[]): boolean {
  const same = known.find((k) => k.url === direct.url)
  if (!same || same.certHashes.length !== direct.certHashes.length) return true
  return same.certHashes.some((hash, i) => !equalBytes(hash, direct.certHashes[i]!))
}

/** The bounded version of `signal`: it also aborts after `ms`. */
function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms)
  return signal ? AbortSignal.any([signal, timeout]) : timeout
}

/**
 * The {@link EndpointAddr} a connect target stands for: a bare EndpointId (object or text) is
 * an address with no routes; a ticket (object or text) is its address.
 * @throws {DecodeError} for text that is neither a ticket nor an EndpointId.
 * @throws {TypeError | RangeError} for an address that is not valid.
 */
export function toAddr(target: ConnectTarget): EndpointAddr {
  if (target instanceof PublicKey) return { id: target, direct: [] }
  if (typeof target === 'string') {
    // A ticket, or else the text of a bare EndpointId.
    try {
      return parseTicket(target).addr
    } catch (error) {
      try {
        return { id: PublicKey.fromString(target), direct: [] }
      } catch {
        throw error
      }
    }
  }
  if (target instanceof EndpointTicket) return target.addr
  validateAddr(target)
  return target
}

function errorCode(e: unknown): string {
  return e instanceof HandshakeError ? e.code : 'HANDSHAKE_FAILED'
}

/** Waits until `promise` settles, but at most `ms`. */
async function settledWithin(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const bound = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  await Promise.race([
    promise.then(
      () => {},
      () => {},
    ),
    bound,
  ])
  clearTimeout(timer)
}
