import { createHash } from 'node:crypto'
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { ConnectionClosedError, H3, Http3Error } from './errors.js'
import { Http3Connection, defaultLimits, type Http3Limits } from './h3/connection.js'
import { Setting } from './h3/settings.js'
import { parseStringList, serializeStringList } from './h3/structured.js'
import { clientConfig, type QuicOptions } from './quic/config.js'
import type { QuicCloseInfo } from './quic/connection.js'
import { QuicEndpoint } from './quic/endpoint.js'
import { WebTransportError } from './wt/error.js'
import { SessionHost } from './wt/host.js'
import { WebTransportSession } from './wt/session.js'

/** A pinned certificate hash, as in the W3C `WebTransportHash`. */
export interface WebTransportHash {
  /** The hash algorithm; only `'sha-256'` (any case) is supported, as in browsers. */
  algorithm: string
  /** The 32-byte SHA-256 digest of the DER certificate (`Certificate.hash`). */
  value: ArrayBuffer | ArrayBufferView
}

/** The W3C `WebTransportOptions` ferry implements, plus Node-only extras. */
export interface WebTransportOptions extends QuicOptions {
  /** Accept the server only if its certificate's SHA-256 is one of these (no CA check then). */
  serverCertificateHashes?: WebTransportHash[]
  /** Subprotocols to offer, most preferred first; the server's choice is `protocol`. */
  protocols?: string[]
  /** Sent as the `origin` header (browsers set it; a Node client may). */
  origin?: string
  /** Extra request header fields (lowercase names). */
  headers?: [string, string][]
  /** HTTP/3 and WebTransport limits. */
  limits?: Partial<Http3Limits>
  /** Abandons the connection attempt. */
  signal?: AbortSignal
}

const token = /^[!#$%&'*+\-.^_`|~0-9A-Za-z/:]+$/

function hashBytes(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  return value instanceof ArrayBuffer
    ? new Uint8Array(value)
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength)
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i])
}

function closedError(info: QuicCloseInfo): WebTransportError {
  const cause = new ConnectionClosedError(info)
  return new WebTransportError(`opening handshake failed: ${cause.message}`, {
    source: 'session',
    cause,
  })
}

/**
 * A WebTransport client for Node with the browser's constructor and object shape:
 *
 * ```ts
 * const wt = new WebTransport('https://127.0.0.1:4433/echo', {
 *   serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
 *   protocols: ['chat/2', 'chat/1'],
 * })
 * await wt.ready
 * ```
 */
export class WebTransport extends WebTransportSession {
  /**
   * SHA-256 of the certificate the server presented, once it has been checked against
   * `serverCertificateHashes` (not in the W3C API: a browser does not tell which pinned hash
   * matched). `undefined` when no hashes were pinned.
   */
  serverCertificateHash: Uint8Array | undefined
  private endpoint: QuicEndpoint | undefined
  private h3: Http3Connection | undefined
  private closedLocally = false

  /**
   * @throws {SyntaxError} for a URL that is not `https:` or a malformed protocol list, and
   *   `TypeError` for a bad certificate hash (as the browser does).
   */
  constructor(url: string | URL, options: WebTransportOptions = {}) {
    super()
    const target = new URL(url)
    if (target.protocol !== 'https:')
      throw new SyntaxError(`WebTransport needs an https URL: ${target.href}`)
    if (target.hash) throw new SyntaxError('WebTransport URLs have no fragment')
    const protocols = options.protocols ?? []
    if (new Set(protocols).size !== protocols.length) throw new SyntaxError('duplicate protocols')
    for (const p of protocols) {
      if (!token.test(p)) throw new SyntaxError(`invalid protocol: ${JSON.stringify(p)}`)
    }
    const hashes = (options.serverCertificateHashes ?? []).map((h) => {
      if (h.algorithm.toLowerCase() !== 'sha-256')
        throw new TypeError(`unsupported hash: ${h.algorithm}`)
      const bytes = hashBytes(h.value)
      if (bytes.length !== 32) throw new TypeError('a sha-256 hash is 32 bytes')
      return bytes
    })
    this.connect(target, protocols, hashes, options).catch((e: unknown) => {
      const error =
        e instanceof WebTransportError
          ? e
          : new WebTransportError(`opening handshake failed: ${(e as Error)?.message ?? e}`, {
              source: 'session',
            })
      this.fail(error)
      this.teardown()
    })
    void this.closed.then(
      () => this.afterClose(),
      () => this.teardown(),
    )
  }

  protected override abortConnecting(): void {
    this.teardown()
  }

