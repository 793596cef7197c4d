/**
 * The clients of `bench/relay.ts`'s sessions phase, in a process of their own: opens
 * `FERRY_BENCH_SESSIONS` Node endpoints on the relay (`FERRY_BENCH_RELAY`), each with its own
 * identity and its own authenticated session, `FERRY_BENCH_SESSION_BATCH` at a time, and keeps
 * them open until SIGTERM. Prints `{"online":n}` after each batch and {@link SessionsReport}
 * when all are up.
 */
import { Endpoint } from '@ferry/node'
import { hexBytes } from './protocol.js'
import type { RelayAddress } from './types.js'

/** What this process prints when every session is up. */
export interface SessionsReport {
  done: true
  online: number
  ms: number
}

async function main(): Promise<void> {
  const relay = JSON.parse(process.env.FERRY_BENCH_RELAY!) as RelayAddress
  const count = Number(process.env.FERRY_BENCH_SESSIONS)
  const batch = Number(process.env.FERRY_BENCH_SESSION_BATCH ?? 50)
  const config = { relay: { url: relay.url, certHashes: relay.certHashes.map(hexBytes) } }
  const endpoints: Endpoint[] = []
  const start = performance.now()
  while (endpoints.length < count) {
    const n = Math.min(batch, count - endpoints.length)
    const made = await Promise.all(
      Array.from({ length: n }, async () => {
        const ep = await Endpoint.create(config)
        await ep.online()
        return ep
      }),
    )
    endpoints.push(...made)
    console.log(JSON.stringify({ online: endpoints.length }))
  }
  const report: SessionsReport = {
    done: true,
    online: endpoints.length,
    ms: performance.now() - start,
  }
  console.log(JSON.stringify(report))
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  // Closing a thousand sessions politely is not what is measured: give it a few seconds.
  const timer = setTimeout(() => process.exit(0), 5000)
  await Promise.all(endpoints.map((ep) => ep.close().catch(() => {})))
  clearTimeout(timer)
  process.exit(0)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
