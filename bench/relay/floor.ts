/**
 * The floor of `bench/relay.ts` (part 6): what the QUIC layer itself costs to forward a stream,
 * with none of WebTransport, HTTP/3, web streams, the relay protocol or encryption above it.
 * `FERRY_FLOOR_ROLE` picks the process's part:
 *
 * - `sink` accepts a connection and reads its stream 0 to the end, discarding it;
 * - `forward` accepts a connection and copies its stream 0 onto stream 0 of a connection to
 *   the sink at `FERRY_FLOOR_SINK` (a port), one chunk at a time, each written before the next
 *   is read — the least a relay can do;
 * - `source` writes `FERRY_BENCH_MIB` MiB (default 64) on stream 0 to `FERRY_FLOOR_TO`.
 *
 * `sink` and `forward` print `{"port"}` once listening, then, at the end of the stream, the
 * time and their CPU time per MiB from their first byte.
 */
import { clientConfig, serverConfig } from '../../packages/webtransport-node/src/quic/config.js'
import type { QuicConnection } from '../../packages/webtransport-node/src/quic/connection.js'
import { QuicEndpoint } from '../../packages/webtransport-node/src/quic/endpoint.js'
import { createCertificate } from '../../packages/webtransport-node/src/cert.js'

const MiB = 1024 * 1024
const stream = 0

/** What `sink` and `forward` print at the end: from their first byte to the stream's end. */
export interface FloorReport {
  ms: number
  cpuPerMiB: number
}

function cpuMs(): number {
  const usage = process.cpuUsage()
  return (usage.user + usage.system) / 1000
}

const ignore = { datagram: () => {}, closed: () => {} }

/** Listens on loopback; `onReadable` hears every pass in which the stream has data. */
async function listen(onReadable: (conn: QuicConnection) => void): Promise<QuicEndpoint> {
  const certificate = await createCertificate()
  const endpoint = await QuicEndpoint.bind({
    acceptConfig: () => serverConfig(certificate, {}),
    onConnection: (conn) => {
      conn.handler = { ...ignore, established: () => {}, streamReadable: () => onReadable(conn) }
    },
  })
  console.log(JSON.stringify({ port: endpoint.address.port }))
  return endpoint
}

async function dial(port: number): Promise<QuicConnection> {
  const endpoint = await QuicEndpoint.bind()
  const conn = endpoint.connect('localhost', { host: '127.0.0.1', port }, clientConfig(false, {}))
  await new Promise<void>((established) => {
    conn.handler = { ...ignore, established, streamReadable: () => {} }
  })
  return conn
}

/** Reports the time and CPU per MiB since `start`, and exits once the last packets are out. */
function finish(start: { at: number; cpu: number }, bytes: number): void {
  const report: FloorReport = {
    ms: performance.now() - start.at,
    cpuPerMiB: (cpuMs() - start.cpu) / (bytes / MiB),
  }
  console.log(JSON.stringify(report))
  setTimeout(() => process.exit(0), 500)
}

const role = process.env.FERRY_FLOOR_ROLE
let start: { at: number; cpu: number } | undefined
let bytes = 0
const now = (): { at: number; cpu: number } => ({ at: performance.now(), cpu: cpuMs() })
if (role === 'sink') {
  await listen((conn) => {
    start ??= now()
    for (let r = conn.readCopy(stream); r; r = conn.readCopy(stream)) {
      bytes += r[0].length
      if (r[1]) return finish(start, bytes)
    }
    conn.wantPass() // the read freed flow-control credit
  })
} else if (role === 'forward') {
  const out = await dial(Number(process.env.FERRY_FLOOR_SINK))
  let writing = false
  await listen((conn) => {
    start ??= now()
    if (writing) return
    const r = conn.readCopy(stream)
    if (!r) return
    const [chunk, fin] = r
    bytes += chunk.length
    writing = true
    void out.write(stream, chunk, fin).then(() => {
      writing = false
      if (fin) finish(start!, bytes)
      else conn.wantPass()
    })
  })
} else if (role === 'source') {
  const total = Number(process.env.FERRY_BENCH_MIB ?? 64) * MiB
  const conn = await dial(Number(process.env.FERRY_FLOOR_TO))
  const chunk = new Uint8Array(256 * 1024).fill(0xa5)
  for (let sent = 0; sent < total; sent += chunk.length) {
    await conn.write(stream, chunk, sent + chunk.length >= total)
  }
  // The sink reports the end; this process stays until its parent stops it (the last bytes
  // may still be in flight).
} else {
  throw new TypeError('FERRY_FLOOR_ROLE: sink | forward | source')
}