  private async connect(
    url: URL,
    protocols: string[],
    hashes: Uint8Array[],
    options: WebTransportOptions,
  ): Promise<void> {
    const signal = options.signal
    signal?.throwIfAborted()
    const hostname = url.hostname.replace(/^\[|\]$/g, '')
    const address = isIP(hostname) ? hostname : (await lookup(hostname)).address
    const port = url.port ? Number(url.port) : 443
    const family6 = address.includes(':')
    const endpoint = await QuicEndpoint.bind({ host: family6 ? '::' : '0.0.0.0', port: 0 })
    this.endpoint = endpoint
    if (this.state !== 'connecting') return this.teardown()
    const quic = endpoint.connect(
      hostname,
      { host: address, port },
      clientConfig(hashes.length === 0, options),
    )
    const limits = { ...defaultLimits, ...options.limits }
    const h3 = new Http3Connection(quic, false, limits)
    this.h3 = h3
    const host = new SessionHost(h3, limits)
    const aborted = new Promise<never>((_, reject) => {
      const abort = (): void => reject(new WebTransportError('aborted', { source: 'session' }))
      signal?.addEventListener('abort', abort, { once: true })
    })
    // Raced below; until then a rejection must not count as unhandled.
    aborted.catch(() => {})
    await Promise.race([h3.settingsReceived(), aborted])
    if (h3.closeInfo) throw closedError(h3.closeInfo)
    if (hashes.length > 0) {
      const leaf = quic.native.peerCertChain()?.[0]
      const digest = leaf ? new Uint8Array(createHash('sha256').update(leaf).digest()) : undefined
      if (!digest || !hashes.some((h) => sameBytes(h, digest))) {
        // A QUIC crypto error: 0x100 + TLS alert 42 (bad_certificate), RFC 9001 §4.8.
        quic.closeTransport(0x100 + 42, 'certificate hash mismatch')
        throw new WebTransportError('server certificate does not match serverCertificateHashes', {
          source: 'session',
        })
      }
      this.serverCertificateHash = digest
    }
    const settings = h3.peerSettings!
    if (
      settings.get(Setting.ENABLE_WEBTRANSPORT_DRAFT02) !== 1 &&
      !settings.get(Setting.WT_MAX_SESSIONS)
    ) {
      h3.close(H3.NO_ERROR)
      throw new WebTransportError('server does not support WebTransport', { source: 'session' })
    }
    const headers: [string, string][] = [
      [':method', 'CONNECT'],
      [':protocol', 'webtransport'],
      [':scheme', 'https'],
      [':authority', url.host],
      [':path', `${url.pathname}${url.search}`],
      ['sec-webtransport-http3-draft02', '1'],
    ]
    if (options.origin) headers.push(['origin', options.origin])
    if (protocols.length > 0) {
      headers.push(['wt-available-protocols', serializeStringList(protocols)])
    }
    if (options.headers) headers.push(...options.headers)
    let streamId: number
    let answer: [string, string][]
    try {
      const sent = await Promise.race([h3.request(headers), aborted])
      streamId = sent.streamId
      answer = await Promise.race([sent.response, aborted])
    } catch (e) {
      if (h3.closeInfo) throw closedError(h3.closeInfo)
      if (e instanceof Http3Error && e.code === H3.REQUEST_REJECTED) {
        // RFC 9114 §5.2: the server's GOAWAY came first; it did not process the request.
        throw new WebTransportError('the server is going away (GOAWAY) and took no new session', {
          source: 'session',
        })
      }
      throw e
    }
    const status = answer.find(([n]) => n === ':status')?.[1]
    if (!status || !/^2\d\d$/.test(status)) {
      h3.close(H3.NO_ERROR)
      throw new WebTransportError(`server refused the session with status ${status}`, {
        source: 'session',
      })
    }
    let chosen = ''
    const field = answer.find(([n]) => n === 'wt-protocol')?.[1]
    if (field !== undefined) {
      const [value] = parseStringList(field)
      // A server may only pick what we offered; anything else is ignored, as browsers do.
      if (value !== undefined && protocols.includes(value)) chosen = value
    }
    if (this.state !== 'connecting') return
    this.establish(host, streamId, chosen)
    host.attach(streamId, this)
  }

  override close(info?: { closeCode?: number; reason?: string }): void {
    if (this.state === 'connected') this.closedLocally = true
    super.close(info)
  }

  override connectStreamEnded(reset: number | undefined): void {
    super.connectStreamEnded(reset)
    // The server answered our FIN with its own: every capsule is through, the connection can go.
    if (this.closedLocally && reset === undefined) this.h3?.close(H3.NO_ERROR)
  }

  /**
   * After a clean close: when we closed, the peer answers our FIN with its own and then the QUIC
   * connection can go (CONNECTION_CLOSE would otherwise race our capsule); a fallback timer
   * covers a peer that never answers.
   */
  private afterClose(): void {
    if (!this.closedLocally) {
      this.teardown()
      return
    }
    const timer = setTimeout(() => this.teardown(), 2000)
    timer.unref()
    void this.h3?.whenClosed().then(() => {
      clearTimeout(timer)
      this.teardown()
    })
  }

  private teardown(): void {
    this.h3?.close(H3.NO_ERROR)
    const endpoint = this.endpoint
    this.endpoint = undefined
    if (endpoint) void endpoint.close()
  }
}
