/**
 * The client side of `ferry-relay/1`: one session to the endpoint's relay, registered under
 * its EndpointId, that carries virtual connections both ways (see `frames.ts` and PROTOCOL.md,
 * "The relay protocol"). It reconnects with jittered exponential backoff when the session
 * ends, and at once when the relay says it is going away.
 */
import type { EndpointAddr } from '../addr.js'
import { verifyAddrRecord } from './addr-record.js'
import { framed, type FramedReader, type FramedWriter } from '../codec/framed.js'
import type { Transport, TransportListener } from '../endpoint.js'
import { ConnectError, RelayError } from '../errors.js'
import type { PublicKey, SecretKey } from '../identity.js'
import type { BidiStream, Session } from '../session.js'
import { signAuth } from './auth.js'
import {
  type ControlMessage,
  decodeControl,
  decodeDatagram,
  encodeControl,
  encodeHeader,
  maxControlMessageBytes,
  RelayCode,
  relayAlpn,
  relayCodeName,
  relayVersion,
} from './frames.js'
import { readStreamHeader } from './stream-header.js'
import { VirtualSession, type VirtualSessionHost, writeHeader } from './virtual-session.js'

/** Where an endpoint stands with its relay. */
export type RelayState =
  | {
      /** Dialing and registering. */
      state: 'connecting'
      /** Attempts since the last success, from 0. */
      attempt: number
    }
  | {
      /** Registered: reachable by EndpointId through the relay. */
      state: 'online'
    }
  | {
      /**
       * Registered, but a newer session with the same EndpointId (another tab or process with
       * this identity) now receives the connections made to it. This one keeps its connections
       * and can dial; it is `online` again when the newer one leaves.
       */
      state: 'standby'
    }
  | {
      /** Not connected, waiting to try again. */
      state: 'offline'
      /** Why the last attempt failed or the session ended (a `RelayError` when the relay said). */
      error: unknown
      /** When the next attempt starts, in ms from now. */
      retryInMs: number
    }
  | {
      /** Closed for good (the endpoint closed). */
      state: 'closed'
    }

/** Options of {@link RelayClient}. */
export interface RelayClientOptions {
  /** The transport to dial the relay with. */
  transport: Transport
  /** The relay: its URL, and the certificate hashes to pin, asked for before each dial. */
  relay: { url: string; certHashes: () => Promise<Uint8Array[]> }
  /** The access token the relay asks for, if it asks for one. */
  token?: string
  /**
   * This endpoint's signed address record (see `addr-record.ts`), published to the relay on
   * each registration and every {@link republishMs}, so dialers can look it up.
   */
  record?: () => Promise<Uint8Array>
  /** The identity to register. */
  secretKey: SecretKey
  /** Where virtual connections that peers dial reach this endpoint. */
  listener: TransportListener
  /** Hears every change of {@link RelayClient.state}. */
  onState?: (state: RelayState) => void
  /** How long dialing and registering may take. Default 10 s. */
  registerTimeoutMs?: number
  /** Reconnection backoff: first and longest delay. Default 250 ms and 30 s. */
  backoff?: { initialMs?: number; maxMs?: number }
}

/** The live session to the relay, registered. */
interface Registered {
  session: Session
  control: { reader: FramedReader; writer: FramedWriter }
  datagrams: WritableStreamDefaultWriter<Uint8Array>
  virtual: Map<number, VirtualSession>
  /**
   * Streams that arrived before their connection's CONNECT stream was read (streams race
   * each other): they wait here, by connection id, until it is, or for at most
   * {@link parkedStreamMs}.
   */
  parked: Map<number, { arrived: Promise<VirtualSession>; resolve: (v: VirtualSession) => void }>
  /** How many streams wait in `parked`. */
  parkedCount: number
  /** Connections that ended lately, whose late streams are refused at once. */
  ended: Set<number>
  nextConn: number
  goaway: boolean
  /** RESOLVE requests waiting for their RESOLVED, by request number. */
  resolving: Map<number, (record: Uint8Array) => void>
  nextRequest: number
}

/**
 * How often a registered client tells the relay it is alive (PING), so neither the relay's
 * idle timeout nor the transport's (30 s of silence) ends a quiet session.
 */
export const keepaliveMs = 15_000

/** How often a client publishes its address record again (a record lives a day). */
export const republishMs = 6 * 60 * 60 * 1000

/** How long a stream may wait for its connection's CONNECT stream. */
const parkedStreamMs = 5000
/** Streams that may wait for their connection's CONNECT stream at once. */
const maxParkedStreams = 256
/** Ended connection ids remembered, to refuse their late streams at once. */
const maxEndedRemembered = 1024

