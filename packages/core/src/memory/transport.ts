import type { DirectAddr } from '../addr.js'
import type { DialedSession, Transport, TransportListener } from '../endpoint.js'
import type { MemoryNetwork } from './network.js'
import type { Session } from '../session.js'

/**
 * Addresses are `https:` URLs everywhere, so a memory address `memory://7` is published as
 * `https://7.memory.invalid/` (`.invalid` can never resolve, RFC 6761) and mapped back to dial.
 */
const suffix = '.memory.invalid'

/**
 * An endpoint's transport on a {@link MemoryNetwork}: protocol packages test real
 * endpoints, handshakes and routers without sockets, under the network's seeded scheduler.
 *
 * ```ts
 * const network = new MemoryNetwork({ seed: 7 })
 * const a = await TestEndpoint.create({ transport: new MemoryTransport(network) })
 * ```
 */
export class MemoryTransport implements Transport {
  private url: string | undefined
  private readonly sessions = new Set<Session>()

  constructor(
    private readonly network: MemoryNetwork,
    private readonly options: { listen?: boolean } = {},
  ) {}

  listen(listener: TransportListener): void {
    if (this.options.listen === false) return
    this.url = this.network.listen({
      choose: (offer) => listener.choose(offer),
      session: (session, info) => {
        this.track(session)
        listener.session(session, { protocol: info.protocol })
      },
    })
  }

  async dial(
    addr: DirectAddr,
    alpns: string[],
    options: { signal?: AbortSignal },
  ): Promise<DialedSession> {
    const { hostname } = new URL(addr.url)
    if (!hostname.endsWith(suffix)) throw new TypeError(`${addr.url} is not a memory address`)
    const session = await this.network.dial(
      `memory://${hostname.slice(0, -suffix.length)}`,
      alpns,
      options,
    )
    this.track(session)
    return { session }
  }

  directAddrs(): DirectAddr[] {
    if (!this.url) return []
    return [{ url: `https://${new URL(this.url).host}${suffix}/`, certHashes: [] }]
  }

  close(): Promise<void> {
    if (this.url) this.network.unlisten(this.url)
    this.url = undefined
    for (const session of this.sessions) session.close({ closeCode: 0, reason: 'transport closed' })
    return Promise.resolve()
  }

  private track(session: Session): void {
    this.sessions.add(session)
    const forget = (): boolean => this.sessions.delete(session)
    void session.closed.then(forget, forget)
  }
}
