/**
 * Relay benchmark: a relay started as `ferry relay --json`, two Chromium pages (two browser
 * contexts, so two endpoints) on it, and Node endpoints in child processes, on loopback. Every
 * relay figure comes with a baseline measured in the same run, so the ratios hold when the
 * machine's absolute speed drifts:
 *
 * 1. throughput: `FERRY_BENCH_MIB` (default 64) MiB on one stream, page → relay → page, against
 *    page → a listening Node endpoint dialed by ticket (the direct path, TLS bound to its
 *    identity), median of `FERRY_BENCH_ROUNDS` (default 3) interleaved rounds. The receiver
 *    counts the bytes; nothing hashes them.
 * 2. connect time: from nothing to a first echoed byte, page → peer by EndpointId through the
 *    relay (the Node endpoint reachable only through the relay, and the other page), against
 *    page → the listening Node endpoint by ticket; median of `FERRY_BENCH_CONNECTS` (default 20).
 * 3. the relay's CPU time (user + system, from `/proc`) over the relayed transfers of 1, per MiB.
 * 4. sessions: `FERRY_BENCH_SESSIONS` (default 1000) authenticated sessions opened from a
 *    child process, `FERRY_BENCH_SESSION_BATCH` (default 50) at a time, to a relay in a process
 *    of its own; its RSS growth per session, and its `/health` client count.
 * 5. fairness: a page → page pair's echo round trip and throughput (`FERRY_BENCH_FAIR_MIB`,
 *    default 16) while another client floods the same relay with streams
 *    (`FERRY_BENCH_STREAM_RATE`, default 200 a second) or bytes, against the same pair unloaded
 *    just before; each loaded phase is cut at `FERRY_BENCH_PHASE_S` (default 10) seconds. The
 *    byte flood runs twice: on the default relay (no byte limit: the flood takes what it can)
 *    and on a relay started with `--client-rate` `FERRY_BENCH_CLIENT_RATE`
 *    (default 4MiB, burst 1MiB), which holds each client — the flooder and the pair alike — to
 *    that rate.
 *
 * 6. the floor: the same transfer Node → Node on the bare QUIC layer, direct and through a
 *    forwarder that only copies one QUIC stream onto another (`relay/floor.ts`), in interleaved
 *    rounds: what any relay on this QUIC layer and machine costs at least, and, beside part 1,
 *    the ratio a relay that cheap would leave.
 *
 * Run it with `npx --yes pnpm@10 bench:relay`. `FERRY_BENCH_ONLY` (comma-separated subset of
 * `throughput,connect,sessions,fairness,floor`) runs part of it; `FERRY_BENCH_RELAY_NODE_OPTIONS` are
 * Node flags for the `ferry relay` child (e.g. `--cpu-prof --cpu-prof-dir=/tmp/relay-prof`).
 */
