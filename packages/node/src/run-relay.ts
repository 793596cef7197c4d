/**
 * A relay run the way `ferry relay` runs it: until told to stop, with a kept self-signed
 * certificate renewed before it expires.
 */
import type { Certificate } from '@ferry/webtransport-node'
import { certificateFileOf, loadOrCreateCertificate, minRemainingMs } from './kept-certificate.js'
import { RelayServer, type RelayServerOptions } from './relay-server.js'

/**
 * Runs a relay until `until` settles, then closes it.
 *
 * With `keyFile` and no `certificate`, its self-signed certificate is kept beside the key file
 * (see {@link keptCertificate}), so a restarted relay presents the hash clients pinned, and it
 * is renewed: a day before it expires the relay closes (telling its clients it is going away,
 * so they reconnect at once) and starts again on the same ports with a new certificate, kept in
 * the old one's place. Clients that pinned the old hash learn the new one where they learnt the
 * first (the relay's `/relay`, a page's configuration). A certificate that is given is served
 * as it is, never renewed.
 *
 * `onStart` hears each relay started: the first, and the one after each renewal.
 * @throws what starting the relay threw, the first time or after a renewal (the relay is closed
 *   then).
 */
export async function runRelay(
  options: RelayServerOptions,
  until: Promise<unknown>,
  onStart: (server: RelayServer) => void,
): Promise<void> {
  const certificateFile =
    options.keyFile !== undefined && options.certificate === undefined
      ? certificateFileOf(options.keyFile)
      : undefined
  const current: RelayServerOptions = { ...options }
  // The certificate kept in `certificateFile` and served now; the one to renew.
  let kept: Certificate | undefined
  const start = async (renew: boolean): Promise<RelayServer> => {
    if (certificateFile !== undefined) {
      kept = await loadOrCreateCertificate(certificateFile, renew)
      current.certificate = kept
    }
    const server = await RelayServer.start(current)
    onStart(server)
    return server
  }
  const stopped = until.then(
    () => 'stop' as const,
    () => 'stop' as const,
  )
  let server = await start(false)
  for (;;) {
    const certificate = kept
    let renewal: ReturnType<typeof setTimeout> | undefined
    const renew =
      certificate !== undefined
        ? new Promise<'renew'>((resolve) => {
            const at = certificate.notAfter.getTime() - minRemainingMs
            // setTimeout holds at most 2^31-1 ms (24.8 days); a certificate lives 14 at most.
            const delay = Math.max(0, Math.min(at - Date.now(), 2 ** 31 - 1))
            renewal = setTimeout(() => resolve('renew'), delay)
          })
        : new Promise<never>(() => {})
    const next = await Promise.race([stopped, renew])
    clearTimeout(renewal)
    // The same ports again (they may have been 0).
    current.port = server.port
    const http = server.httpUrl
    if (http !== undefined) current.httpPort = Number(new URL(http).port)
    await server.close()
    if (next === 'stop') return
    server = await start(true)
  }
}