/** A relay's close code, as a {@link RelayError} when it is one. */
function closeError(code: number | undefined, reason: string | undefined): Error {
  const name = code === undefined ? undefined : relayCodeName(code)
  if (name) return new RelayError(name, reason || `the relay closed the session (${name})`)
  return new ConnectError(
    'TRANSPORT',
    `the relay session closed (code ${code ?? 'none'}: ${reason ?? ''})`,
  )
}

/** One endpoint's session to its relay; see the module comment. */
export class RelayClient {
  private current: Registered | undefined
  private currentState: RelayState = { state: 'connecting', attempt: 0 }
  private readonly stop = new AbortController()
  private waiters: { resolve: () => void; reject: (error: Error) => void }[] = []
  private running: Promise<void> | undefined

  constructor(private readonly options: RelayClientOptions) {}

  /** Where this client stands. */
  get state(): RelayState {
    return this.currentState
  }

  /** The relay's URL. */
  get url(): string {
    return this.options.relay.url
  }

  /** Starts connecting (and reconnecting, until {@link RelayClient.close}). */
  start(): void {
    this.running ??= this.run()
  }

  /**
   * Resolves once registered with the relay (at once if it is now), `online` or on `standby`.
   * @throws {RelayError} when the relay refused the last attempt to register (say
   *   `ACCESS_DENIED`): at once while waiting for the next, or when the attempt under way is
   *   refused. The client keeps trying, with backoff.
   * @throws {ConnectError} `ABORTED` when `signal` aborts first, `CLOSED` when the client
   *   closes first.
   */
  online(signal?: AbortSignal): Promise<void> {
    const state = this.currentState
    if (state.state === 'online' || state.state === 'standby') return Promise.resolve()
    if (state.state === 'closed') {
      return Promise.reject(new ConnectError('CLOSED', 'the relay client is closed'))
    }
    if (state.state === 'offline' && state.error instanceof RelayError) {
      return Promise.reject(state.error)
    }
    return new Promise<void>((resolve, reject) => {
      const onAbort = (): void => {
        this.waiters = this.waiters.filter((w) => w !== waiter)
        reject(
          new ConnectError('ABORTED', 'stopped waiting for the relay', { cause: signal?.reason }),
        )
      }
      const waiter = {
        resolve: () => {
          signal?.removeEventListener('abort', onAbort)
          if (this.currentState.state === 'closed') {
            reject(new ConnectError('CLOSED', 'the relay client is closed'))
          } else resolve()
        },
        reject: (error: Error) => {
          signal?.removeEventListener('abort', onAbort)
          reject(error)
        },
      }
      if (signal?.aborted) return onAbort()
      signal?.addEventListener('abort', onAbort, { once: true })
      this.waiters.push(waiter)
    })
  }

  /**
   * Opens a virtual connection to `target` through the relay, offering `alpns`: a session
   * to run the handshake on. It does not wait for the target: when the relay refuses (the
   * target is offline, a limit), the session closes with the relay's code, at once.
   *
   * @throws {ConnectError} `CLOSED` once the client is closed, `ABORTED` when `signal` aborts
   *   while the client waits to be online.
   */
  async connect(target: PublicKey, alpns: string[], signal?: AbortSignal): Promise<Session> {
    await this.online(signal)
    const registered = this.current
    if (!registered) throw new ConnectError('TRANSPORT', 'the relay session ended')
    const conn = registered.nextConn
    registered.nextConn += 2
    const stream = await registered.session.createBidirectionalStream()
    writeHeader(
      stream.writable,
      encodeHeader({ kind: 'connect', conn, peer: target, offer: alpns }),
    )
    const session = new VirtualSession(this.host(registered), conn, undefined, stream)
    registered.virtual.set(conn, session)
    return session
  }

  /**
   * The address `id` last published to the relay, once its signature and freshness check;
   * `undefined` when the relay knows none, or none that checks.
   * @throws {ConnectError} as {@link RelayClient.online}, and `TRANSPORT` when the relay
   *   session ends first.
   */
  async resolve(id: PublicKey, signal?: AbortSignal): Promise<EndpointAddr | undefined> {
    await this.online(signal)
    const registered = this.current
    if (!registered) throw new ConnectError('TRANSPORT', 'the relay session ended')
    const request = registered.nextRequest++
    const answered = new Promise<Uint8Array>((resolve, reject) => {
      registered.resolving.set(request, resolve)
      const fail = (): void => {
        registered.resolving.delete(request)
        reject(new ConnectError('TRANSPORT', 'no answer from the relay'))
      }
      registered.session.closed.then(fail, fail)
      signal?.addEventListener('abort', fail, { once: true })
    })
    await registered.control.writer.write(encodeControl({ type: 'resolve', request, id }))
    const bytes = await answered
    if (bytes.length === 0) return undefined
    try {
      const { addr } = await verifyAddrRecord(bytes)
      return addr.id.equals(id) ? addr : undefined
    } catch {
      return undefined
    }
  }

