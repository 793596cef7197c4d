/**
 * The peer of the browser's Session suite, in its own process: a WebTransport server whose
 * sessions on `/session` get the suite's responder, and an HTTP server with the page that runs
 * the checks (bundled from `page.ts` by Vite at start). Prints one JSON line
 * ({@link SessionFixture}) once both listen; stops on SIGTERM.
 */
import { readFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { build, defaultClientConditions, type Rolldown } from 'vite'
import { SessionResponder } from '@ferry/core/testing'
import { WebTransportServer, createCertificate } from '@ferry/webtransport-node'
import type { SessionFixture, SessionFixtureConfig } from './types.js'

const here = fileURLToPath(new URL('.', import.meta.url))

/** `page.ts` and what it imports as one ES module, built in memory. */
async function bundlePage(): Promise<string> {
  const result = await build({
    configFile: false,
    root: here,
    logLevel: 'warn',
    resolve: { conditions: ['@ferry/source', ...defaultClientConditions] },
    build: {
      write: false,
      target: 'es2022',
      minify: false,
      lib: { entry: 'page.ts', formats: ['es'], fileName: 'page' },
    },
  })
  const outputs = (Array.isArray(result) ? result : [result]) as Rolldown.RolldownOutput[]
  const entry = outputs.flatMap((o) => o.output).find((o) => o.type === 'chunk' && o.isEntry)
  if (!entry || entry.type !== 'chunk') throw new Error('the page bundle has no entry chunk')
  return entry.code
}

async function main(): Promise<void> {
  const [script, page] = await Promise.all([
    bundlePage(),
    readFile(new URL('./page.html', import.meta.url), 'utf8'),
  ])
  const certificate = await createCertificate()
  const wt = await WebTransportServer.listen({ certificate })
  const responder = new SessionResponder()
  wt.route('/session', { session: (session) => responder.serve(session) })
  const config: SessionFixtureConfig = {
    webTransportUrl: `https://127.0.0.1:${wt.port}/session`,
    certificateHash: certificate.hashHex,
  }
  const http = createServer((req, res) => {
    const { pathname } = new URL(req.url ?? '/', 'http://localhost')
    if (pathname === '/') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)
    } else if (pathname === '/page.js') {
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
    } else if (pathname === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(config))
    } else {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  const fixture: SessionFixture = {
    pageUrl: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
  }
  console.log(JSON.stringify(fixture))
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  http.closeAllConnections()
  await Promise.allSettled([new Promise((resolve) => http.close(resolve)), wt.close()])
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
