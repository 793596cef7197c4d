/**
 * The flooding client of `bench/relay.ts`'s fairness phases, in its own process: two endpoints
 * on the relay (`FERRY_BENCH_RELAY`), one dialing the other by EndpointId, and, by
 * `FERRY_BENCH_FLOOD`, either `streams` (a fresh echoed stream `FERRY_BENCH_STREAM_RATE` times
 * a second, default 200) or `bytes` (one stream written as fast as the relay takes it).
 * Prints `{"flooding":true}` once the flood runs; on SIGTERM stops and prints
 * {@link FloodReport}.
 */
import { Endpoint, Router } from '@ferry/node'
import {
  BENCH_RELAY_ALPN,
  BenchRelayProtocol,
  echoOnce,
  hexBytes,
  received,
  sendCounted,
} from './protocol.js'
import type { RelayAddress } from './types.js'

/** What the flood achieved, from its first stream to SIGTERM. */
export interface FloodReport {
  seconds: number
  /** Echoed streams completed (the `streams` flood). */
  streams: number
  /** Streams that failed (refused by the relay, or cut at the stop). */
  failedStreams: number
  /** Bytes the sink counted (the `bytes` flood). */
  bytes: number
}

/** Streams in flight at most: well under the relay's per-client stream limit (1024). */
const maxInFlight = 256

async function main(): Promise<void> {
  const relay = JSON.parse(process.env.FERRY_BENCH_RELAY!) as RelayAddress
  const mode = process.env.FERRY_BENCH_FLOOD
  if (mode !== 'streams' && mode !== 'bytes')
    throw new TypeError('FERRY_BENCH_FLOOD: streams | bytes')
  const rate = Number(process.env.FERRY_BENCH_STREAM_RATE ?? 200)
  const config = { relay: { url: relay.url, certHashes: relay.certHashes.map(hexBytes) } }
  const [flooder, sink] = await Promise.all([Endpoint.create(config), Endpoint.create(config)])
  const router = Router.builder(sink).accept(BENCH_RELAY_ALPN, new BenchRelayProtocol()).spawn()
  await Promise.all([flooder.online(), sink.online()])
  const conn = await flooder.connect(sink.id, BENCH_RELAY_ALPN)
  if (conn.path !== 'relay') throw new Error(`the flood took the ${conn.path} path`)

  const report: FloodReport = { seconds: 0, streams: 0, failedStreams: 0, bytes: 0 }
  const stop = new AbortController()
  const stopped = new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  let running: Promise<unknown>
  let start: number
  if (mode === 'streams') {
    await echoOnce(conn)
    start = performance.now()
    let launched = 0
    let inFlight = 0
    // A timer that catches up: a late tick launches what the rate owed since the last one.
    const timer = setInterval(() => {
      const owed = Math.floor(((performance.now() - start) / 1000) * rate)
      while (launched < owed && inFlight < maxInFlight) {
        launched++
        inFlight++
        echoOnce(conn)
          .then(
            () => report.streams++,
            () => report.failedStreams++,
          )
          .finally(() => inFlight--)
      }
    }, 1)
    running = stopped.then(() => clearInterval(timer))
  } else {
    start = performance.now()
    received.bytes = 0
    running = sendCounted(conn, Infinity, stop.signal)
  }
  console.log(JSON.stringify({ flooding: true }))
  await stopped
  report.seconds = (performance.now() - start) / 1000
  report.bytes = received.bytes
  stop.abort()
  await running.catch(() => {})
  console.log(JSON.stringify(report))
  conn.close()
  await router.shutdown().catch(() => {})
  await flooder.close().catch(() => {})
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
