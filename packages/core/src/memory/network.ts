/**
 * An in-memory network whose sessions behave like WebTransport sessions, so endpoints and
 * protocols can be tested without sockets. Every transfer is a task on a seeded scheduler that
 * interleaves streams and datagrams at random (keeping each stream direction in order), splits
 * and merges stream chunks, and drops datagrams; the same seed and program replay the same run.
 */
import type { Session } from '../session.js'
import { macrotask } from './scheduler.js'
import { MemorySession } from './session.js'
import { MemoryTransportError } from './transport-error.js'
import { Wire } from './wire.js'

/** Options of a {@link MemoryNetwork}; every field has a default. */
export interface MemoryNetworkOptions {
  /** Seed of the scheduler, chunking and loss (default 1). */
  seed?: number
  /** Probability in [0,1) that a datagram is dropped (default 0). */
  datagramLoss?: number
  /** Largest datagram payload (default 1200). */
  maxDatagramSize?: number
  /** Bytes a stream direction buffers before the writer sees backpressure (default 64 KiB). */
  streamWindowBytes?: number
}

/** What a {@link MemoryNetwork} listener does with dialers. */
export interface MemoryListener {
  /**
   * Chooses the subprotocol from the dialer's offer (as a WebTransport server answers
   * `wt-protocol`); undefined = none.
   */
  choose(offer: string[]): string | undefined
  /** Receives the server side of each new session. */
  session(session: Session, info: { protocol: string | undefined; offer: string[] }): void
}

const defaultMaxDatagramSize = 1200
const defaultStreamWindowBytes = 64 * 1024

/** Parses a `memory://<n>` address into its host part. */
function addressOf(url: unknown): string {
  if (typeof url !== 'string') throw new TypeError('url must be a string')
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (error) {
    throw new TypeError(`url is not a URL: ${url}`, { cause: error })
  }
  if (parsed.protocol !== 'memory:') throw new TypeError(`url is not a memory:// URL: ${url}`)
  return parsed.host
}

/**
 * An in-memory network of WebTransport-like sessions with a seeded scheduler, for tests:
 * `listen()` hands out `memory://<n>` addresses, `dial()` pairs a client session with a server
 * session, and every stream chunk, stream open, FIN, reset, datagram and close is delivered
 * by the scheduler in a seeded random interleaving, so a failure replays from its seed.
 *
 * Delivery guarantees are those of WebTransport: each stream direction is in order (chunk
 * boundaries are split and merged at random), streams and datagrams interleave freely,
 * datagrams may be reordered and lost. A session's close reaches the peer after everything
 * that side sent before it. Stream writes are copied; reads get chunks they own.
 */
export class MemoryNetwork {
  private readonly wire: Wire
  private readonly listeners = new Map<string, MemoryListener>()
  private readonly sessions = new Set<MemorySession>()
  private readonly dialing = new Set<(error: Error) => void>()
  private nextAddress = 1

  /**
   * @throws {RangeError} if `datagramLoss` is outside [0,1), or `maxDatagramSize` or
   *   `streamWindowBytes` is not a positive integer.
   * @throws {TypeError} if `seed` is not a number.
   */
  constructor(options: MemoryNetworkOptions = {}) {
    const seed = options.seed ?? 1
    const loss = options.datagramLoss ?? 0
    const maxDatagramSize = options.maxDatagramSize ?? defaultMaxDatagramSize
    const window = options.streamWindowBytes ?? defaultStreamWindowBytes
    if (typeof seed !== 'number' || !Number.isFinite(seed)) {
      throw new TypeError('seed must be a finite number')
    }
    if (!(loss >= 0 && loss < 1)) throw new RangeError('datagramLoss must be in [0,1)')
    if (!Number.isSafeInteger(maxDatagramSize) || maxDatagramSize < 1) {
      throw new RangeError('maxDatagramSize must be a positive integer')
    }
    if (!Number.isSafeInteger(window) || window < 1) {
      throw new RangeError('streamWindowBytes must be a positive integer')
    }
    this.wire = new Wire(seed, loss, maxDatagramSize, window)
  }

  /**
   * Starts listening under a fresh address `memory://<n>` and returns it.
   * @throws {TypeError} if `listener` lacks `choose` or `session`.
   */
  listen(listener: MemoryListener): string {
    if (typeof listener?.choose !== 'function' || typeof listener.session !== 'function') {
      throw new TypeError('listener must have choose() and session() methods')
    }
    const host = String(this.nextAddress++)
    this.listeners.set(host, listener)
    return `memory://${host}`
  }

