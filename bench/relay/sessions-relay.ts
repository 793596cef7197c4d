/**
 * The relay of `bench/relay.ts`'s sessions phase, in a process of its own so its memory is
 * measured alone: a `RelayServer` (the relay `ferry relay` runs) with the per-address limits
 * lifted, because every bench client comes from 127.0.0.1, where a real relay's clients come
 * from many addresses. Prints its {@link RelayInfo} as one JSON line; for each `mem` line on
 * stdin it collects garbage (run it with `--expose-gc`) and prints {@link RelayMemory}; stops on
 * SIGTERM.
 */
import { createInterface } from 'node:readline'
import { RelayServer, type RelayInfo } from '@ferry/node'

/** What a `mem` line answers: `process.memoryUsage()` after a full collection, in bytes. */
export interface RelayMemory {
  rss: number
  heapUsed: number
  external: number
}

/** Far above the bench's session count; both limits default to 64 from one address. */
const perAddress = 100_000

async function main(): Promise<void> {
  // The per-address limits follow maxSessionsPerAddress down to the QUIC layer.
  const server = await RelayServer.start({
    maxSessionsPerAddress: perAddress,
    sessionRate: { perSecond: perAddress, burst: perAddress },
  })
  const info: RelayInfo = server.info()
  console.log(JSON.stringify(info))
  const gc = (globalThis as { gc?: () => void }).gc
  createInterface({ input: process.stdin }).on('line', (line) => {
    if (line.trim() !== 'mem') return
    gc?.()
    gc?.()
    const { rss, heapUsed, external } = process.memoryUsage()
    const memory: RelayMemory = { rss, heapUsed, external }
    console.log(JSON.stringify(memory))
  })
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  await server.close()
  process.exit(0)
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
