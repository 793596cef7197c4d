/**
 * The Node peers of `bench/relay.ts`, in their own process as on their own machine: an endpoint
 * that listens (the direct path, dialed by ticket) and one that does not listen and is on the
 * relay (reachable only through it, dialed by EndpointId). Both serve `bench-relay/1`. The relay
 * comes in `FERRY_BENCH_RELAY` (what `ferry relay --json` printed); prints one JSON line
 * ({@link PeerAddresses}) once both are up, and stops on SIGTERM.
 */
import { Endpoint, Router } from '@ferry/node'
import { BENCH_RELAY_ALPN, BenchRelayProtocol, hexBytes } from './protocol.js'
import type { RelayAddress } from './types.js'

/** What this process prints. */
export interface PeerAddresses {
  /** The listening endpoint's ticket. */
  ticket: string
  /** The relay-only endpoint's EndpointId. */
  relayOnlyId: string
}

async function main(): Promise<void> {
  const relay = JSON.parse(process.env.FERRY_BENCH_RELAY!) as RelayAddress
  const protocol = new BenchRelayProtocol((e) => console.error('peer:', e))
  const direct = await Endpoint.create({ listen: { port: 0 } })
  const relayOnly = await Endpoint.create({
    relay: { url: relay.url, certHashes: relay.certHashes.map(hexBytes) },
  })
  const routers = [direct, relayOnly].map((ep) =>
    Router.builder(ep).accept(BENCH_RELAY_ALPN, protocol).spawn(),
  )
  await relayOnly.online()
  const addresses: PeerAddresses = {
    ticket: direct.ticket().toString(),
    relayOnlyId: relayOnly.id.toString(),
  }
  console.log(JSON.stringify(addresses))
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  for (const router of routers) await router.shutdown().catch((e: unknown) => console.error(e))
}

main().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
