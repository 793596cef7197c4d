/** The relay's state of one client session and its virtual connections. */
import type { FramedWriter, PublicKey } from '@ferry/core'
import type { Session } from '@ferry/core/internal'
import type { ConnAccount } from './limits.js'
import type { TokenBucket } from './token-bucket.js'

/**
 * One end of a virtual connection, seen from the other: the peer, its id there, and the
 * connection's accounting (which both ends share).
 */
export interface Link {
  peer: Client
  conn: number
  account: ConnAccount
}

/** Streams that may wait at once, per client, for their connection's CONNECT stream. */
export const maxWaitingStreams = 256
/** Ended connection ids remembered per client, so their late streams are refused at once. */
const maxEndedRemembered = 1024

/**
 * A client session's virtual connections, by their id in that session. Streams race each
 * other, so a stream of a connection the client dials may arrive before its CONNECT stream:
 * {@link Conns.arrival} lets it wait (bounded in time and number).
 */
export class Conns {
  readonly #links = new Map<number, Link>()
  readonly #ended = new Set<number>()
  readonly #waiting = new Map<number, ((link: Link | undefined) => void)[]>()
  #waitingCount = 0

  /** `onChange` hears every connection added or forgotten. */
  constructor(private readonly onChange: () => void = () => {}) {}

  /** Connections now. */
  get size(): number {
    return this.#links.size
  }

  get(conn: number): Link | undefined {
    return this.#links.get(conn)
  }

  has(conn: number): boolean {
    return this.#links.has(conn)
  }

  set(conn: number, link: Link): void {
    this.#links.set(conn, link)
    this.#wake(conn, link)
    this.onChange()
  }

  /** Forgets connection `conn`; its late streams are refused from now on. */
  delete(conn: number): void {
    const link = this.#links.get(conn)
    link?.account.release()
    this.#links.delete(conn)
    this.#ended.add(conn)
    if (this.#ended.size > maxEndedRemembered) {
      this.#ended.delete(this.#ended.values().next().value!)
    }
    this.#wake(conn, undefined)
    if (link) this.onChange()
  }

  /** Forgets every connection (the session ended). */
  clear(): void {
    for (const link of this.#links.values()) link.account.release()
    this.#links.clear()
    for (const conn of [...this.#waiting.keys()]) this.#wake(conn, undefined)
  }

  values(): IterableIterator<Link> {
    return this.#links.values()
  }

  /**
   * The link of client-dialed connection `conn` once its CONNECT stream has been read;
   * `undefined` at once for a connection that ended (or an id the client cannot dial), when
   * {@link maxWaitingStreams} wait already, or after `ms`.
   */
  async arrival(conn: number, ms: number): Promise<Link | undefined> {
    const now = this.#links.get(conn)
    if (now) return now
    if (conn % 2 !== 0 || this.#ended.has(conn) || this.#waitingCount >= maxWaitingStreams) {
      return undefined
    }
    this.#waitingCount++
    let timer: ReturnType<typeof setTimeout> | undefined
    try {
      return await new Promise<Link | undefined>((resolve) => {
        const waiters = this.#waiting.get(conn) ?? []
        waiters.push(resolve)
        this.#waiting.set(conn, waiters)
        timer = setTimeout(() => resolve(undefined), ms)
      })
    } finally {
      clearTimeout(timer)
      this.#waitingCount--
    }
  }

  #wake(conn: number, link: Link | undefined): void {
    const waiters = this.#waiting.get(conn)
    if (!waiters) return
    this.#waiting.delete(conn)
    for (const resolve of waiters) resolve(link)
  }
}

/** The relay's state of one client session. */
export class Client {
  id: PublicKey | undefined
  /** Whether READY was sent: from then on the client's streams are routed. */
  registered = false
  /** Whether the session's first bidi stream (the control stream) arrived. */
  sawControl = false
  ended = false
  control: FramedWriter | undefined
  queuedControl = 0
  authTimer: ReturnType<typeof setTimeout> | undefined
  /** This session's virtual connections, by their id in this session. */
  readonly conns: Conns
  /** The next id the relay gives a connection it delivers here (odd ids are the relay's). */
  nextConn = 1
  /** Spliced streams this client is an end of, now. */
  streams = 0
  /** The token its AUTH carried, to check it again when the access policy changes. */
  token: string | undefined
  /** The bucket of the streams the relay takes from this client (one token a stream). */
  streamBucket: TokenBucket | undefined
  /** Aborted when the session ends: whatever waits on the client's behalf stops. */
  readonly stop = new AbortController()
  /** Runs while the session has no connection (see `RelayLimitOptions.idleTimeoutMs`). */
  idleTimer: ReturnType<typeof setTimeout> | undefined
  #datagrams: WritableStreamDefaultWriter<Uint8Array> | undefined

  constructor(
    readonly session: Session,
    /** The address the session came from, where the transport knows it. */
    readonly remote: string | undefined,
    /** The bucket of the bytes the relay forwards from this client. */
    readonly bucket: TokenBucket,
    /** Hears every connection of this client added or forgotten. */
    onConnsChange?: () => void,
  ) {
    this.conns = new Conns(onConnsChange)
  }

  /**
   * Restarts the idle timer: `onIdle` runs after `ms` unless this is called again first, or
   * the client has a connection (then no timer runs), or is not registered or has ended.
   */
  restartIdle(ms: number, onIdle: () => void): void {
    clearTimeout(this.idleTimer)
    this.idleTimer = undefined
    if (!this.registered || this.ended || this.conns.size > 0 || ms === Infinity) return
    this.idleTimer = setTimeout(onIdle, ms)
  }

  get datagrams(): WritableStreamDefaultWriter<Uint8Array> {
    this.#datagrams ??= this.session.datagrams.writable.getWriter()
    return this.#datagrams
  }
}
