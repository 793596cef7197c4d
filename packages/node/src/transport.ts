import type { DirectAddr } from '@ferry/core'
import {
  alpnOfferOf,
  type DialedSession,
  type Transport,
  type TransportListener,
  withAlpnOffer,
} from '@ferry/core/internal'
import {
  type Certificate,
  type CertificatePair,
  createCertificate,
  type SessionRequest,
  WebTransport,
  WebTransportServer,
} from '@ferry/webtransport-node'

/** The path ferry endpoints serve WebTransport sessions on. */
const ferryPath = '/ferry'

/** Where and how a Node endpoint listens. */
export interface ListenOptions {
  /** Address to bind. Default `127.0.0.1`; `::` or `0.0.0.0` for every interface. */
  host?: string
  /** UDP port. Default 0 (any free port). */
  port?: number
  /**
   * Host names or addresses to publish in the endpoint's address. Default: `host`, or
   * `127.0.0.1` when `host` is a wildcard.
   */
  advertise?: string[]
  /** Days each certificate is valid (at most 14, which browsers require). Default 13. */
  certificateDays?: number
  /**
   * Serve this certificate instead of making one (it is then not rotated automatically;
   * `rotateCertificate()` still replaces it with a fresh one).
   */
  certificate?: Certificate
  /** QUIC connections at once; past it, new clients are refused at once. Default 1024. */
  maxConnections?: number
  /** QUIC connections at once from one IP address, refused the same way past it. Default 64. */
  maxConnectionsPerAddress?: number
}

/**
 * The transport of a Node endpoint: a WebTransport server on one UDP port (when listening)
 * and a WebTransport client for dialing, with a self-made certificate that is replaced before
 * it expires.
 */
export class NodeTransport implements Transport {
  private server: WebTransportServer | undefined
  private certificate: Certificate | undefined
  private rotation: ReturnType<typeof setTimeout> | undefined
  private readonly dialed = new Set<WebTransport>()
  private readonly chosen = new WeakMap<SessionRequest, string | undefined>()
  /**
   * Every certificate this transport has served, by the object the server reports as a
   * connection's (`request.certificate`). Weak: the server holds a certificate only while a
   * connection made with it lives, and only then can a session name it.
   */
  private readonly served = new WeakMap<CertificatePair, Certificate>()
  constructor(
    private readonly options: ListenOptions | undefined,
    private readonly onError: (error: unknown) => void,
  ) {}

  /** The UDP port the server listens on, when listening. */
  get port(): number | undefined {
    return this.server?.port
  }

  /** The certificate served right now, when listening. */
  get currentCertificate(): Certificate | undefined {
    return this.certificate
  }

  async listen(listener: TransportListener): Promise<void> {
    if (!this.options) return
    const given = this.options.certificate
    this.certificate = given ?? (await this.makeCertificate())
    this.served.set(this.certificate, this.certificate)
    const server = await WebTransportServer.listen({
      host: this.options.host ?? '127.0.0.1',
      port: this.options.port ?? 0,
      certificate: this.certificate,
      maxConnections: this.options.maxConnections,
      maxConnectionsPerAddress: this.options.maxConnectionsPerAddress,
    })
    this.server = server
    server.route(ferryPath, {
      accept: (request) => {
        const protocol = listener.choose(offerOf(request))
        this.chosen.set(request, protocol)
        // `wt-protocol` answers a `wt-available-protocols` offer; an offer that came in the
        // query (Firefox) is answered inside the handshake only.
        const answered = protocol !== undefined && request.protocols.includes(protocol)
        return answered ? { accept: true, protocol } : { accept: true }
      },
      session: (session, request) => {
        // The hash of the certificate this session's connection was served with: after a
        // rotation the current one differs, and the dialer checks the hash it saw in TLS.
        listener.session(session, {
          protocol: this.chosen.get(request),
          certHash: this.served.get(request.certificate)?.hash,
          remote: request.remote.host,
        })
      },
    })
    if (!given) this.scheduleRotation()
  }

  /**
   * Serves a fresh certificate from now on (sessions already open keep theirs); the
   * endpoint's address and tickets name the new hash.
   */
  async rotateCertificate(): Promise<void> {
    if (!this.server) throw new TypeError('rotateCertificate: the endpoint is not listening')
    const next = await this.makeCertificate()
    this.served.set(next, next)
    this.server.setCertificate(next)
    this.certificate = next
    this.scheduleRotation()
  }

  async dial(
    addr: DirectAddr,
    alpns: string[],
    options: { signal?: AbortSignal },
  ): Promise<DialedSession> {
    const transport = new WebTransport(withAlpnOffer(addr.url, alpns).toString(), {
      serverCertificateHashes: addr.certHashes.map((value) => ({ algorithm: 'sha-256', value })),
      protocols: alpns,
      signal: options.signal,
    })
    this.dialed.add(transport)
    transport.closed.finally(() => this.dialed.delete(transport)).catch(() => {})
    await transport.ready
    return { session: transport, tlsCertHash: transport.serverCertificateHash }
  }

  directAddrs(): DirectAddr[] {
    if (!this.server || !this.certificate) return []
    const { host = '127.0.0.1', advertise } = this.options ?? {}
    const wildcard = host === '0.0.0.0' || host === '::'
    const hosts = advertise ?? [wildcard ? '127.0.0.1' : host]
    const hash = this.certificate.hash
    return hosts.map((h) => ({
      url: `https://${h.includes(':') ? `[${h}]` : h}:${this.server!.port}${ferryPath}`,
      certHashes: [hash.slice()],
    }))
  }

  async close(): Promise<void> {
    clearTimeout(this.rotation)
    this.rotation = undefined
    for (const t of this.dialed) t.close()
    const server = this.server
    this.server = undefined
    await server?.close()
  }

  private makeCertificate(): Promise<Certificate> {
    return createCertificate({ validityDays: this.options?.certificateDays })
  }

  /** Rotates when half the certificate's life is gone, so published tickets stay valid long. */
  private scheduleRotation(): void {
    clearTimeout(this.rotation)
    if (!this.certificate) return
    const { notBefore, notAfter } = this.certificate
    const half = notBefore.getTime() + (notAfter.getTime() - notBefore.getTime()) / 2
    // setTimeout holds at most 2^31-1 ms (24.8 days); a 14-day half life fits.
    const delay = Math.max(0, Math.min(half - Date.now(), 2 ** 31 - 1))
    this.rotation = setTimeout(() => {
      this.rotateCertificate().catch(this.onError)
    }, delay)
    this.rotation.unref()
  }
}

/** The dialer's ALPN offer: `wt-available-protocols` where sent, else the URL's `alpn` values. */
function offerOf(request: SessionRequest): string[] {
  if (request.protocols.length > 0) return request.protocols
  return alpnOfferOf(request.url)
}
