/**
 * A relay's limits, access control and per-ALPN policy, and the accounting behind them:
 * which sessions, connections and streams it takes, how fast it forwards a client's bytes,
 * and the counters of {@link RelayMetrics}. `relay.ts` asks here before it takes anything.
 *
 * Each refusal has its own `RelayCode`:
 * - a session: `TOO_MANY_SESSIONS` (in all, or from one address), `RATE_LIMITED` (too many
 *   new sessions a second from one address), `ACCESS_DENIED` (after the AUTH verifies);
 *   `IDLE_TIMEOUT` closes one that carried nothing for too long;
 * - a connection (CLOSE{conn, code}): `ALPN_NOT_ALLOWED`, `TOO_MANY_CONNECTIONS` (the dialer,
 *   the target, or the ALPN's quota is at its limit), `TOO_MANY_STREAMS` (an end is at its
 *   stream limit, so the connection's first stream cannot be taken);
 * - a later stream: cancelled, its connection left open (no CLOSE: the connection is fine, the
 *   client only has too many streams), counted as a `TOO_MANY_STREAMS` refusal;
 * - bytes: never refused. A client's streams above its byte rate are throttled (the relay
 *   reads from them only when the rate allows, so QUIC's flow control slows the sender and
 *   nothing queues up); its datagrams above the rate are dropped and counted.
 */
import { RelayCode, type RelayCodeName } from '@ferry/core/internal'
import { AccessPolicy, type RelayAccess } from './access.js'
import type { Client } from './client.js'
import { Counters, type RelayMetrics } from './metrics.js'
import { type Clock, monotonicClock, TokenBucket } from './token-bucket.js'

/** Limits of one ALPN, for all clients together. */
export interface AlpnQuota {
  /** Virtual connections charged to this ALPN at once. Default: no limit. */
  maxConnections?: number
  /** Bytes a second forwarded on its connections (both ways), burst twice that. Default: no limit. */
  bytesPerSecond?: number
}

/** The limits a {@link Relay} takes; every one optional, with its default. */
export interface RelayLimitOptions {
  /** Who may register. Default `{ mode: 'open' }`; replace it later with `relay.setAccess`. */
  access?: RelayAccess
  /** Sessions at once, registered or not. Default 10 000. */
  maxSessions?: number
  /**
   * Sessions at once from one address (`IncomingSessionInfo.remote`; sessions whose transport
   * does not say share no limit). Default 64.
   */
  maxSessionsPerAddress?: number
  /** New sessions a second from one address, and the burst. Default 20 a second, burst 40. */
  sessionRate?: {
    /** Sessions a second. */
    perSecond?: number
    /** Sessions at once after a quiet while. */
    burst?: number
  }
  /** Virtual connections a client has at once, dialed or accepted. Default 256. */
  maxConnectionsPerClient?: number
  /** Spliced streams a client is an end of at once. Default 1024. */
  maxStreamsPerClient?: number
  /**
   * New streams a second the relay takes from one client, and the burst. Past it the relay
   * takes the client's next stream only when the rate allows: the client waits (QUIC's stream
   * credit holds it back), nothing is refused, and its flood of streams costs others little.
   * Default 20 a second, burst 100.
   */
  streamRate?: {
    /** Streams a second. */
    perSecond?: number
    /** Streams at once after a quiet while. */
    burst?: number
  }
  /**
   * Bytes a second the relay forwards from one client (streams and datagrams). Default
   * `Infinity` (no limit, as iroh-relay's default): an operator sets it for the relay's uplink.
   */
  bytesPerSecond?: number
  /** The burst of `bytesPerSecond`: bytes at once after a quiet while. Default twice the rate. */
  bytesBurst?: number
  /**
   * A registered session with no virtual connection that sends no control message for this
   * long is closed with `IDLE_TIMEOUT`. Default 60 s; `Infinity` for never.
   */
  idleTimeoutMs?: number
  /**
   * The ALPNs the relay carries. Without it, all. With it, a CONNECT whose offer has none of
   * them is refused with `ALPN_NOT_ALLOWED`, and the target sees only the allowed ones.
   */
  alpns?: {
    /** The ALPNs carried; leave out for all. */
    allow?: string[]
  }
  /**
   * Quotas by ALPN. A connection is charged to the first allowed ALPN of its offer (which is
   * the one `bytesByAlpn` counts it under too).
   */
  alpnQuotas?: Record<string, AlpnQuota>
  /** Internal: the clock of every token bucket, in ms (tests inject one). */
  _clock?: Clock
}

