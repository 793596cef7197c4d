/**
 * The real servers the ferry browser tests talk to, in one process: a Node endpoint serving
 * the echo protocol, an impostor that serves the same certificate under another identity, and
 * the Vite dev server with `@ferry/browser`'s example pages (after building the script-tag
 * bundle they load). Prints one JSON line with their addresses once all listen; stops on
 * SIGTERM.
 */
import { fileURLToPath } from 'node:url'
import { build, createServer } from 'vite'
import { ConnectError, EndpointTicket, Router } from '@ferry/core'
import { ECHO_ALPN, EchoProtocol } from '@ferry/echo'
import { Endpoint } from '@ferry/node'
import type { FerryFixture } from './types.js'

const browserPackage = fileURLToPath(new URL('../../packages/browser/', import.meta.url))
const viteConfig = `${browserPackage}vite.config.ts`

async function main(): Promise<void> {
  await build({ configFile: viteConfig, logLevel: 'warn' })
  // Failed incoming connections are expected in some tests; print them to explain a failure,
  // all but the refusals one test makes twenty of on purpose.
  const onError = (e: unknown): void => {
    if (!(e instanceof ConnectError && e.code === 'ALPN_REFUSED'))
      console.error('ferry fixture:', e)
  }
  const genuine = await Endpoint.create({ listen: { port: 0 }, onError })
  const router = Router.builder(genuine).accept(ECHO_ALPN, new EchoProtocol()).spawn()
  // Right certificate, wrong key: it can finish TLS with the pinned hash but cannot prove the id.
  const impostor = await Endpoint.create({
    listen: { port: 0, certificate: genuine.certificate },
  })
  const impostorRouter = Router.builder(impostor).accept(ECHO_ALPN, new EchoProtocol()).spawn()
  const impostorTicket = new EndpointTicket({ id: genuine.id, direct: impostor.addr().direct })
  const pages = await createServer({
    configFile: viteConfig,
    logLevel: 'warn',
    server: { port: 0, strictPort: false },
  })
  await pages.listen()
  const pagesUrl = pages.resolvedUrls?.local[0]
  if (!pagesUrl) throw new Error('the dev server has no local URL')
  const fixture: FerryFixture = {
    pagesUrl,
    ticket: genuine.ticket().toString(),
    impostorTicket: impostorTicket.toString(),
    echoId: genuine.id.toString(),
  }
  console.log(JSON.stringify(fixture))
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  await Promise.allSettled([router.shutdown(), impostorRouter.shutdown(), pages.close()])
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