import { createServer as createHttpServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { cpus } from 'node:os'
import { fileURLToPath } from 'node:url'
import { chromium, type Browser, type Page } from '@playwright/test'
import { createServer, defaultClientConditions, type ViteDevServer } from 'vite'
import { chromiumArgs, requireChromium } from '../e2e/browsers.js'
import { NodeChild } from './relay/child.js'
import { type MachineDelta, readMachine, since } from './relay/machine.js'
import type { FloodReport } from './relay/flood.js'
import type { FloorReport } from './relay/floor.js'
import type { PeerAddresses } from './relay/peer.js'
import type { RelayMemory } from './relay/sessions-relay.js'
import type { SessionsReport } from './relay/sessions.js'
import type { Path, RelayAddress, RelayBenchPage } from './relay/types.js'

const MiB = 1024 * 1024
const KiB = 1024
const here = fileURLToPath(new URL('./relay/', import.meta.url))
const entry = (name: string): string => fileURLToPath(new URL(`./relay/${name}`, import.meta.url))
const ferryBin = fileURLToPath(new URL('../packages/node/src/bin.ts', import.meta.url))

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${JSON.stringify(raw)}`)
  }
  return value
}

const transferBytes = positiveInt('FERRY_BENCH_MIB', 64) * MiB
const rounds = positiveInt('FERRY_BENCH_ROUNDS', 3)
const connects = positiveInt('FERRY_BENCH_CONNECTS', 20)
const sessionCount = positiveInt('FERRY_BENCH_SESSIONS', 1000)
const sessionBatch = positiveInt('FERRY_BENCH_SESSION_BATCH', 50)
const fairBytes = positiveInt('FERRY_BENCH_FAIR_MIB', 16) * MiB
const streamRate = positiveInt('FERRY_BENCH_STREAM_RATE', 200)
const phaseMs = positiveInt('FERRY_BENCH_PHASE_S', 10) * 1000
/** `ferry relay --client-rate` of the relay the last fairness phase runs on. */
const limitedRate = process.env.FERRY_BENCH_CLIENT_RATE ?? '4MiB'
/**
 * Its `--client-burst`: small, so that the pair's transfers run at the rate whether or not the
 * bucket had a quiet while to fill up before them (the flood's start gives it one).
 */
const limitedBurst = '1MiB'
const only = process.env.FERRY_BENCH_ONLY?.split(',').map((s) => s.trim())
const wanted = (part: string): boolean => !only || only.includes(part)

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const f = (x: number): string => x.toFixed(2)
const mibPerSecond = (bytes: number, ms: number): number => bytes / MiB / (ms / 1000)
const progress = (text: string): boolean => process.stderr.write(`${text}\n`)

/** The lines of the final summary, printed together at the end. */
const summary: string[] = []

// ---- processes and pages ----

/** Starts `ferry relay --json` on free ports; resolves once it printed its address. */
async function startRelay(...options: string[]): Promise<[NodeChild, RelayAddress]> {
  const node = process.env.FERRY_BENCH_RELAY_NODE_OPTIONS?.split(' ').filter(Boolean) ?? []
  const relay = new NodeChild([
    ...node,
    ferryBin,
    'relay',
    '--port',
    '0',
    '--http-port',
    '0',
    '--json',
    ...options,
  ])
  return [relay, await relay.next<RelayAddress>((v) => 'url' in v)]
}

/**
 * Vite in middleware mode under a plain HTTP server, compiling `page.ts`; `relay/index.html` is
 * served as written, without Vite's dev client (it would try a live-reload socket and fail).
 */
async function startPages(): Promise<{ url: string; close(): Promise<void> }> {
  const vite: ViteDevServer = await createServer({
    configFile: false,
    root: here,
    logLevel: 'warn',
    appType: 'custom',
    resolve: { conditions: ['@ferry/source', ...defaultClientConditions] },
    server: { middlewareMode: true, hmr: false, ws: false },
  })
  const index = readFileSync(`${here}index.html`, 'utf8')
  const http: Server = createHttpServer((request, response) => {
    if (request.url !== '/') return vite.middlewares(request, response)
    response.writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
    response.end(index)
  })
  await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(http.address() as AddressInfo).port}/`,
    async close() {
      http.closeAllConnections()
      await new Promise((resolve) => http.close(resolve))
      await vite.close()
    },
  }
}

/** A page of its own browser context, its endpoint online on the relay. */
class BenchPage {
  private constructor(
    readonly page: Page,
    readonly id: string,
  ) {}

  static async open(browser: Browser, url: string, relay: RelayAddress): Promise<BenchPage> {
    const context = await browser.newContext()
    const page = await context.newPage()
    page.on('pageerror', (e) => console.error('page error:', e))
    await page.goto(url)
    await page.waitForFunction(() => document.getElementById('state')?.dataset.ready === 'true')
    const id = await page.evaluate(
      (relay) =>
        (window as unknown as { ferryRelayBench: RelayBenchPage }).ferryRelayBench.start(relay),
      relay,
    )
    return new BenchPage(page, id)
  }

  private call<K extends keyof RelayBenchPage>(
    name: K,
    ...args: Parameters<RelayBenchPage[K]>
  ): Promise<Awaited<ReturnType<RelayBenchPage[K]>>> {
    return this.page.evaluate(
      ([name, args]) => {
        const bench = (window as unknown as { ferryRelayBench: RelayBenchPage }).ferryRelayBench
        return (bench[name] as (...a: unknown[]) => unknown)(...args)
      },
      [name, args] as const,
    ) as Promise<Awaited<ReturnType<RelayBenchPage[K]>>>
  }

