/**
 * Gossip figures on the simulated network (`@ferry/gossip/sim`, a one-way latency of 10–50 ms
 * uniform, links in order, seeded): for 100 and 1000 peers, each joined through 3 random earlier
 * ones, with one sender and with every peer sending once, before and after 20% of the peers
 * are killed at once:
 *
 * - delivery ratio: live peers reached / live peers (other than the sender);
 * - RMR, relative message redundancy: payload messages sent / (peers reached) − 1 (0 is a
 *   perfect tree; flooding over 5 neighbors is about 4);
 * - LDH, last delivery hop: the most hops a message took;
 * - latency from broadcast to delivery: median and p99 over every delivery.
 *
 * The baseline, from the same latency model, is one hop (30 ms mean): `p50/hop` is the median
 * delivery latency over it, the number of hops' worth of time a delivery takes.
 *
 * Run with `npx --yes pnpm@10 bench:gossip` (about 10 minutes, nearly all of it the 1000-peer
 * all-senders rounds); `FERRY_BENCH_GOSSIP_SIZES` (default `100,1000`) and `FERRY_BENCH_SEED` change the runs.
 */
import { Simulation, type DeliveryReport } from '@ferry/gossip/sim'

const sizes = (process.env.FERRY_BENCH_GOSSIP_SIZES ?? '100,1000').split(',').map(Number)
const seed = Number(process.env.FERRY_BENCH_SEED ?? 1)
const enc = new TextEncoder()
const meanHopMs = 30

interface Row {
  peers: number
  phase: string
  senders: string
  messages: number
  delivery: number
  rmr: number
  ldh: number
  p50: number
  p99: number
  duplicates: number
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

function summarise(peers: number, phase: string, senders: string, reports: DeliveryReport[]): Row {
  const latencies = reports.flatMap((r) => r.latencies).sort((a, b) => a - b)
  const mean = (f: (r: DeliveryReport) => number) =>
    reports.reduce((s, r) => s + f(r), 0) / reports.length
  return {
    peers,
    phase,
    senders,
    messages: reports.length,
    delivery: Math.min(...reports.map((r) => r.deliveryRatio)),
    rmr: mean((r) => r.rmr),
    ldh: Math.max(...reports.map((r) => r.ldh)),
    p50: quantile(latencies, 0.5),
    p99: quantile(latencies, 0.99),
    duplicates: reports.reduce((s, r) => s + r.duplicates, 0),
  }
}

function runSize(n: number): Row[] {
  const rows: Row[] = []
  const sim = new Simulation({ seed: seed + n })
  const peers = sim.addPeers(n)
  sim.joinRandomly(peers, 3, 10)
  sim.run(10_000)
  let counter = 0
  const send = (from: typeof peers) => {
    const keys = from.map((p) => sim.broadcast(p, enc.encode(`bench ${counter++} ${p.id}`)))
    sim.run(10_000)
    return keys.map((k) => sim.report(k))
  }
  // The tree forms on the first messages (duplicates prune it): warm it up, as a chat would.
  send(sim.live().slice(0, 5))
  for (const phase of ['before churn', 'after 20% churn']) {
    if (phase !== 'before churn') {
      sim.kill(sim.live().filter((_, i) => i % 5 === 0))
      sim.run(30_000)
      send(sim.live().slice(0, 5))
    }
    const live = sim.live()
    rows.push(
      summarise(n, phase, 'one', send([live[0]!]).concat(send([live[1]!]), send([live[2]!]))),
    )
    rows.push(summarise(n, phase, 'all', send(live)))
  }
  return rows
}

const started = performance.now()
console.log(
  'gossip on the simulated network (one-way latency 10–50 ms, mean hop 30 ms), seed ' + seed,
)
console.log(
  'peers  phase             senders  msgs  delivery  RMR    LDH  latency p50 / p99 (ms)  p50/hop  dups',
)
for (const n of sizes) {
  for (const r of runSize(n)) {
    console.log(
      `${String(r.peers).padEnd(6)} ${r.phase.padEnd(17)} ${r.senders.padEnd(8)} ${String(r.messages).padStart(5)}  ` +
        `${r.delivery.toFixed(3).padStart(8)}  ${r.rmr.toFixed(2).padStart(5)}  ${String(r.ldh).padStart(3)}  ` +
        `${r.p50.toFixed(0).padStart(11)} / ${r.p99.toFixed(0).padEnd(10)}  ${(r.p50 / meanHopMs).toFixed(1).padStart(7)}  ${r.duplicates}`,
    )
  }
}
console.log(`(${((performance.now() - started) / 1000).toFixed(0)} s)`)
