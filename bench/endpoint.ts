/**
 * Endpoint benchmark, Node ↔ Node over real UDP on loopback, client and server in two processes
 * (as on two machines), in one run against the bare
 * transport underneath, so the ratios hold when the machine's absolute speed drifts:
 *
 * - connect-to-first-echo: a fresh ferry connection (session + authenticated handshake) and
 *   one echoed byte on a bidi stream, against a fresh bare WebTransport session doing the same;
 * - 64 MiB up and down on one stream: ferry direct (TLS bound to the identity, no second
 *   encryption) and ferry encrypted end to end, each as a ratio to the bare session.
 *
 * Run it with `npx --yes pnpm@10 bench:endpoint`. Knobs (environment): `FERRY_BENCH_MIB`
 * (default 64), `FERRY_BENCH_ROUNDS` (default 5), `FERRY_BENCH_CONNECTS` (default 40).
 */
import { type BidiStream, type Connection, EndpointTicket, Router } from '@ferry/core'
import { Endpoint } from '@ferry/node'
import { createCertificate, WebTransport, WebTransportServer } from '@ferry/webtransport-node'
import { fromHex } from '@ferry/wire'
import { startChild } from '../e2e/processes.js'

const MiB = 1024 * 1024
const chunkBytes = 64 * 1024
const benchAlpn = 'ferry-bench/1'
const op = { echo: 0x65, up: 0x75, down: 0x64 } as const

function positiveInt(name: string, fallback: number): number {
  const raw = process.env[name]
  if (raw === undefined || raw === '') return fallback
  const value = Number(raw)
  if (!Number.isInteger(value) || value <= 0) throw new RangeError(`${name} must be > 0`)
  return value
}

/**
 * The server side of every measurement, on any bidi stream: the first byte says what to do.
 * `e`: echo the stream. `u`: read to the end, answer the byte count (8 bytes). `d` + u32 n:
 * write n bytes and close.
 */
async function serveStream(stream: BidiStream): Promise<void> {
  const reader = stream.readable.getReader()
  const writer = stream.writable.getWriter()
  let head: Uint8Array = new Uint8Array(0)
  while (head.length < 1) {
    const { value, done } = await reader.read()
    if (done) return
    head = value
  }
  if (head[0] === op.echo) {
    await writer.write(head.slice(1))
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      await writer.write(value)
    }
    await writer.close()
  } else if (head[0] === op.up) {
    let count = head.length - 1
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      count += value.length
    }
    const answer = new Uint8Array(8)
    new DataView(answer.buffer).setBigUint64(0, BigInt(count))
    await writer.write(answer)
    await writer.close()
  } else if (head[0] === op.down) {
    while (head.length < 5) {
      const { value, done } = await reader.read()
      if (done) return
      const joined = new Uint8Array(head.length + value.length)
      joined.set(head)
      joined.set(value, head.length)
      head = joined
    }
    const total = new DataView(head.buffer, head.byteOffset).getUint32(1)
    const chunk = new Uint8Array(chunkBytes).fill(0x5a)
    for (let sent = 0; sent < total; sent += chunkBytes) {
      await writer.write(chunk.subarray(0, Math.min(chunkBytes, total - sent)))
    }
    await writer.close()
  }
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<number> {
  let n = 0
  for await (const chunk of readable) n += chunk.length
  return n
}

async function echoOnce(stream: BidiStream): Promise<void> {
  const writer = stream.writable.getWriter()
  await writer.write(Uint8Array.of(op.echo, 0x2a))
  await writer.close()
  const n = await readAll(stream.readable)
  if (n !== 1) throw new Error(`echo returned ${n} bytes`)
}

async function upload(stream: BidiStream, bytes: number): Promise<number> {
  const start = performance.now()
  const writer = stream.writable.getWriter()
  const chunk = new Uint8Array(chunkBytes).fill(0xa5)
  await writer.write(Uint8Array.of(op.up))
  for (let sent = 0; sent < bytes; sent += chunkBytes) {
    await writer.ready
    void writer.write(chunk.subarray(0, Math.min(chunkBytes, bytes - sent)))
  }
  await writer.close()
  const reader = stream.readable.getReader()
  const { value } = await reader.read()
  const count = value ? Number(new DataView(value.buffer, value.byteOffset).getBigUint64(0)) : -1
  const ms = performance.now() - start
  if (count !== bytes) throw new Error(`server counted ${count} of ${bytes} bytes`)
  return ms
}

async function download(stream: BidiStream, bytes: number): Promise<number> {
  const start = performance.now()
  const request = new Uint8Array(5)
  request[0] = op.down
  new DataView(request.buffer).setUint32(1, bytes)
  const writer = stream.writable.getWriter()
  await writer.write(request)
  await writer.close()
  const n = await readAll(stream.readable)
  const ms = performance.now() - start
  if (n !== bytes) throw new Error(`received ${n} of ${bytes} bytes`)
  return ms
}

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b)
  const mid = s.length >> 1
  return s.length % 2 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2
}