  open = (key: string, target: string, path: Path): Promise<void> =>
    this.call('open', key, target, path)
  send = (key: string, bytes: number): Promise<number> => this.call('send', key, bytes)
  echo = (key: string): Promise<number> => this.call('echo', key)
  connectEcho = (target: string, path: Path): Promise<number> =>
    this.call('connectEcho', target, path)
  close = (key: string): Promise<void> => this.call('close', key)
  errors = (): Promise<string[]> => this.call('errors')
}

// ---- 1 and 3: throughput, and the relay's CPU per relayed MiB ----

async function throughput(a: BenchPage, relay: NodeChild, peer: NodeChild): Promise<void> {
  const warmup = Math.min(8 * MiB, transferBytes)
  await a.send('relay', warmup)
  await a.send('direct', warmup)
  const ms = { relay: [] as number[], direct: [] as number[] }
  let relayCpuMs = 0
  let relayWallMs = 0
  let peerCpuMs = 0
  const machine = { relay: [] as MachineDelta[], direct: [] as MachineDelta[] }
  for (let round = 0; round < rounds; round++) {
    // Alternate which path goes first, so neither always runs right after the other.
    const order: Path[] = round % 2 ? ['direct', 'relay'] : ['relay', 'direct']
    for (const path of order) {
      const cpuBefore = path === 'relay' ? relay.cpuMs() : peer.cpuMs()
      const machineBefore = readMachine()
      const t = await a.send(path, transferBytes)
      ms[path].push(t)
      machine[path].push(since(machineBefore))
      if (path === 'relay') {
        relayCpuMs += relay.cpuMs() - cpuBefore
        relayWallMs += t
      } else {
        peerCpuMs += peer.cpuMs() - cpuBefore
      }
    }
    progress(`throughput round ${round + 1}/${rounds} done`)
  }
  const mib = transferBytes / MiB
  const relayRate = mibPerSecond(transferBytes, median(ms.relay))
  const directRate = mibPerSecond(transferBytes, median(ms.direct))
  const perRound = (xs: number[]): string =>
    xs.map((t) => mibPerSecond(transferBytes, t).toFixed(1)).join(' ')
  const cpuPerMiB = relayCpuMs / (mib * rounds)
  const peerPerMiB = peerCpuMs / (mib * rounds)
  console.log(`1. throughput, ${mib} MiB on one stream, median of ${rounds} interleaved rounds`)
  console.log(`  page → relay → page        ${f(relayRate)} MiB/s  (rounds: ${perRound(ms.relay)})`)
  console.log(
    `  page → Node, direct ticket  ${f(directRate)} MiB/s  (rounds: ${perRound(ms.direct)})`,
  )
  console.log(`  ratio relay/direct = ${f(relayRate / directRate)}   (target ≥ 0.5)`)
  for (const path of ['relay', 'direct'] as const) {
    console.log(`  machine during ${path.padEnd(6)} transfers: ${describeMachine(machine[path])}`)
  }
  // Every process on the machine, browsers included: when the transfers keep all cores busy,
  // the rates can differ by no more than the CPU each path spends on a MiB.
  const machinePerMiB = (path: Path): number =>
    machine[path].reduce((ms, d) => ms + d.cpuMs, 0) / (mib * rounds)
  const machineRatio = machinePerMiB('direct') / machinePerMiB('relay')
  found.directPerMiB = machinePerMiB('direct')
  found.restPerMiB = machinePerMiB('relay') - cpuPerMiB
  console.log(
    `  CPU per MiB, all processes: relayed ${f(machinePerMiB('relay'))} ms, direct ` +
      `${f(machinePerMiB('direct'))} ms (direct/relayed ${f(machineRatio)}: the ratio the machine ` +
      `allows when the transfers keep all its cores busy)`,
  )
  console.log(`3. relay CPU over the ${rounds} relayed transfers (${mib * rounds} MiB)`)
  console.log(
    `  ${f(cpuPerMiB)} ms CPU per relayed MiB; the relay was busy ${((100 * relayCpuMs) / relayWallMs).toFixed(0)}% of one core while relaying`,
  )
  console.log(
    `  against the direct path's receiving Node endpoint: ${f(peerPerMiB)} ms CPU per MiB received ` +
      `(relay/receiver ${f(cpuPerMiB / peerPerMiB)}; the relay both receives and sends each byte)`,
  )
  summary.push(`throughput relay ${f(relayRate)} MiB/s, direct ${f(directRate)} MiB/s`)
  summary.push(`ratio relay/direct = ${f(relayRate / directRate)}`)
  summary.push(
    `CPU per MiB over all processes: relayed ${f(machinePerMiB('relay'))} ms, direct ` +
      `${f(machinePerMiB('direct'))} ms (ratio ${f(machineRatio)})`,
  )
  summary.push(
    `relay CPU = ${f(cpuPerMiB)} ms/MiB (a direct Node receiver: ${f(peerPerMiB)} ms/MiB, ratio ${f(cpuPerMiB / peerPerMiB)})`,
  )
}