  /** Sends this endpoint's address record, if it has one to send. */
  private async publish(registered: Registered): Promise<void> {
    if (!this.options.record) return
    try {
      const record = await this.options.record()
      await registered.control.writer.write(encodeControl({ type: 'publish', record }))
    } catch {
      // A record that cannot be made or sent now goes out with the next registration.
    }
  }

  /** Closes the session to the relay for good; every virtual connection is lost. */
  async close(): Promise<void> {
    if (this.currentState.state === 'closed') return
    this.stop.abort(new ConnectError('CLOSED', 'the relay client is closed'))
    this.current?.session.close({ closeCode: 0, reason: 'endpoint closing' })
    this.setState({ state: 'closed' })
    await this.running?.catch(() => undefined)
  }

  private setState(state: RelayState): void {
    if (this.currentState.state === 'closed') return
    this.currentState = state
    if (state.state === 'online' || state.state === 'standby' || state.state === 'closed') {
      const waiters = this.waiters
      this.waiters = []
      for (const waiter of waiters) waiter.resolve()
    }
    this.options.onState?.(state)
  }

  private async run(): Promise<void> {
    const { initialMs = 250, maxMs = 30_000 } = this.options.backoff ?? {}
    let attempt = 0
    while (!this.stop.signal.aborted) {
      this.setState({ state: 'connecting', attempt })
      let error: unknown
      let again = false
      try {
        const registered = await this.register()
        attempt = 0
        this.current = registered
        this.setState({ state: 'online' })
        error = await this.serve(registered)
        // Going away (said on the control stream, or in the close): reconnect at once.
        again = registered.goaway || (error instanceof RelayError && error.code === 'SHUTTING_DOWN')
      } catch (e) {
        error = e
      } finally {
        this.current = undefined
      }
      if (this.stop.signal.aborted) break
      if (again) continue
      // Full jitter between half and all of the exponential delay.
      const ceiling = Math.min(maxMs, initialMs * 2 ** Math.min(attempt, 20))
      const delay = Math.round(ceiling / 2 + (Math.random() * ceiling) / 2)
      attempt++
      this.setState({ state: 'offline', error, retryInMs: delay })
      if (error instanceof RelayError) {
        // The relay said no: whoever waits for it to say yes hears why now.
        const waiters = this.waiters
        this.waiters = []
        for (const waiter of waiters) waiter.reject(error)
      }
      await sleep(delay, this.stop.signal)
    }
  }

  /** Dials the relay and registers: CONTROL, CHALLENGE, AUTH, READY. */
  private async register(): Promise<Registered> {
    const { transport, relay, secretKey, registerTimeoutMs = 10_000 } = this.options
    const deadline = AbortSignal.any([this.stop.signal, AbortSignal.timeout(registerTimeoutMs)])
    const addr = { url: relay.url, certHashes: await untilAborted(relay.certHashes(), deadline) }
    const { session } = await transport.dial(addr, [relayAlpn], { signal: deadline })
    const failed = session.closed.then(
      (info) => closeError(info.closeCode, info.reason),
      (e: unknown) => (e instanceof Error ? e : new Error(String(e))),
    )
    try {
      const stream = await session.createBidirectionalStream()
      writeHeader(stream.writable, encodeHeader({ kind: 'control' }))
      const control = framed(stream, { maxMessageBytes: maxControlMessageBytes })
      const registering = (async () => {
        const challenge = await this.readControl(control.reader)
        if (challenge.type !== 'challenge') {
          throw new ConnectError(
            'TRANSPORT',
            `the relay sent ${challenge.type} before its challenge`,
          )
        }
        if (challenge.version !== relayVersion) {
          throw new ConnectError('TRANSPORT', `the relay speaks version ${challenge.version}`)
        }
        const signature = await signAuth(secretKey, challenge.nonce, challenge.relayId)
        await control.writer.write(
          encodeControl({
            type: 'auth',
            id: secretKey.publicKey,
            signature,
            token: this.options.token ?? '',
          }),
        )
        const ready = await this.readControl(control.reader)
        if (ready.type !== 'ready') {
          throw new ConnectError('TRANSPORT', `the relay sent ${ready.type}, not ready`)
        }
      })()
      const closedFirst = failed.then((e): never => {
        throw e
      })
      await untilAborted(
        Promise.race([registering, closedFirst]),
        deadline,
        () => new ConnectError('TRANSPORT', 'registering with the relay took too long'),
      )
      return {
        session,
        control,
        datagrams: session.datagrams.writable.getWriter(),
        virtual: new Map(),
        parked: new Map(),
        parkedCount: 0,
        ended: new Set(),
        nextConn: 0,
        goaway: false,
        resolving: new Map(),
        nextRequest: 0,
      }
    } catch (error) {
      session.close({ closeCode: 0, reason: 'registration failed' })
      // The relay's own word on why, when it closed the session with a code.
      const said = await Promise.race([failed, sleep(0).then(() => undefined)])
      throw said instanceof RelayError ? said : error
    }
  }