/** Counts are integers ≥ 1 or `Infinity` (no limit); rates positive numbers or `Infinity`. */
const defaults = {
  maxSessions: 10_000,
  maxSessionsPerAddress: 64,
  sessionsPerSecond: 20,
  sessionBurst: 40,
  maxConnectionsPerClient: 256,
  maxStreamsPerClient: 1024,
  bytesPerSecond: Infinity,
  idleTimeoutMs: 60_000,
}
/** Addresses remembered before the relay forgets the ones that are idle with a full bucket. */
const maxAddresses = 16_384
/** The longest `setTimeout` takes. */
const maxTimerMs = 2 ** 31 - 1

/** Why something was refused. */
export interface Refusal {
  code: RelayCodeName
  reason: string
}

interface AlpnState {
  connections: number
  readonly maxConnections: number
  readonly bucket: TokenBucket | undefined
}

/** One virtual connection's share of the accounting; both its links hold it. */
export class ConnAccount {
  #released = false

  constructor(
    readonly limits: RelayLimits,
    /** The label its bytes count under in `bytesByAlpn`. */
    readonly label: string,
    readonly alpn: AlpnState | undefined,
  ) {}

  /** The connection ended: it no longer counts. Idempotent. */
  release(): void {
    if (this.#released) return
    this.#released = true
    this.limits.connections--
    if (this.alpn) this.alpn.connections--
  }
}

/** One spliced stream's share of the accounting. */
export interface StreamTicket {
  /** The stream ended: it no longer counts. Idempotent. */
  release(): void
}

/** A direction of a spliced stream: the buckets it waits for, and its counters. */
export interface Flow {
  readonly buckets: readonly TokenBucket[]
  /** `n` payload bytes were read from the client. */
  read(n: number): void
  /** `n` payload bytes were written to the other client. */
  written(n: number): void
}

/** The accounting of one relay; see the module comment. */
export class RelayLimits {
  readonly counters = new Counters()
  readonly access: AccessPolicy
  readonly idleTimeoutMs: number
  readonly clock: Clock
  sessions = 0
  connections = 0
  streams = 0
  readonly #maxSessions: number
  readonly #maxPerAddress: number
  readonly #sessionRate: number
  readonly #sessionBurst: number
  readonly #maxConnections: number
  readonly #maxStreams: number
  readonly #bytesPerSecond: number
  readonly #bytesBurst: number
  readonly #streamsPerSecond: number
  readonly #streamBurst: number
  readonly #allow: Set<string> | undefined
  readonly #alpns = new Map<string, AlpnState>()
  readonly #addresses = new Map<string, { sessions: number; bucket: TokenBucket }>()

