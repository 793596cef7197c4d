/**
 * The real servers of the relay tests, started from this process: `ferry relay` (the CLI, as a
 * child, read through its `--json` line), a Node endpoint that does not listen and serves
 * `relay-e2e/1` (reachable only through the relay), and a Vite dev
 * server with the page (`index.html`, `page.ts`). Prints one JSON line ({@link RelayFixture}) once all are up; on
 * SIGTERM stops the dev server, the endpoint and the relay.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { createServer as createHttpServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createServer, defaultClientConditions } from 'vite'
import { Router } from '@ferry/core'
import { Endpoint } from '@ferry/node'
import { RELAY_E2E_ALPN, RelayE2eProtocol, hexBytes } from './protocol.js'
import type { RelayAddress, RelayFixture } from './types.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const repo = fileURLToPath(new URL('../../', import.meta.url))

/** Starts `ferry relay` on free ports; resolves with the child and the address it printed. */
async function startRelay(): Promise<[ChildProcess, RelayAddress]> {
  const args = ['--conditions=@ferry/source', '--import', 'tsx', 'packages/node/src/bin.ts']
  const relay = ['relay', '--port', '0', '--http-port', '0', '--json']
  const child = spawn(process.execPath, [...args, ...relay], {
    cwd: repo,
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  const addr = await new Promise<RelayAddress>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', (code) => reject(new Error(`ferry relay exited with ${code}`)))
    lines.on('line', (line) => {
      if (line.startsWith('{')) resolve(JSON.parse(line) as RelayAddress)
    })
  })
  return [child, addr]
}

/** SIGTERMs `child` and waits for it to exit. */
async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGTERM')
  await exited
}

/** Each step of the shutdown, run newest first, each guarded (see the end of main). */
const cleanup: (() => Promise<unknown>)[] = []

async function main(): Promise<void> {
  const [relayProcess, relay] = await startRelay()
  cleanup.push(() => stop(relayProcess))
  const shutdown = async (): Promise<void> => {
    for (const step of cleanup.reverse()) {
      await step().catch((e: unknown) => console.error('relay fixture:', e))
    }
  }
  try {
    const hashes = relay.certHashes.map(hexBytes)
    const endpoint = await Endpoint.create({ relay: { url: relay.url, certHashes: hashes } })
    const router = Router.builder(endpoint).accept(RELAY_E2E_ALPN, new RelayE2eProtocol()).spawn()
    cleanup.push(() => router.shutdown())
    await endpoint.online()
    // Vite in middleware mode, under our own HTTP server: a standalone dev server would take
    // SIGTERM over and exit the process once it closed, orphaning the relay child.
    const pages = await createServer({
      configFile: false,
      root: here,
      logLevel: 'warn',
      appType: 'spa',
      resolve: { conditions: ['@ferry/source', ...defaultClientConditions] },
      server: { middlewareMode: true, hmr: false },
    })
    cleanup.push(() => pages.close())
    const http = createHttpServer(pages.middlewares)
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
    cleanup.push(async () => {
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
    })
    const pagesUrl = `http://127.0.0.1:${(http.address() as AddressInfo).port}/`
    const fixture: RelayFixture = {
      pagesUrl,
      relay: { url: relay.url, certHashes: relay.certHashes, id: relay.id },
      nodeId: endpoint.id.toString(),
    }
    console.log(JSON.stringify(fixture))
    await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  } finally {
    await shutdown()
  }
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
