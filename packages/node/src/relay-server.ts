/**
 * A relay server: the {@link Relay} on a WebTransport (QUIC) port, with an HTTP port beside
 * it for a health check, Prometheus metrics, and, for local development, the relay's address
 * and current certificate hashes so a page can pin them.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import { X509Certificate } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { type DirectAddr, type PublicKey, SecretKey } from '@ferry/core'
import { type Certificate, certificateHash } from '@ferry/webtransport-node'
import { loadOrCreateKeyFile } from './keyfile.js'
import { renderPrometheus } from './relay/metrics.js'
import { Relay, type RelayOptions } from './relay/relay.js'
import { NodeTransport } from './transport.js'

/** Options of {@link RelayServer.start}. */
export interface RelayServerOptions extends Omit<RelayOptions, 'secretKey'> {
  /** Address to bind, UDP and TCP. Default `127.0.0.1`; `::` or `0.0.0.0` for every interface. */
  host?: string
  /** UDP port for WebTransport. Default 0 (any free port). */
  port?: number
  /** TCP port for HTTP (health, metrics, address). Default 0 (any free port); `null` for none. */
  httpPort?: number | null
  /** Host names or addresses to publish in the relay's URL. Default: `host`, or `127.0.0.1`. */
  advertise?: string[]
  /**
   * QUIC connections the relay takes at once, and from one IP address; past either, a client
   * is refused at once. Default: `maxSessions` and `maxSessionsPerAddress` (10 000 and 64).
   */
  maxConnections?: number
  /** See {@link RelayServerOptions.maxConnections}. */
  maxConnectionsPerAddress?: number
  /** The relay's identity. Default: from `keyFile`, else a fresh one for this process. */
  secretKey?: SecretKey
  /** A file holding the relay's identity; created (mode 0600) with a fresh key if missing. */
  keyFile?: string
  /**
   * The certificate to serve: PEM files of one that chains to a root clients trust, or a
   * self-signed {@link Certificate} to keep serving (and have pinned) across restarts.
   * Default: a self-signed one, made now and replaced before it expires (pages then pin its
   * hash, as {@link RelayServer.addr} gives it).
   */
  certificate?:
    | {
        /** The certificate chain, PEM. */
        certFile: string
        /** Its private key, PEM. */
        keyFile: string
      }
    | Certificate
}

/** What the HTTP port's `/relay` answers, and `ferry relay --json` prints. */
export interface RelayInfo {
  /** The WebTransport URL endpoints give as their `relay`. */
  url: string
  /** The relay's EndpointId, as text. */
  id: string
  /** SHA-256 of the certificates to pin, as lowercase hex; empty for a trusted certificate. */
  certHashes: string[]
  /** The HTTP base URL (health, metrics), when there is one. */
  http?: string
}

/** A running relay server; see the module comment. */
export class RelayServer {
  private http: Server | undefined

  private constructor(
    /** The relay's protocol logic (limits, clients, metrics). */
    readonly relay: Relay,
    private readonly transport: NodeTransport,
    private readonly host: string,
    private readonly selfSigned: boolean,
  ) {}

  /**
   * Starts listening on the UDP port (and the HTTP port).
   * @throws {Error} when a port is taken, or the certificate files cannot be read.
   */
  static async start(options: RelayServerOptions = {}): Promise<RelayServer> {
    if (options.secretKey && options.keyFile) {
      throw new TypeError('pass secretKey or keyFile, not both')
    }
    const secretKey =
      options.secretKey ??
      (options.keyFile ? await loadOrCreateKeyFile(options.keyFile) : await SecretKey.generate())
    const relay = new Relay({ ...options, secretKey })
    const host = options.host ?? '127.0.0.1'
    const given = options.certificate
    const certificate =
      given && 'certFile' in given ? await loadCertificate(given.certFile, given.keyFile) : given
    // Pinned: self-signed, made here or given as such (a file's certificate is trusted).
    const pinned = !(given && 'certFile' in given)
    const transport = new NodeTransport(
      {
        host,
        port: options.port ?? 0,
        advertise: options.advertise,
        certificate,
        maxConnections: options.maxConnections ?? quicLimit(options.maxSessions, 10_000),
        maxConnectionsPerAddress:
          options.maxConnectionsPerAddress ?? quicLimit(options.maxSessionsPerAddress, 64),
      },
      options.onError ?? (() => {}),
    )
    const server = new RelayServer(relay, transport, host, pinned)
    try {
      await transport.listen(relay.listener())
      if (options.httpPort !== null) {
        const http = createServer((request, response) => server.serveHttp(request, response))
        server.http = http
        await new Promise<void>((resolve, reject) => {
          http.once('error', reject)
          http.listen(options.httpPort ?? 0, host, () => resolve())
        })
      }
      return server
    } catch (error) {
      await server.close()
      throw error
    }
  }

