import { H3 } from './errors.js'
import {
  Http3Connection,
  defaultLimits,
  type HeaderList,
  type Http3Limits,
} from './h3/connection.js'
import { parseStringList, serializeString } from './h3/structured.js'
import type { HostPort, NativeConfig } from './quic/native.js'
import { QuicEndpoint } from './quic/endpoint.js'
import type { QuicConnection } from './quic/connection.js'
import { serverConfig, type QuicOptions } from './quic/config.js'
import { SessionHost } from './wt/host.js'
import { WebTransportSession } from './wt/session.js'

/** A certificate and its private key, PEM encoded (see `createCertificate`). */
export interface CertificatePair {
  /** The certificate, PEM (`-----BEGIN CERTIFICATE-----`); the server presents it to clients. */
  certPem: string
  /** Its private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`). */
  keyPem: string
}

/** Options of {@link WebTransportServer.listen}. */
export interface WebTransportServerOptions extends QuicOptions {
  /** Address to bind. Default `127.0.0.1`; `::` or `0.0.0.0` for every interface. */
  host?: string
  /** UDP port. Default 0 (any free port; read it back from `server.port`). */
  port?: number
  /**
   * The TLS certificate and key new connections are served with; required. Browsers that pin
   * it with `serverCertificateHashes` accept at most 14 days of validity (`MAX_VALIDITY_DAYS`).
   * Replace it later with `setCertificate`.
   */
  certificate: CertificatePair
  /** HTTP/3 and WebTransport limits; defaults in `defaultLimits`. */
  limits?: Partial<Http3Limits>
  /**
   * QUIC connections at once. Past it a new client is refused at once: its first packet is
   * answered with a QUIC CONNECTION_CLOSE carrying CONNECTION_REFUSED (0x2). Default 1024.
   */
  maxConnections?: number
  /** QUIC connections at once from one source IP address, refused the same way. Default 64. */
  maxConnectionsPerAddress?: number
  /**
   * Hears exceptions thrown by route hooks and internal failures; each ends only the request,
   * session or connection it came from. Default: `console.error`.
   */
  onError?: (error: unknown) => void
}

/** What the server knows of a session request before deciding on it. */
export interface SessionRequest {
  /** The full request URL (`https://authority/path?query`). */
  url: URL
  /** The `origin` header, when the client sent one (browsers always do). */
  origin: string | undefined
  /** Subprotocols the client offered, in its order of preference (`wt-available-protocols`). */
  protocols: string[]
  /** Every request header field, lowercase names, in wire order. */
  headers: HeaderList
  /** The client's UDP address. */
  remote: HostPort
  /**
   * The certificate this request's QUIC connection presented in its TLS handshake: the one
   * current when the connection was accepted, which a later `setCertificate` does not change.
   * It is the very object given to `listen` or `setCertificate`, so a caller can look up what
   * it knows about it (such as its hash); sign or pin against this one, not the current one.
   */
  certificate: CertificatePair
}

/** The application's answer to a {@link SessionRequest}. */
export type SessionDecision =
  | {
      /** Accept: the server answers 200 and the session opens. */
      accept: true
      /**
       * The subprotocol to use, sent as `wt-protocol`; one the client offered (in
       * `request.protocols`), else the request gets 500 and `onError` hears a `TypeError`.
       * None when absent.
       */
      protocol?: string
      /** Extra response header fields (lowercase names), after the ones ferry sends. */
      headers?: [string, string][]
    }
  | {
      /** Refuse: the server answers `status` and ends the request stream. */
      accept: false
      /** The HTTP status to answer with, such as 403 or 404. */
      status: number
    }

/** A path the server serves WebTransport sessions on. */
export interface Route {
  /** Allowed `origin` values; any origin when absent. Others get 403. */
  origins?: string[]
  /** Decides on a request; accepts with no subprotocol when absent. */
  accept?(request: SessionRequest): SessionDecision | Promise<SessionDecision>
  /** Receives each accepted session. */
  session(session: WebTransportSession, request: SessionRequest): void
}

/** HTTP status codes ferry sends (RFC 9110). */
const Status = {
  badRequest: 400,
  forbidden: 403,
  notFound: 404,
  tooManyRequests: 429,
  internalError: 500,
  notImplemented: 501,
  unavailable: 503,
} as const

/**
 * A WebTransport-over-HTTP/3 server. Browsers (Chromium, Firefox) and the Node
 * {@link WebTransport} client open sessions with an extended CONNECT; the server routes them
 * by path and negotiates the subprotocol.
 *
 * ```ts
 * const server = await WebTransportServer.listen({ port: 4433, certificate })
 * server.route('/echo', { session: (s) => echo(s) })
 * ```
 */