/** The server half, in its own process as it would be on its own machine: prints its addresses. */
async function serve(): Promise<void> {
  // The bare baseline: a WebTransport server whose sessions serve the same stream protocol.
  const certificate = await createCertificate()
  const bare = await WebTransportServer.listen({ certificate })
  bare.route('/bench', {
    session: (session) => {
      void (async () => {
        for await (const s of session.incomingBidirectionalStreams) void serveStream(s)
      })().catch(() => {})
    },
  })
  const server = await Endpoint.create({ listen: { port: 0 } })
  const router = Router.builder(server)
    .accept(benchAlpn, {
      async accept(conn: Connection) {
        for await (const s of conn.bidiStreams()) void serveStream(s).catch(() => {})
      },
    })
    .spawn()
  const addresses: ServerAddresses = {
    bareUrl: `https://127.0.0.1:${bare.port}/bench`,
    bareHash: certificate.hashHex,
    ticket: server.ticket().toString(),
  }
  console.log(JSON.stringify(addresses))
  await new Promise<void>((resolve) => process.once('SIGTERM', resolve))
  await router.shutdown()
  await bare.close()
}

/** What the server half prints. */
interface ServerAddresses {
  bareUrl: string
  bareHash: string
  ticket: string
}

async function main(): Promise<void> {
  const bytes = positiveInt('FERRY_BENCH_MIB', 64) * MiB
  const rounds = positiveInt('FERRY_BENCH_ROUNDS', 5)
  const connects = positiveInt('FERRY_BENCH_CONNECTS', 40)

  const [child, addresses] = await startChild(
    'bench/endpoint.ts',
    { FERRY_BENCH_ROLE: 'server' },
    (line) => (line.startsWith('{') ? (JSON.parse(line) as ServerAddresses) : undefined),
  )
  const bareHash = fromHex(addresses.bareHash)
  const bareSession = (): WebTransport =>
    new WebTransport(addresses.bareUrl, {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: bareHash }],
    })
  const client = await Endpoint.create()
  const ticket = EndpointTicket.parse(addresses.ticket)

  // Connect-to-first-echo, interleaved.
  const times = { bare: [] as number[], ferry: [] as number[] }
  for (let i = 0; i < connects; i++) {
    let start = performance.now()
    const wt = bareSession()
    await wt.ready
    await echoOnce(await wt.createBidirectionalStream())
    times.bare.push(performance.now() - start)
    wt.close()
    start = performance.now()
    const conn = await client.connect(ticket, benchAlpn)
    await echoOnce(await conn.openBi())
    times.ferry.push(performance.now() - start)
    conn.close()
  }
  // One application round trip: a 1-byte echo on a fresh stream of an open session.
  const rttSession = bareSession()
  await rttSession.ready
  const roundTrips: number[] = []
  for (let i = 0; i < 20; i++) {
    const start = performance.now()
    await echoOnce(await rttSession.createBidirectionalStream())
    roundTrips.push(performance.now() - start)
  }
  const rtt = median(roundTrips)
  rttSession.close()

  // Throughput, interleaved: one session / connection per path, a fresh stream per transfer.
  const wt = bareSession()
  await wt.ready
  const direct = await client.connect(ticket, benchAlpn)
  const encrypted = await client.connect(ticket, benchAlpn, { encrypt: true })
  if (direct.encrypted || !encrypted.encrypted) throw new Error('the paths are not as labelled')
  const paths: [string, () => Promise<BidiStream>][] = [
    ['bare', () => wt.createBidirectionalStream()],
    ['direct', () => direct.openBi()],
    ['encrypted', () => encrypted.openBi()],
  ]
  const up: Record<string, number[]> = { bare: [], direct: [], encrypted: [] }
  const down: Record<string, number[]> = { bare: [], direct: [], encrypted: [] }
  for (let r = 0; r < rounds; r++) {
    for (const [name, open] of paths) up[name]!.push(await upload(await open(), bytes))
    for (const [name, open] of paths) down[name]!.push(await download(await open(), bytes))
  }
  wt.close()
  direct.close()
  encrypted.close()
  await client.close()
  await child.stop()

  const mibs = (ms: number[]): number => bytes / MiB / (median(ms) / 1000)
  const f = (x: number): string => x.toFixed(2)
  const bareMs = median(times.bare)
  const ferryMs = median(times.ferry)
  console.log(`connect-to-first-echo, median of ${connects} (Node ↔ Node, two processes, loopback)`)
  console.log(`  bare WebTransport session   ${f(bareMs)} ms`)
  console.log(`  ferry direct connection     ${f(ferryMs)} ms`)
  console.log(`  ratio ferry/bare            ${f(ferryMs / bareMs)}`)
  console.log(
    `  extra                       ${f(ferryMs - bareMs)} ms = ${f((ferryMs - bareMs) / rtt)} × an echo round trip on an open session (${f(rtt)} ms); on loopback it is handshake CPU`,
  )
  console.log(`throughput, ${bytes / MiB} MiB on one stream, median of ${rounds}`)
  for (const [label, table] of [
    ['up  ', up],
    ['down', down],
  ] as const) {
    const base = mibs(table.bare!)
    const d = mibs(table.direct!)
    const e = mibs(table.encrypted!)
    console.log(
      `  ${label} bare ${f(base)} MiB/s · direct ${f(d)} (${f(d / base)}×) · encrypted ${f(e)} (${f(e / base)}×)`,
    )
  }
}

const run = process.env.FERRY_BENCH_ROLE === 'server' ? serve : main
run().catch((e: unknown) => {
  console.error(e)
  process.exit(1)
})
