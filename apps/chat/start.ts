/**
 * `npm start`: a relay and the chat page, on embedded defaults. The relay listens on UDP
 * `FERRY_RELAY_PORT` (default 4433) with a self-signed certificate kept, with its identity, in
 * `FERRY_RELAY_KEY_FILE` (default `.ferry/relay.key` in the repository), so that pages left open
 * across a restart still trust it and reconnect by themselves; the page is served on
 * `http://127.0.0.1:FERRY_HTTP_PORT/` (default 8080), with `/config.json` telling it the relay's
 * URL and the certificate hash to pin. Ctrl-C stops both.
 */
import { mkdir, readFile } from 'node:fs/promises'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { dirname } from 'node:path'
import { fileURLToPath } from 'node:url'
import { RelayServer, keptCertificate } from '@ferry/node'
import { createServer, defaultClientConditions } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))
const relayPort = Number(process.env.FERRY_RELAY_PORT ?? 4433)
const httpPort = Number(process.env.FERRY_HTTP_PORT ?? 8080)
const keyFile =
  process.env.FERRY_RELAY_KEY_FILE ??
  fileURLToPath(new URL('../../.ferry/relay.key', import.meta.url))

await mkdir(dirname(keyFile), { recursive: true })
const relay = await RelayServer.start({
  port: relayPort,
  httpPort: null,
  keyFile,
  certificate: await keptCertificate(keyFile),
})
const info = relay.info()
const config = JSON.stringify({ relay: { url: info.url, certHashes: info.certHashes } })

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

console.log(`relay  ${info.url}  (id ${info.id})`)
const { port } = http.address() as AddressInfo
console.log(`chat   open http://127.0.0.1:${port}/ in two tabs or two browsers`)

let stopping = false
const stop = async (): Promise<void> => {
  if (stopping) return
  stopping = true
  http.closeAllConnections()
  await Promise.all([new Promise((resolve) => http.close(resolve)), pages.close(), relay.close()])
  process.exit(0)
}
process.once('SIGINT', () => void stop())
process.once('SIGTERM', () => void stop())