/** Machine CPU (of all cores) and UDP receive-buffer drops over some measurements. */
function describeMachine(deltas: MachineDelta[]): string {
  const cpu = median(deltas.map((d) => d.cpuPercent))
  const udpIn = deltas.reduce((n, d) => n + d.udpIn, 0)
  const dropped = deltas.reduce((n, d) => n + d.udpDropped, 0)
  return (
    `CPU ${cpu.toFixed(0)}% (of ${100 * cpus().length}%), UDP drops for full receive buffers ` +
    `${dropped} of ${udpIn + dropped} datagrams (${((100 * dropped) / Math.max(1, udpIn + dropped)).toFixed(2)}%)`
  )
}

// ---- 2: connect time ----

async function connectTime(a: BenchPage, b: BenchPage, peer: PeerAddresses): Promise<void> {
  const targets: [string, string, Path][] = [
    ['direct', peer.ticket, 'direct'],
    ['relayNode', peer.relayOnlyId, 'relay'],
    ['relayPage', b.id, 'relay'],
  ]
  for (const [, target, path] of targets) await a.connectEcho(target, path)
  const times: Record<string, number[]> = { direct: [], relayNode: [], relayPage: [] }
  for (let i = 0; i < connects; i++) {
    for (const [key, target, path] of targets) times[key]!.push(await a.connectEcho(target, path))
  }
  const direct = median(times.direct!)
  const relayNode = median(times.relayNode!)
  const relayPage = median(times.relayPage!)
  console.log(
    `2. connect to first echoed byte, median of ${connects} (interleaved, after one warm-up)`,
  )
  console.log(`  page → Node by ticket, direct                     ${f(direct)} ms`)
  console.log(
    `  page → relay-only Node by EndpointId, via relay   ${f(relayNode)} ms  (${f(relayNode / direct)}×)`,
  )
  console.log(
    `  page → other page by EndpointId, via relay        ${f(relayPage)} ms  (${f(relayPage / direct)}×)`,
  )
  summary.push(
    `connect direct ${f(direct)} ms, relay→Node ${f(relayNode)} ms, relay→page ${f(relayPage)} ms`,
  )
  summary.push(
    `ratio connect relay/direct = ${f(relayNode / direct)} (Node peer), ${f(relayPage / direct)} (page peer)`,
  )
}

// ---- 5: fairness ----

interface PairFigures {
  rttMs: number
  mibPerSecond: number
}

/** The pair's echo round trip (median of 20) and throughput (median of up to 3), within `deadline`. */
async function pairFigures(a: BenchPage, deadline: number): Promise<PairFigures> {
  const rtts: number[] = []
  for (let i = 0; i < 20 && (i < 3 || performance.now() < deadline); i++) {
    rtts.push(await a.echo('relay'))
  }
  const transfers: number[] = []
  for (let i = 0; i < 3 && (i < 1 || performance.now() < deadline); i++) {
    transfers.push(await a.send('relay', fairBytes))
  }
  return { rttMs: median(rtts), mibPerSecond: mibPerSecond(fairBytes, median(transfers)) }
}

/**
 * The pair `a` → its relay peer measured unloaded and under each flood of `modes` on `relay`;
 * `label` names the relay's configuration in the output.
 */