  /**
   * @throws {TypeError} for an option of the wrong type (see {@link AccessPolicy.set} too).
   * @throws {RangeError} for a count that is not a positive integer, a rate that is not
   *   positive, an idle timeout above 2^31 - 1 ms (other than `Infinity`).
   */
  constructor(options: RelayLimitOptions) {
    this.access = new AccessPolicy(options.access)
    if (options._clock !== undefined && typeof options._clock !== 'function') {
      throw new TypeError('options._clock must be a function')
    }
    this.clock = options._clock ?? monotonicClock
    this.#maxSessions = count(options.maxSessions, defaults.maxSessions, 'maxSessions')
    this.#maxPerAddress = count(
      options.maxSessionsPerAddress,
      defaults.maxSessionsPerAddress,
      'maxSessionsPerAddress',
    )
    const sessionRate = record(options.sessionRate, 'sessionRate')
    this.#sessionRate = rate(
      sessionRate?.perSecond,
      defaults.sessionsPerSecond,
      'sessionRate.perSecond',
    )
    this.#sessionBurst = rate(
      sessionRate?.burst,
      sessionRate?.perSecond === undefined ? defaults.sessionBurst : 2 * this.#sessionRate,
      'sessionRate.burst',
    )
    this.#maxConnections = count(
      options.maxConnectionsPerClient,
      defaults.maxConnectionsPerClient,
      'maxConnectionsPerClient',
    )
    this.#maxStreams = count(
      options.maxStreamsPerClient,
      defaults.maxStreamsPerClient,
      'maxStreamsPerClient',
    )
    this.#bytesPerSecond = rate(options.bytesPerSecond, defaults.bytesPerSecond, 'bytesPerSecond')
    this.#bytesBurst = rate(options.bytesBurst, 2 * this.#bytesPerSecond, 'bytesBurst')
    this.#streamsPerSecond = rate(options.streamRate?.perSecond, 20, 'streamRate.perSecond')
    this.#streamBurst = rate(options.streamRate?.burst, 100, 'streamRate.burst')
    this.idleTimeoutMs = rate(options.idleTimeoutMs, defaults.idleTimeoutMs, 'idleTimeoutMs')
    if (this.idleTimeoutMs !== Infinity && this.idleTimeoutMs > maxTimerMs) {
      throw new RangeError(`options.idleTimeoutMs must be at most ${maxTimerMs} or Infinity`)
    }
    const alpns = record(options.alpns, 'alpns')
    if (alpns?.allow !== undefined) this.#allow = new Set(alpnList(alpns.allow, 'alpns.allow'))
    for (const [alpn, quota] of Object.entries(record(options.alpnQuotas, 'alpnQuotas') ?? {})) {
      const name = `alpnQuotas[${JSON.stringify(alpn)}]`
      alpnList([alpn], name)
      record(quota, name)
      const bytes = rate(quota.bytesPerSecond, Infinity, `${name}.bytesPerSecond`)
      this.#alpns.set(alpn, {
        connections: 0,
        maxConnections: count(quota.maxConnections, Infinity, `${name}.maxConnections`),
        bucket: bytes === Infinity ? undefined : new TokenBucket(bytes, 2 * bytes, this.clock),
      })
    }
  }

  /** A new client's bucket of streams. */
  streamBucket(): TokenBucket {
    return new TokenBucket(this.#streamsPerSecond, this.#streamBurst, this.clock)
  }

  /** A new client's byte bucket. */
  clientBucket(): TokenBucket {
    return new TokenBucket(this.#bytesPerSecond, this.#bytesBurst, this.clock)
  }

  /** Takes a new session from `remote`, or says why not (and counts the refusal). */
  admitSession(remote: string | undefined): Refusal | undefined {
    const refusal = this.#sessionRefusal(remote)
    if (refusal) {
      this.counters.refused(refusal.code)
      return refusal
    }
    this.sessions++
    this.counters.sessionsAccepted++
    if (remote !== undefined) this.#addresses.get(remote)!.sessions++
    return undefined
  }

  #sessionRefusal(remote: string | undefined): Refusal | undefined {
    if (remote !== undefined) {
      let address = this.#addresses.get(remote)
      if (address === undefined) {
        if (this.#addresses.size >= maxAddresses) this.#forgetIdleAddresses()
        address = {
          sessions: 0,
          bucket: new TokenBucket(this.#sessionRate, this.#sessionBurst, this.clock),
        }
        this.#addresses.set(remote, address)
      }
      if (address.sessions >= this.#maxPerAddress) {
        return { code: 'TOO_MANY_SESSIONS', reason: 'too many sessions from this address' }
      }
      if (!address.bucket.take(1)) {
        return { code: 'RATE_LIMITED', reason: 'too many new sessions from this address' }
      }
    }
    if (this.sessions >= this.#maxSessions) {
      return { code: 'TOO_MANY_SESSIONS', reason: 'too many sessions on this relay' }
    }
    return undefined
  }

  /** A session {@link RelayLimits.admitSession} took has ended. */
  releaseSession(remote: string | undefined): void {
    this.sessions--
    if (remote === undefined) return
    const address = this.#addresses.get(remote)
    if (address && --address.sessions === 0 && address.bucket.full) this.#addresses.delete(remote)
  }

  #forgetIdleAddresses(): void {
    for (const [remote, address] of this.#addresses) {
      if (address.sessions === 0 && address.bucket.full) this.#addresses.delete(remote)
    }
  }

  /** The allowed ALPNs of `offer` (in its order), or the refusal when there are none. */
  allowedOffer(offer: string[]): string[] | Refusal {
    if (this.#allow === undefined) return offer
    const allowed = offer.filter((alpn) => this.#allow!.has(alpn))
    if (allowed.length > 0) return allowed
    return { code: 'ALPN_NOT_ALLOWED', reason: 'this relay carries none of the offered ALPNs' }
  }

  /** Whether `client` may have one more connection; the refusal if not. */
  dialerRefusal(client: Client): Refusal | undefined {
    if (client.conns.size < this.#maxConnections) return undefined
    return { code: 'TOO_MANY_CONNECTIONS', reason: 'you have too many connections' }
  }

  /**
   * The account of a new connection from `client` to `peer` with the (allowed) `offer`, or
   * the refusal: the target or the ALPN is at its connection limit, or an end at its stream
   * limit (the connection's first stream is a spliced stream too).
   */
  admitConnection(client: Client, peer: Client, offer: string[]): ConnAccount | Refusal {
    if (peer.conns.size >= this.#maxConnections) {
      return { code: 'TOO_MANY_CONNECTIONS', reason: 'the target has too many connections' }
    }
    const alpn = this.#alpns.get(offer[0]!)
    if (alpn && alpn.connections >= alpn.maxConnections) {
      return { code: 'TOO_MANY_CONNECTIONS', reason: `too many connections for ${offer[0]}` }
    }
    if (client.streams >= this.#maxStreams || peer.streams >= this.#maxStreams) {
      return { code: 'TOO_MANY_STREAMS', reason: 'too many streams' }
    }
    this.connections++
    if (alpn) alpn.connections++
    return new ConnAccount(this, this.counters.alpnLabel(offer[0]!), alpn)
  }

  /**
   * A ticket for one more stream between `a` and `b`, or `undefined` (counted as a
   * `TOO_MANY_STREAMS` refusal) when either is at its stream limit.
   */
  admitStream(a: Client, b: Client): StreamTicket | undefined {
    if (a.streams >= this.#maxStreams || b.streams >= this.#maxStreams) {
      this.counters.refused('TOO_MANY_STREAMS')
      return undefined
    }
    a.streams++
    b.streams++
    this.streams++
    let released = false
    return {
      release: () => {
        if (released) return
        released = true
        a.streams--
        b.streams--
        this.streams--
      },
    }
  }

  /** The direction of a stream of connection `account` that carries bytes from `from`. */
  flow(from: Client, account: ConnAccount): Flow {
    const counters = this.counters
    const buckets = account.alpn?.bucket ? [from.bucket, account.alpn.bucket] : [from.bucket]
    return {
      buckets,
      read(n) {
        for (const bucket of buckets) bucket.charge(n)
        counters.fromClients += n
        counters.addAlpnBytes(account.label, n)
      },
      written(n) {
        counters.toClients += n
      },
    }
  }

  /**
   * Whether a datagram of `n` payload bytes from `from` on connection `account` fits its byte
   * rates; if so, the bytes are taken and counted as read.
   */
  takeDatagram(from: Client, account: ConnAccount, n: number): boolean {
    const alpnBucket = account.alpn?.bucket
    if (from.bucket.tokens < n || (alpnBucket && alpnBucket.tokens < n)) return false
    this.flow(from, account).read(n)
    return true
  }

  /** The snapshot of {@link RelayMetrics}; `clients` comes from the relay's registry. */
  metrics(clients: number): RelayMetrics {
    const c = this.counters
    return {
      sessions: this.sessions,
      clients,
      connections: this.connections,
      streams: this.streams,
      sessionsAccepted: c.sessionsAccepted,
      authFailures: c.authFailures,
      bytes: { fromClients: c.fromClients, toClients: c.toClients },
      bytesByAlpn: Object.fromEntries(c.bytesByAlpn),
      datagrams: { forwarded: c.datagramsForwarded, dropped: c.datagramsDropped },
      refusals: { ...c.refusals },
    }
  }
}

/** The close code of a refusal. */
export function codeOf(refusal: Refusal): number {
  return RelayCode[refusal.code]
}

function count(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number`)
  if (!(value === Infinity || (Number.isInteger(value) && value >= 1))) {
    throw new RangeError(`options.${name} must be an integer ≥ 1, or Infinity`)
  }
  return value
}

function rate(value: unknown, fallback: number, name: string): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number') throw new TypeError(`options.${name} must be a number`)
  if (!(value > 0)) throw new RangeError(`options.${name} must be positive, or Infinity`)
  return value
}

function record<T>(value: T | undefined, name: string): T | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TypeError(`options.${name} must be an object`)
  }
  return value
}

const utf8 = new TextEncoder()

function alpnList(value: unknown, name: string): string[] {
  if (!Array.isArray(value) || !value.every((alpn) => typeof alpn === 'string')) {
    throw new TypeError(`options.${name} must be an array of strings`)
  }
  for (const alpn of value) {
    const length = utf8.encode(alpn).length
    if (length < 1 || length > 255) {
      throw new RangeError(`options.${name}: an ALPN must be 1 to 255 bytes of UTF-8`)
    }
  }
  return value
}
