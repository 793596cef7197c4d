/**
 * The browser side of `bench/relay.ts`: an `@ferry/browser` endpoint on the bench's relay that
 * serves `bench-relay/1` and dials by ticket or EndpointId. The bench drives it through
 * `window.ferryRelayBench` ({@link RelayBenchPage}); every time is measured here, with
 * `performance.now()`, so each path is timed by the same clock the same way.
 */
import { type Connection, Endpoint, Router } from '@ferry/browser'
import {
  BENCH_RELAY_ALPN,
  BenchRelayProtocol,
  echoOnce,
  hexBytes,
  sendCounted,
} from './protocol.js'
import type { Path, RelayBenchPage } from './types.js'

const failures: string[] = []
const protocol = new BenchRelayProtocol((e) =>
  failures.push(e instanceof Error ? `${e.name}: ${e.message}` : String(e)),
)
const connections = new Map<string, Connection>()
let endpoint: Endpoint | undefined

function started(): Endpoint {
  if (!endpoint) throw new Error('start() the endpoint first')
  return endpoint
}

function opened(key: string): Connection {
  const conn = connections.get(key)
  if (!conn) throw new Error(`no connection ${key}`)
  return conn
}

async function connect(target: string, path: Path): Promise<Connection> {
  const conn = await started().connect(target, BENCH_RELAY_ALPN)
  if (conn.path !== path) {
    conn.close()
    throw new Error(`expected a ${path} connection, got ${conn.path}`)
  }
  return conn
}

const page: RelayBenchPage = {
  async start(relay) {
    endpoint = await Endpoint.create({
      storage: 'ephemeral',
      relay: { url: relay.url, certHashes: relay.certHashes.map(hexBytes) },
    })
    Router.builder(endpoint).accept(BENCH_RELAY_ALPN, protocol).spawn()
    await endpoint.online()
    return endpoint.id.toString()
  },

  async open(key, target, path) {
    connections.set(key, await connect(target, path))
  },

  async send(key, bytes) {
    const start = performance.now()
    await sendCounted(opened(key), bytes)
    return performance.now() - start
  },

  async echo(key) {
    const start = performance.now()
    await echoOnce(opened(key))
    return performance.now() - start
  },

  async connectEcho(target, path) {
    const start = performance.now()
    const conn = await connect(target, path)
    await echoOnce(conn)
    const ms = performance.now() - start
    conn.close()
    return ms
  },

  close(key) {
    connections.get(key)?.close()
    connections.delete(key)
  },

  errors() {
    return failures
  },
}

;(window as unknown as { ferryRelayBench: RelayBenchPage }).ferryRelayBench = page
const state = document.getElementById('state')!
state.textContent = 'ready'
state.dataset.ready = 'true'