async function fairness(
  a: BenchPage,
  relay: RelayAddress,
  relayProcess: NodeChild,
  modes: readonly ('streams' | 'bytes')[],
  label: string,
): Promise<void> {
  for (const mode of modes) {
    const unloadedMachine = readMachine()
    const unloaded = await pairFigures(a, performance.now() + phaseMs)
    const idleMachine = since(unloadedMachine)
    const flood = new NodeChild([entry('flood.ts')], {
      FERRY_BENCH_RELAY: JSON.stringify(relay),
      FERRY_BENCH_FLOOD: mode,
      FERRY_BENCH_STREAM_RATE: String(streamRate),
    })
    let loaded: PairFigures
    let report: FloodReport
    let busy: { relay: number; flood: number }
    let loadedMachine: MachineDelta
    try {
      await flood.next((v) => v.flooding === true)
      // Let the flood settle in before measuring under it.
      await new Promise((resolve) => setTimeout(resolve, 500))
      const cpu = { relay: relayProcess.cpuMs(), flood: flood.cpuMs(), at: performance.now() }
      const machineBefore = readMachine()
      loaded = await pairFigures(a, performance.now() + phaseMs - 500)
      loadedMachine = since(machineBefore)
      const wall = performance.now() - cpu.at
      busy = {
        relay: (100 * (relayProcess.cpuMs() - cpu.relay)) / wall,
        flood: (100 * (flood.cpuMs() - cpu.flood)) / wall,
      }
      flood.process.kill('SIGTERM')
      report = await flood.next<FloodReport>((v) => 'seconds' in v)
    } finally {
      await flood.stop()
    }
    const what =
      mode === 'streams'
        ? `${(report.streams / report.seconds).toFixed(0)} echoed streams/s (asked ${streamRate}/s, ${report.failedStreams} failed)`
        : `${f(mibPerSecond(report.bytes, report.seconds * 1000))} MiB/s on one stream`
    const rtt = unloaded.rttMs / loaded.rttMs
    const tput = loaded.mibPerSecond / unloaded.mibPerSecond
    console.log(
      `  ${label}, flooding ${mode}: ${what}; CPU while measured: ` +
        `relay ${busy.relay.toFixed(0)}%, flooding process ${busy.flood.toFixed(0)}% of one core`,
    )
    console.log(
      `    round trip ${f(unloaded.rttMs)} → ${f(loaded.rttMs)} ms (speed ratio ${f(rtt)}); ` +
        `throughput ${f(unloaded.mibPerSecond)} → ${f(loaded.mibPerSecond)} MiB/s (ratio ${f(tput)}, target ≥ 0.5)`,
    )
    console.log(`    machine unloaded: ${describeMachine([idleMachine])}`)
    console.log(`    machine loaded:   ${describeMachine([loadedMachine])}`)
    summary.push(
      `fairness (${mode} flood, ${label}): throughput ratio = ${f(tput)}, round-trip ratio unloaded/loaded = ${f(rtt)} ` +
        `(${f(loaded.rttMs)} ms vs ${f(unloaded.rttMs)} ms)`,
    )
  }
}

// ---- 6: the floor ----

/**
 * Figures of the throughput and floor parts set side by side: CPU ms per MiB of all processes
 * on the direct path, of all but the relay on the relayed path (the browsers, mostly), and of
 * the bare forwarder.
 */
const found: { directPerMiB?: number; restPerMiB?: number; forwarderPerMiB?: number } = {}

/** One Node → Node transfer on the bare QUIC layer, through the bare forwarder or not. */
async function floorTransfer(
  forwarded: boolean,
): Promise<{ ms: number; sinkPerMiB: number; forwarderPerMiB?: number }> {
  const children: NodeChild[] = []
  const start = (env: Record<string, string>): NodeChild => {
    const child = new NodeChild([entry('floor.ts')], env)
    children.push(child)
    return child
  }
  try {
    const sink = start({ FERRY_FLOOR_ROLE: 'sink' })
    let to = (await sink.next<{ port: number }>((v) => 'port' in v)).port
    let forward: NodeChild | undefined
    if (forwarded) {
      forward = start({ FERRY_FLOOR_ROLE: 'forward', FERRY_FLOOR_SINK: String(to) })
      to = (await forward.next<{ port: number }>((v) => 'port' in v)).port
    }
    start({ FERRY_FLOOR_ROLE: 'source', FERRY_FLOOR_TO: String(to) })
    const end = await sink.next<FloorReport>((v) => 'cpuPerMiB' in v)
    const forwarder = await forward?.next<FloorReport>((v) => 'cpuPerMiB' in v)
    return { ms: end.ms, sinkPerMiB: end.cpuPerMiB, forwarderPerMiB: forwarder?.cpuPerMiB }
  } finally {
    for (const child of children) await child.stop()
  }
}

