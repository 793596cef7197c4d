/**
 * `npm start`: a relay and the chat page, on embedded defaults. The relay listens on UDP
 * `FERRY_RELAY_PORT` (default 4433) with a self-signed certificate kept, with its identity, in
 * `FERRY_RELAY_KEY_FILE` (default `.ferry/relay.key` in the repository), so that pages left open
 * across a restart still trust it and reconnect by themselves; the page is served on
 * `http://127.0.0.1:FERRY_HTTP_PORT/` (default 8080), with `/config.json` telling it the relay's
 * URL and the certificate hash to pin. Ctrl-C stops both.
 */
import { readFile } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { fileURLToPath } from 'node:url'
import { runRelay } from '@ferry/node'
import { createServer, defaultClientConditions } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))
const relayPort = Number(process.env.FERRY_RELAY_PORT ?? 4433)
const httpPort = Number(process.env.FERRY_HTTP_PORT ?? 8080)
const keyFile =
  process.env.FERRY_RELAY_KEY_FILE ??
  fileURLToPath(new URL('../../.ferry/relay.key', import.meta.url))

// The relay runs until Ctrl-C, its self-signed certificate kept beside its key and renewed a
// day before it expires; the page's /config.json then names the new hash.
let stopRelay = (): void => {}
let config = ''
let started = (): void => {}
const relayStarted = new Promise<void>((resolve) => (started = resolve))
const relayRun = runRelay(
  { port: relayPort, httpPort: null, keyFile },
  new Promise<void>((resolve) => (stopRelay = resolve)),
  (relay) => {
    const info = relay.info()
    config = JSON.stringify({ relay: { url: info.url, certHashes: info.certHashes } })
    console.log(`relay  ${info.url}  (id ${info.id})`)
    started()
  },
)
relayRun.catch((error: unknown) => {
  console.error(`relay: ${(error as Error).message}`)
  process.exit(1)
})
await Promise.race([relayStarted, relayRun])

// Vite compiles the page's modules on request. The page itself is served as written: Vite's
// dev client (which it adds to pages it serves) would keep a WebSocket to a live-reload server
// this demo does not run, log its failure, and reload the page whenever the server restarts.
const pages = await createServer({
  configFile: false,
  root,
  logLevel: 'warn',
  appType: 'custom',
  resolve: { conditions: ['@ferry/source', ...defaultClientConditions] },
  server: { middlewareMode: true, hmr: false, ws: false },
})
const page = await readFile(new URL('./index.html', import.meta.url), 'utf8')
const http = createHttpServer((request, response) => {
  const path = new URL(request.url ?? '/', 'http://localhost').pathname
  if (path === '/config.json') {
    response.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
    response.end(config)
  } else if (path === '/' || path === '/index.html') {
    response.writeHead(200, {
      'content-type': 'text/html; charset=utf-8',
      'cache-control': 'no-store',
    })
    response.end(page)
  } else {
    pages.middlewares(request, response)
  }
})
await new Promise<void>((resolve, reject) => {
  http.once('error', reject)
  http.listen(httpPort, '127.0.0.1', resolve)
})

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  http.closeAllConnections()
  stopRelay()
  await Promise.all([new Promise((resolve) => http.close(resolve)), pages.close(), relayRun])
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())

// Said last, once a signal stops the demo cleanly.
const { port } = http.address() as AddressInfo
console.log(`chat   open http://127.0.0.1:${port}/ in two tabs or two browsers`)