export class WebTransportServer {
  private readonly routes = new Map<string, Route>()
  /** The WebTransport side of each live connection. */
  private readonly hosts = new Set<SessionHost>()
  private certificate: CertificatePair
  /** The certificate each config handed to the endpoint presents, until its connection adopts it. */
  private readonly configCertificates = new WeakMap<NativeConfig, CertificatePair>()
  private drained: Promise<void> | undefined
  private closing = false
  private readonly limits: Http3Limits

  private constructor(
    private readonly endpoint: QuicEndpoint,
    private readonly options: WebTransportServerOptions,
  ) {
    this.certificate = options.certificate
    this.limits = { ...defaultLimits, ...options.limits }
  }

  /**
   * Binds the UDP socket and starts accepting.
   * @throws when the address cannot be bound or the certificate does not load, and
   *   `RangeError` for a `limits.headerTimeoutMs` that is not a positive integer.
   */
  static async listen(options: WebTransportServerOptions): Promise<WebTransportServer> {
    const headerTimeoutMs = options.limits?.headerTimeoutMs ?? defaultLimits.headerTimeoutMs
    if (!Number.isSafeInteger(headerTimeoutMs) || headerTimeoutMs <= 0) {
      throw new RangeError('limits.headerTimeoutMs must be a positive integer')
    }
    // Build one config now so a bad certificate fails here, not on the first client.
    serverConfig(options.certificate, options)
    // The endpoint's callbacks first run after `created.server` is set below.
    const created: { server?: WebTransportServer } = {}
    const endpoint = await QuicEndpoint.bind({
      host: options.host ?? '127.0.0.1',
      port: options.port ?? 0,
      maxConnections: options.maxConnections,
      maxConnectionsPerAddress: options.maxConnectionsPerAddress,
      acceptConfig: () => created.server!.acceptConfig(),
      onConnection: (quic, config) => created.server!.adopt(quic, config),
    })
    created.server = new WebTransportServer(endpoint, options)
    return created.server
  }

  /** The bound UDP port. */
  get port(): number {
    return this.endpoint.address.port
  }

  /** The bound address. */
  get address(): HostPort {
    return this.endpoint.address
  }

  /** Live QUIC connections. */
  get connectionCount(): number {
    return this.hosts.size
  }

  /** Serves WebTransport sessions on `path` (exact match, query ignored). */
  route(path: string, route: Route): this {
    if (!path.startsWith('/')) throw new TypeError(`route path must start with "/": ${path}`)
    this.routes.set(path, route)
    return this
  }

  /**
   * Replaces the certificate for new connections; live ones keep theirs, and their session
   * requests name it in `request.certificate`. Use it to rotate a short-lived certificate
   * before it expires.
   * @throws when the certificate does not load.
   */
  setCertificate(certificate: CertificatePair): void {
    serverConfig(certificate, this.options)
    this.certificate = certificate
  }

  /**
   * Starts a graceful shutdown and lets the sessions finish: DRAIN_WEBTRANSPORT_SESSION to every
   * session, whose `draining` then resolves on both sides, and GOAWAY on every connection as
   * soon as it carries no session (at once on new connections), so clients open new sessions
   * elsewhere. New sessions are refused with 503. Sessions carry on until they close. Resolves
   * once no session is left; `close()` ends what is left sooner. Idempotent.
   */
  drain(): Promise<void> {
    this.drained ??= Promise.all([...this.hosts].map((host) => host.drain())).then(() => {})
    return this.drained
  }

  /**
   * Shuts down: starts {@link WebTransportServer.drain}, closes every session with code 0 (so
   * every connection gets its GOAWAY), closes the connections with H3_NO_ERROR, then the
   * socket. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closing) return
    this.closing = true
    void this.drain()
    const all = [...this.hosts]
    for (const host of all) host.closeAll({ closeCode: 0, reason: 'server shutting down' })
    // One event-loop turn lets the passes put the capsules on the wire before CONNECTION_CLOSE.
    await new Promise((resolve) => setImmediate(resolve))
    for (const host of all) host.h3.close(H3.NO_ERROR, 'server shutting down')
    await this.endpoint.close()
  }

  /** Closes the server (see {@link WebTransportServer.close}), for `await using`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private reportError(e: unknown): void {
    const onError = this.options.onError ?? ((error: unknown) => console.error(error))
    onError(e)
  }

  /** A config for a new connection, presenting the current certificate. */
  private acceptConfig(): NativeConfig {
    const config = serverConfig(this.certificate, this.options)
    this.configCertificates.set(config, this.certificate)
    return config
  }