  /**
   * Stops listening on `url`; established sessions stay. Unknown addresses are ignored.
   * @throws {TypeError} if `url` is not a `memory://` URL.
   */
  unlisten(url: string): void {
    this.listeners.delete(addressOf(url))
  }

  /**
   * Dials `url` offering `protocols` (preference order) and resolves with the client side of
   * the session once it is ready. The path and query of `url` are ignored.
   *
   * Rejects with a `TypeError` for a bad `url` or `protocols`; with the signal's reason if
   * `signal` aborts first; and with a {@link MemoryTransportError} (source `'session'`) if
   * nobody listens at `url`, the listener chose a protocol outside the offer, `choose` or
   * `session` threw, or the network was partitioned meanwhile.
   */
  async dial(
    url: string,
    protocols: string[],
    options: { signal?: AbortSignal } = {},
  ): Promise<Session> {
    const host = addressOf(url)
    if (!Array.isArray(protocols) || protocols.some((p) => typeof p !== 'string')) {
      throw new TypeError('protocols must be an array of strings')
    }
    const offer = [...protocols]
    const { signal } = options
    signal?.throwIfAborted()
    // The outcome comes back as a value so that an abort rethrows the signal's own reason.
    const outcome = await new Promise<MemorySession | Error | 'aborted'>((resolve) => {
      let done = false
      const finish = (result: MemorySession | Error | 'aborted'): void => {
        if (done) return
        done = true
        this.dialing.delete(finish)
        signal?.removeEventListener('abort', onAbort)
        resolve(result)
      }
      const onAbort = (): void => finish('aborted')
      signal?.addEventListener('abort', onAbort)
      this.dialing.add(finish)
      this.wire.scheduler.push({}, undefined, () => {
        if (done) return
        try {
          finish(this.connect(url, host, offer))
        } catch (error) {
          finish(
            error instanceof Error
              ? error
              : new MemoryTransportError('dial failed', { cause: error }),
          )
        }
      })
    })
    if (outcome === 'aborted') {
      signal?.throwIfAborted()
      throw new MemoryTransportError('dial aborted', { source: 'session' })
    }
    if (outcome instanceof Error) throw outcome
    return outcome
  }

  /**
   * Runs every scheduled delivery until none is left, and until the program's reactions to
   * them (microtasks) have run too, for tests that want quiescence.
   */
  async settle(): Promise<void> {
    for (;;) {
      await macrotask()
      if (!this.wire.scheduler.busy) return
      await this.wire.scheduler.idle()
    }
  }

  /**
   * Closes every session abruptly (their `closed` rejects with a {@link MemoryTransportError}),
   * as a network outage would, and fails dials in flight. Listeners stay; later dials work.
   */
  partition(): void {
    const lost = () =>
      new MemoryTransportError('connection lost: network partition', { source: 'session' })
    for (const fail of [...this.dialing]) fail(lost())
    for (const session of [...this.sessions]) session.fail(lost())
  }

  /** The dial's request arrives: pair a client and a server session, or throw why not. */
  private connect(url: string, host: string, offer: string[]): MemorySession {
    const listener = this.listeners.get(host)
    if (!listener) {
      throw new MemoryTransportError(`nobody listens at ${url}`, { source: 'session' })
    }
    let protocol: string | undefined
    try {
      protocol = listener.choose([...offer])
    } catch (error) {
      throw new MemoryTransportError('the listener failed to choose a protocol', {
        source: 'session',
        cause: error,
      })
    }
    // W3C: the client fails a session whose protocol it did not offer.
    if (protocol !== undefined && !offer.includes(protocol)) {
      throw new MemoryTransportError(`the listener chose ${protocol}, which was not offered`, {
        source: 'session',
      })
    }
    const onEnd = (session: MemorySession) => this.sessions.delete(session)
    const client = new MemorySession(this.wire, protocol ?? '', onEnd)
    const server = new MemorySession(this.wire, protocol ?? '', onEnd)
    this.sessions.add(client)
    this.sessions.add(server)
    client.establish(server)
    server.establish(client)
    try {
      listener.session(server, { protocol, offer: [...offer] })
    } catch (error) {
      const refused = new MemoryTransportError('the listener failed to take the session', {
        source: 'session',
        cause: error,
      })
      server.fail(refused)
      client.fail(refused)
      throw refused
    }
    return client
  }
}