  private async readControl(reader: FramedReader): Promise<ControlMessage> {
    const bytes = await reader.read()
    if (bytes === undefined)
      throw new ConnectError('TRANSPORT', 'the relay ended the control stream')
    return decodeControl(bytes)
  }

  /** Runs the registered session until it ends; resolves with why it ended. */
  private async serve(registered: Registered): Promise<unknown> {
    const { session } = registered
    const ended = session.closed.then(
      (info) => closeError(info.closeCode, info.reason),
      (e: unknown) => e,
    )
    void this.controlLoop(registered)
    const publish = (): void => void this.publish(registered)
    publish()
    const republishing = setInterval(publish, republishMs)
    const ping = (): void =>
      void registered.control.writer.write(encodeControl({ type: 'ping' })).catch(() => undefined)
    const keepalive = setInterval(ping, keepaliveMs)
    // A Node process need not stay up for them.
    for (const timer of [republishing, keepalive]) (timer as { unref?: () => void }).unref?.()
    void this.streamLoop(registered, session.incomingBidirectionalStreams, 'bidi')
    void this.streamLoop(registered, session.incomingUnidirectionalStreams, 'uni')
    void this.datagramLoop(registered)
    const error = await ended
    clearInterval(republishing)
    clearInterval(keepalive)
    for (const virtual of [...registered.virtual.values()]) virtual.lost(error)
    return error
  }

  private async controlLoop(registered: Registered): Promise<void> {
    try {
      for (;;) {
        const message = await this.readControl(registered.control.reader)
        if (message.type === 'close') {
          registered.virtual.get(message.conn)?.remoteClosed(message.code, message.reason)
        } else if (message.type === 'goaway') {
          registered.goaway = true
        } else if (message.type === 'standby' || message.type === 'ready') {
          // Displaced by a newer session of this id, or back once it left.
          this.setState({ state: message.type === 'ready' ? 'online' : 'standby' })
        } else if (message.type === 'resolved') {
          registered.resolving.get(message.request)?.(message.record)
          registered.resolving.delete(message.request)
        } else {
          throw new ConnectError('TRANSPORT', `the relay sent ${message.type} after ready`)
        }
      }
    } catch {
      // A broken control stream breaks the session: reconnect.
      registered.session.close({ closeCode: RelayCode.PROTOCOL_ERROR, reason: 'control stream' })
    }
  }

  private async streamLoop(
    registered: Registered,
    streams: ReadableStream<BidiStream> | ReadableStream<ReadableStream<Uint8Array>>,
    kind: 'bidi' | 'uni',
  ): Promise<void> {
    try {
      for await (const incoming of streams as ReadableStream<
        BidiStream | ReadableStream<Uint8Array>
      >) {
        const stream: Partial<BidiStream> & { readable: ReadableStream<Uint8Array> } =
          incoming instanceof ReadableStream ? { readable: incoming } : incoming
        void this.route(registered, stream, kind).catch(() => {
          stream.readable.cancel().catch(() => undefined)
          stream.writable?.abort().catch(() => undefined)
        })
      }
    } catch {
      // The session ended; serve() cleans up.
    }
  }