  /** The relay's EndpointId. */
  get id(): PublicKey {
    return this.relay.id
  }

  /** The relay's address: its WebTransport URL and the certificate hashes to pin. */
  get addr(): DirectAddr {
    const [addr] = this.transport.directAddrs()
    if (!addr) throw new TypeError('the relay server is closed')
    return { url: addr.url, certHashes: this.selfSigned ? addr.certHashes : [] }
  }

  /** The UDP port. */
  get port(): number {
    return this.transport.port!
  }

  /** The HTTP base URL, when serving HTTP. */
  get httpUrl(): string | undefined {
    const address = this.http?.address() as AddressInfo | null | undefined
    if (!address) return undefined
    const host = this.host === '0.0.0.0' || this.host === '::' ? '127.0.0.1' : this.host
    return `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`
  }

  /** What `/relay` answers. */
  info(): RelayInfo {
    const { url, certHashes } = this.addr
    const info: RelayInfo = {
      url,
      id: this.id.toString(),
      certHashes: certHashes.map((hash) => Buffer.from(hash).toString('hex')),
    }
    const http = this.httpUrl
    if (http) info.http = http
    return info
  }

  /**
   * Tells every client the relay is going away (so they reconnect at once), closes their
   * sessions, then the ports.
   */
  async close(): Promise<void> {
    await this.relay.close()
    await this.transport.close()
    const http = this.http
    this.http = undefined
    if (http?.listening) {
      http.closeAllConnections()
      await new Promise<void>((resolve) => http.close(() => resolve()))
    }
  }

  private serveHttp(request: IncomingMessage, response: ServerResponse): void {
    const path = new URL(request.url ?? '/', 'http://relay').pathname
    const send = (status: number, type: string, body: string): void => {
      response.writeHead(status, {
        'content-type': type,
        'cache-control': 'no-store',
        // A page on any origin may read the relay's address and hashes (they are public).
        'access-control-allow-origin': '*',
      })
      response.end(request.method === 'HEAD' ? undefined : body)
    }
    if (request.method !== 'GET' && request.method !== 'HEAD') {
      send(405, 'text/plain; charset=utf-8', 'method not allowed\n')
    } else if (path === '/health') {
      send(200, 'application/json', JSON.stringify({ status: 'ok', clients: this.relay.clients }))
    } else if (path === '/relay') {
      send(200, 'application/json', JSON.stringify(this.info()))
    } else if (path === '/metrics') {
      send(200, 'text/plain; version=0.0.4; charset=utf-8', renderPrometheus(this.relay.metrics()))
    } else {
      send(404, 'text/plain; charset=utf-8', 'not found\n')
    }
  }
}

/** A relay limit as a QUIC limit: `fallback` when unset, and no limit for `Infinity`. */
function quicLimit(value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback
  return Number.isFinite(value) ? value : Number.MAX_SAFE_INTEGER
}

/** A certificate and its key from PEM files, with what ferry needs to know of it. */
async function loadCertificate(certFile: string, keyFile: string): Promise<Certificate> {
  const [certPem, keyPem] = await Promise.all([
    readFile(certFile, 'utf8'),
    readFile(keyFile, 'utf8'),
  ])
  const x509 = new X509Certificate(certPem)
  const hash = await certificateHash(certPem)
  return {
    certPem,
    keyPem,
    hash,
    hashHex: Buffer.from(hash).toString('hex'),
    notBefore: new Date(x509.validFrom),
    notAfter: new Date(x509.validTo),
  }
}
