/**
 * The real servers of the relay tests, started from this process: `ferry relay` (the CLI, as a
 * child, read through its `--json` line, its identity and certificate kept in a temporary
 * directory with `--key-file`), a Node endpoint that does not listen and serves `relay-e2e/1`
 * (reachable only through the relay), and a Vite dev server with the page (`index.html`,
 * `page.ts`). `POST /restart-relay` on the pages' server SIGKILLs the relay and starts it
 * again on the same UDP port with the same key file, and answers once the new one printed its
 * address (as JSON). Prints one JSON line ({@link RelayFixture}) once all are up; on SIGTERM
 * stops the dev server, the endpoint and the relay.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import {
  createServer as createHttpServer,
  type IncomingMessage,
  type ServerResponse,
} from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { createServer, defaultClientConditions } from 'vite'
import { Router } from '@ferry/core'
import { Endpoint } from '@ferry/node'
import { RELAY_E2E_ALPN, RelayE2eProtocol, hexBytes } from './protocol.js'
import type { RelayAddress, RelayFixture } from './types.js'

const here = fileURLToPath(new URL('.', import.meta.url))
const repo = fileURLToPath(new URL('../../', import.meta.url))

/**
 * Starts `ferry relay` with `keyFile` on UDP `port` (0: a free one) and a free HTTP port;
 * resolves with the child and the address it printed.
 */
async function startRelay(keyFile: string, port: number): Promise<[ChildProcess, RelayAddress]> {
  const args = ['--conditions=@ferry/source', '--import', 'tsx', 'packages/node/src/bin.ts']
  const udp = ['--port', String(port), '--http-port', '0']
  const child = spawn(
    process.execPath,
    [...args, 'relay', '--key-file', keyFile, ...udp, '--json'],
    {
      cwd: repo,
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  )
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

/** SIGKILLs `child` (no goodbye to its clients) and waits for it to exit. */
async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGKILL')
  await exited
}

/** Each step of the shutdown, run newest first, each guarded (see the end of main). */
const cleanup: (() => Promise<unknown>)[] = []

async function main(): Promise<void> {
  const state = await mkdtemp(join(tmpdir(), 'ferry-relay-e2e-'))
  cleanup.push(() => rm(state, { recursive: true, force: true }))
  const keyFile = join(state, 'relay.key')
  let [relayProcess, relay] = await startRelay(keyFile, 0)
  cleanup.push(() => stop(relayProcess))
  // Restarts are serialised: a second request waits for the first to finish.
  let restarting: Promise<unknown> = Promise.resolve()
  const restartRelay = async (): Promise<RelayAddress> => {
    await kill(relayProcess)
    ;[relayProcess, relay] = await startRelay(keyFile, Number(new URL(relay.url).port))
    return relay
  }
  const serveRestart = (request: IncomingMessage, response: ServerResponse): void => {
    const done = restarting.then(restartRelay)
    restarting = done.catch(() => undefined)
    done.then(
      (addr) => {
        response.writeHead(200, { 'content-type': 'application/json' })
        response.end(JSON.stringify(addr))
      },
      (e: unknown) => {
        console.error('relay fixture: restarting the relay:', e)
        response.writeHead(500, { 'content-type': 'text/plain; charset=utf-8' })
        response.end(`${String(e)}\n`)
      },
    )
    request.resume()
  }
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
    const http = createHttpServer((request, response) => {
      if (request.method === 'POST' && request.url === '/restart-relay') {
        serveRestart(request, response)
      } else {
        pages.middlewares(request, response)
      }
    })
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