async function floor(): Promise<void> {
  const runs = { direct: [] as number[], forwarded: [] as number[] }
  const cpu = { sink: [] as number[], forwarder: [] as number[] }
  for (let round = 0; round < rounds; round++) {
    for (const forwarded of round % 2 ? [true, false] : [false, true]) {
      const r = await floorTransfer(forwarded)
      runs[forwarded ? 'forwarded' : 'direct'].push(r.ms)
      if (forwarded) cpu.forwarder.push(r.forwarderPerMiB!)
      else cpu.sink.push(r.sinkPerMiB)
    }
    progress(`floor round ${round + 1}/${rounds} done`)
  }
  const rate = (ms: number[]): number => mibPerSecond(transferBytes, median(ms))
  const ratio = rate(runs.forwarded) / rate(runs.direct)
  found.forwarderPerMiB = median(cpu.forwarder)
  console.log(
    `6. the floor: the bare QUIC layer (no WebTransport, web streams, relay protocol or ` +
      `encryption), Node → Node, ${transferBytes / MiB} MiB, median of ${rounds} interleaved rounds`,
  )
  console.log(
    `  Node → Node                     ${f(rate(runs.direct))} MiB/s; the receiver ` +
      `${f(median(cpu.sink))} ms CPU per MiB`,
  )
  console.log(
    `  Node → bare forwarder → Node    ${f(rate(runs.forwarded))} MiB/s; the forwarder ` +
      `${f(found.forwarderPerMiB)} ms CPU per MiB`,
  )
  console.log(`  ratio forwarded/direct = ${f(ratio)}`)
  summary.push(
    `floor: a bare QUIC forwarder, Node to Node: ratio forwarded/direct = ${f(ratio)}, ` +
      `forwarder CPU ${f(found.forwarderPerMiB)} ms/MiB`,
  )
  if (found.restPerMiB !== undefined && found.directPerMiB !== undefined) {
    // The relayed path as it would be with a relay costing no more than the bare forwarder.
    const bound = found.directPerMiB / (found.restPerMiB + found.forwarderPerMiB)
    console.log(
      `  with a relay as cheap as the bare forwarder, the relayed path would cost ` +
        `${f(found.restPerMiB)} (all but the relay) + ${f(found.forwarderPerMiB)} ms per MiB: ` +
        `direct/relayed ${f(bound)} when all cores are busy`,
    )
    summary.push(
      `ratio the machine allows with a relay as cheap as the bare forwarder = ${f(bound)}`,
    )
  }
}

// ---- 4: sessions ----

async function health(http: string): Promise<number> {
  const body = (await (await fetch(`${http}/health`)).json()) as { clients: number }
  return body.clients
}

async function sessions(): Promise<void> {
  const relay = new NodeChild(['--expose-gc', entry('sessions-relay.ts')], {}, true)
  let clients: NodeChild | undefined
  try {
    const addr = await relay.next<RelayAddress>((v) => 'url' in v)
    const memory = async (): Promise<RelayMemory> => {
      relay.send('mem')
      return relay.next<RelayMemory>((v) => 'rss' in v)
    }
    const before = await memory()
    clients = new NodeChild([entry('sessions.ts')], {
      FERRY_BENCH_RELAY: JSON.stringify(addr),
      FERRY_BENCH_SESSIONS: String(sessionCount),
      FERRY_BENCH_SESSION_BATCH: String(sessionBatch),
    })
    let report: SessionsReport | undefined
    while (!report) {
      const line = await clients.next<{ online: number } | SessionsReport>()
      if ('done' in line) report = line
      else if (line.online % 200 === 0) progress(`sessions: ${line.online}/${sessionCount} online`)
    }
    // `online()` resolved on every client; the relay's registry says the same, or soon does.
    let registered = await health(addr.http!)
    for (let i = 0; i < 50 && registered < sessionCount; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100))
      registered = await health(addr.http!)
    }
    const after = await memory()
    const perSession = (bytes: number): string => f(bytes / sessionCount / KiB)
    console.log(
      `4. sessions: ${sessionCount} authenticated relay sessions, ${sessionBatch} at a time, from one child process`,
    )
    console.log(
      `  all online after ${(report.ms / 1000).toFixed(1)} s; /health clients: ${registered} of ${sessionCount}`,
    )
    console.log(
      `  relay RSS ${f(before.rss / MiB)} → ${f(after.rss / MiB)} MiB: ${perSession(after.rss - before.rss)} KiB per session ` +
        `(JS heap ${perSession(after.heapUsed - before.heapUsed)} KiB, external ${perSession(after.external - before.external)} KiB)`,
    )
    summary.push(`sessions registered = ${registered}/${sessionCount}`)
    summary.push(`relay RSS per session = ${perSession(after.rss - before.rss)} KiB`)
  } finally {
    await clients?.stop()
    await relay.stop()
  }
}