  /** Reads an incoming stream's header and hands the stream to its virtual connection. */
  private async route(
    registered: Registered,
    stream: Partial<BidiStream> & { readable: ReadableStream<Uint8Array> },
    kind: 'bidi' | 'uni',
  ): Promise<void> {
    const { header, readable } = await readStreamHeader(
      stream.readable,
      AbortSignal.timeout(10_000),
    )
    if (header.kind === 'connect' && kind === 'bidi' && stream.writable) {
      if (header.conn % 2 !== 1 || registered.virtual.has(header.conn)) {
        throw new ConnectError('TRANSPORT', 'the relay reused a connection id')
      }
      const protocol = this.options.listener.choose(header.offer)
      const virtual = new VirtualSession(this.host(registered), header.conn, protocol, undefined)
      registered.virtual.set(header.conn, virtual)
      registered.parked.get(header.conn)?.resolve(virtual)
      registered.parked.delete(header.conn)
      virtual.deliverBidi({ readable, writable: stream.writable })
      this.options.listener.session(virtual, { protocol })
      return
    }
    if (header.kind !== 'stream') throw new ConnectError('TRANSPORT', `a ${header.kind} stream`)
    const virtual =
      registered.virtual.get(header.conn) ?? (await this.awaitConnection(registered, header.conn))
    if (kind === 'bidi' && stream.writable) {
      virtual.deliverBidi({ readable, writable: stream.writable })
    } else virtual.deliverUni(readable)
  }

  /**
   * The connection `conn` once its CONNECT stream has been read: a stream of a connection the
   * relay opened may overtake that stream.
   * @throws {ConnectError} for a connection that ended, or one whose CONNECT does not come in
   *   time, or when too many streams wait already.
   */
  private async awaitConnection(registered: Registered, conn: number): Promise<VirtualSession> {
    if (conn % 2 !== 1 || registered.ended.has(conn)) {
      throw new ConnectError('TRANSPORT', `a stream for connection ${conn}, which is not open`)
    }
    if (registered.parkedCount >= maxParkedStreams) {
      throw new ConnectError('TRANSPORT', 'too many streams wait for their connection')
    }
    let entry = registered.parked.get(conn)
    if (!entry) {
      let resolve!: (v: VirtualSession) => void
      const arrived = new Promise<VirtualSession>((r) => (resolve = r))
      entry = { arrived, resolve }
      registered.parked.set(conn, entry)
    }
    registered.parkedCount++
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      return await Promise.race([
        entry.arrived,
        new Promise<never>((_, reject) => {
          timer = setTimeout(
            () => reject(new ConnectError('TRANSPORT', `connection ${conn} never opened`)),
            parkedStreamMs,
          )
        }),
      ])
    } finally {
      clearTimeout(timer)
      registered.parkedCount--
    }
  }

  private async datagramLoop(registered: Registered): Promise<void> {
    try {
      for await (const bytes of registered.session.datagrams.readable) {
        try {
          const { conn, payload } = decodeDatagram(bytes)
          registered.virtual.get(conn)?.deliverDatagram(payload)
        } catch {
          // An undecodable datagram is dropped, as any unreliable datagram may be.
        }
      }
    } catch {
      // The session ended.
    }
  }

  private host(registered: Registered): VirtualSessionHost {
    return {
      session: registered.session,
      sendClose: (conn, code, reason) => {
        registered.control.writer
          .write(encodeControl({ type: 'close', conn, code, reason: truncate(reason) }))
          .catch(() => undefined)
      },
      sendDatagram: (bytes) => {
        const room = registered.datagrams.desiredSize
        if (room === null || room <= 0) return
        registered.datagrams.write(bytes).catch(() => undefined)
      },
      forget: (conn) => {
        registered.virtual.delete(conn)
        registered.ended.add(conn)
        if (registered.ended.size > maxEndedRemembered) {
          registered.ended.delete(registered.ended.values().next().value!)
        }
      },
    }
  }
}

/** `reason`, cut to the 1024 bytes of UTF-8 a CLOSE carries. */
function truncate(reason: string): string {
  const bytes = new TextEncoder().encode(reason)
  if (bytes.length <= 1024) return reason
  return new TextDecoder().decode(bytes.subarray(0, 1024)).replace(/\uFFFD$/, '')
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms)
    function done(): void {
      clearTimeout(timer)
      signal?.removeEventListener('abort', done)
      resolve()
    }
    signal?.addEventListener('abort', done, { once: true })
  })
}

/** Settles as `work` does, or rejects once `signal` aborts (with `error()`, or its reason). */
async function untilAborted<T>(
  work: Promise<T>,
  signal: AbortSignal,
  error: () => Error = () => signal.reason as Error,
): Promise<T> {
  let onAbort = (): void => {}
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(error())
    if (signal.aborted) onAbort()
    else signal.addEventListener('abort', onAbort, { once: true })
  })
  try {
    return await Promise.race([work, aborted])
  } finally {
    signal.removeEventListener('abort', onAbort)
  }
}