  private adopt(quic: QuicConnection, config: NativeConfig): void {
    // Every config the endpoint accepts with comes from `acceptConfig`.
    const certificate = this.configCertificates.get(config)!
    this.configCertificates.delete(config)
    const h3 = new Http3Connection(quic, true, this.limits, {
      request: (_h3, streamId, headers) => {
        this.handleRequest(host, certificate, streamId, headers).catch((e: unknown) => {
          // An exception from an accept hook (or a bug of ours) answers 500 for this request only.
          host.reject(streamId)
          void h3
            .respond(streamId, [[':status', String(Status.internalError)]], true)
            .catch(() => {})
          this.reportError(e)
        })
      },
      error: (_h3, e) => this.reportError(e),
      closed: () => {
        this.hosts.delete(host)
      },
    })
    const host = new SessionHost(h3, this.limits)
    this.hosts.add(host)
    // A connection made while draining is told at once (with SETTINGS) that it takes none.
    if (this.drained) void host.drain()
  }

  private async handleRequest(
    host: SessionHost,
    certificate: CertificatePair,
    streamId: number,
    headers: HeaderList,
  ): Promise<void> {
    const h3 = host.h3
    const refuse = (status: number): Promise<void> => {
      host.reject(streamId)
      return h3.respond(streamId, [[':status', String(status)]], true).catch(() => {})
    }
    const pseudo = new Map<string, string>()
    for (const [name, value] of headers) if (name.startsWith(':')) pseudo.set(name, value)
    const method = pseudo.get(':method')
    const protocol = pseudo.get(':protocol')
    if (method !== 'CONNECT') return refuse(Status.notFound)
    if (protocol !== 'webtransport') return refuse(Status.notImplemented)
    const scheme = pseudo.get(':scheme')
    const authority = pseudo.get(':authority')
    const path = pseudo.get(':path')
    if (!scheme || !authority || !path?.startsWith('/')) {
      // RFC 9220 §3 / RFC 9114 §4.1.2: a malformed extended CONNECT is a stream error.
      host.reject(streamId)
      h3.quic.resetStream(streamId, H3.MESSAGE_ERROR)
      return
    }
    let url: URL
    try {
      url = new URL(`https://${authority}${path}`)
    } catch {
      return refuse(Status.badRequest)
    }
    const route = this.routes.get(url.pathname)
    if (!route) return refuse(Status.notFound)
    // A draining connection still carrying sessions has had no GOAWAY yet (see SessionHost.drain).
    if (this.drained) return refuse(Status.unavailable)
    const field = (name: string): string | undefined => headers.find(([n]) => n === name)?.[1]
    const origin = field('origin')
    if (route.origins && (!origin || !route.origins.includes(origin)))
      return refuse(Status.forbidden)
    // Sessions still being decided count too: accept hooks run concurrently.
    if (host.sessionCount >= this.limits.maxSessionsPerConnection) {
      return refuse(Status.tooManyRequests)
    }
    host.decide()
    try {
      let protocols: string[] = []
      const offered = headers.filter(([n]) => n === 'wt-available-protocols').map(([, v]) => v)
      try {
        for (const value of offered) protocols.push(...parseStringList(value))
      } catch {
        return refuse(Status.badRequest)
      }
      protocols = [...new Set(protocols)]
      const request: SessionRequest = {
        url,
        origin,
        protocols,
        headers,
        remote: h3.quic.remote,
        certificate,
      }
      const decision: SessionDecision = route.accept
        ? await route.accept(request)
        : { accept: true }
      if (h3.isClosed) return
      if (!decision.accept) return refuse(decision.status)
      if (decision.protocol !== undefined && !protocols.includes(decision.protocol)) {
        throw new TypeError(
          `route chose protocol "${decision.protocol}" that the client did not offer`,
        )
      }
      const response: [string, string][] = [
        [':status', '200'],
        ['sec-webtransport-http3-draft', 'draft02'],
      ]
      if (decision.protocol !== undefined)
        response.push(['wt-protocol', serializeString(decision.protocol)])
      if (decision.headers) response.push(...decision.headers)
      const session = new WebTransportSession()
      await h3.respond(streamId, response, false)
      session.establish(host, streamId, decision.protocol ?? '')
      host.attach(streamId, session)
      try {
        route.session(session, request)
      } catch (e) {
        session.close({ closeCode: 0, reason: 'internal error' })
        this.reportError(e)
      }
    } finally {
      host.decided()
    }
  }
}