// ---- the run ----

async function main(): Promise<void> {
  /** Each step of the shutdown, newest first, each guarded. */
  const cleanups: (() => Promise<unknown>)[] = []
  const started = performance.now()
  try {
    if (wanted('throughput') || wanted('connect') || wanted('fairness')) {
      const [relayProcess, relay] = await startRelay()
      cleanups.unshift(() => relayProcess.stop())
      const peer = new NodeChild([entry('peer.ts')], { FERRY_BENCH_RELAY: JSON.stringify(relay) })
      cleanups.unshift(() => peer.stop())
      const peerAddresses = await peer.next<PeerAddresses>()
      const pages = await startPages()
      cleanups.unshift(() => pages.close())
      const browser = await chromium.launch({
        executablePath: requireChromium(),
        args: chromiumArgs,
      })
      cleanups.unshift(() => browser.close())
      // Two contexts: two endpoints, as two browsers would be (they share one network process).
      const [a, b] = await Promise.all([
        BenchPage.open(browser, pages.url, relay),
        BenchPage.open(browser, pages.url, relay),
      ])
      console.log(
        `ferry relay bench: Chromium ${browser.version()}, Node ${process.version}, loopback, ` +
          `relay = \`ferry relay --json\` (pid ${relayProcess.pid})`,
      )
      await a.open('relay', b.id, 'relay')
      await a.open('direct', peerAddresses.ticket, 'direct')
      if (wanted('throughput')) await throughput(a, relayProcess, peer)
      if (wanted('connect')) await connectTime(a, b, peerAddresses)
      if (wanted('fairness')) {
        console.log(
          `5. fairness: page → relay → page, echo round trip (fresh stream) and ${fairBytes / MiB} MiB, ` +
            `unloaded (just before) and while another client floods the relay`,
        )
        await fairness(a, relay, relayProcess, ['streams', 'bytes'], 'default relay')
        // The same byte flood on a relay whose operator set a per-client byte rate.
        const [limitedProcess, limited] = await startRelay(
          '--client-rate',
          limitedRate,
          '--client-burst',
          limitedBurst,
        )
        cleanups.unshift(() => limitedProcess.stop())
        const [c, d] = await Promise.all([
          BenchPage.open(browser, pages.url, limited),
          BenchPage.open(browser, pages.url, limited),
        ])
        await c.open('relay', d.id, 'relay')
        await fairness(
          c,
          limited,
          limitedProcess,
          ['bytes'],
          `--client-rate ${limitedRate} --client-burst ${limitedBurst}`,
        )
      }
      const errors = [...(await a.errors()), ...(await b.errors())]
      if (errors.length > 0) throw new Error(`the pages failed: ${errors.join('; ')}`)
    }
  } finally {
    for (const cleanup of cleanups) {
      await cleanup().catch((e: unknown) => console.error('cleanup failed:', e))
    }
  }
  // Last, with the browser gone: the relay's memory is measured with nothing else running.
  if (wanted('sessions')) await sessions()
  if (wanted('floor')) await floor()
  console.log()
  console.log(`summary (${((performance.now() - started) / 1000).toFixed(0)} s)`)
  for (const line of summary) console.log(`  ${line}`)
}

await main()
