import {
  withAlpnOffer,
  type DialedSession,
  type Session,
  type Transport,
} from '@ferry/core/internal'
import type { DirectAddr } from '@ferry/core'

/**
 * The browser's transport: the native `WebTransport`, dial only. The ALPN offer travels both
 * in the `protocols` option (`wt-available-protocols`) and in the URL's query, for browsers
 * that do not implement `protocols` (Firefox 153).
 */
export class BrowserTransport implements Transport {
  private readonly sessions = new Set<WebTransport>()

  async dial(
    addr: DirectAddr,
    alpns: string[],
    options: { signal?: AbortSignal },
  ): Promise<DialedSession> {
    if (typeof WebTransport !== 'function') {
      throw new TypeError('this browser has no WebTransport')
    }
    const url = withAlpnOffer(addr.url, alpns)
    const hashes = addr.certHashes.map((value) => ({ algorithm: 'sha-256', value: value.slice() }))
    // A browser that does not implement serverCertificateHashes would ignore the option and
    // verify the server against its CA roots instead: then TLS is not bound to the pinned
    // hash, and the connection must be encrypted end to end. WebIDL reads every dictionary
    // member the browser knows while converting the options, so a getter tells which it is.
    let hashesRead = false
    const init = {
      get serverCertificateHashes() {
        hashesRead = true
        return hashes
      },
      protocols: alpns,
    }
    const transport = new WebTransport(url, init)
    this.sessions.add(transport)
    transport.closed.finally(() => this.sessions.delete(transport)).catch(() => {})
    const abort = (): void => transport.close()
    options.signal?.addEventListener('abort', abort, { once: true })
    try {
      await transport.ready
    } finally {
      options.signal?.removeEventListener('abort', abort)
    }
    return {
      session: transport as unknown as Session,
      // A browser does not say which pinned hash matched; with exactly one, it is that one.
      tlsCertHash: hashesRead && addr.certHashes.length === 1 ? addr.certHashes[0] : undefined,
    }
  }

  directAddrs(): DirectAddr[] {
    return []
  }

  close(): Promise<void> {
    for (const t of this.sessions) t.close()
    return Promise.resolve()
  }
}
