/**
 * Transport benchmark: ferry's WebTransport server against a plain `ws` WebSocket server, both
 * driven by the same page in real Chromium on loopback, in one run, so the ratios hold even when
 * the machine's absolute speed drifts.
 *
 * Measures 64 MiB page→server ("up") and server→page ("down") on each transport, in interleaved
 * rounds, and the time to open a session / socket. Run it with `npx --yes pnpm@10 bench`.
 *
 * Knobs (environment): `FERRY_BENCH_MIB` (transfer size, default 64), `FERRY_BENCH_ROUNDS`
 * (default 5), `FERRY_BENCH_SESSIONS` (setup samples per transport, default 20), and
 * `FERRY_BENCH_ONLY` (comma-separated subset of `wt-up,wt-down,ws-up,ws-down,setup`, for
 * profiling one path).
 */

import { readFile } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { chromium, type Browser, type Page } from '@playwright/test'
import { WebSocketServer, type RawData, type WebSocket } from 'ws'
import { readText, writeText } from '@ferry/core/testing'
import {
  WebTransportServer,
  createCertificate,
  type WebTransportBidirectionalStream,
  type WebTransportSession,
} from '@ferry/webtransport-node'
import { chromiumArgs, requireChromium } from '../e2e/browsers.js'

const MiB = 1024 * 1024
const chunkBytes = 64 * 1024
/** Server → page WebSocket sends whose callback has not fired yet, at most. */
const wsSendWindow = 32

/** The functions `page.js` puts on `window.ferryBench`; each resolves to milliseconds. */
interface BenchPage {
  webTransportUp(bytes: number): Promise<number>
  webTransportDown(bytes: number): Promise<number>
  webSocketUp(bytes: number): Promise<number>
  webSocketDown(bytes: number): Promise<number>
  webTransportSetup(): Promise<number>
  webSocketSetup(): Promise<number>
}
type Measurement = keyof BenchPage

interface Transfer {
  key: string
  label: string
  run: Measurement
}

const transfers: Transfer[] = [
  { key: 'wt-up', label: 'WebTransport up', run: 'webTransportUp' },
  { key: 'ws-up', label: 'WebSocket up', run: 'webSocketUp' },
  { key: 'wt-down', label: 'WebTransport down', run: 'webTransportDown' },
  { key: 'ws-down', label: 'WebSocket down', run: 'webSocketDown' },
]

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
const rounds = positiveInt('FERRY_BENCH_ROUNDS', 5)
const sessions = positiveInt('FERRY_BENCH_SESSIONS', 20)
const only = process.env.FERRY_BENCH_ONLY?.split(',').map((s) => s.trim())
const wanted = (key: string): boolean => !only || only.includes(key)

/** Every payload byte comes from this one chunk; nothing writes to it after this line. */
const chunk = crypto.getRandomValues(new Uint8Array(chunkBytes))
const piece = (offset: number, total: number): Uint8Array =>
  offset + chunkBytes <= total ? chunk : chunk.subarray(0, total - offset)

/** Errors the servers hit; the run fails at the end if there are any. */
const serverErrors: unknown[] = []
const reportServerError = (e: unknown): void => void serverErrors.push(e)

// ---- WebTransport server ----

/** Counts what the page uploads on the stream and answers with the count. */
async function sink({ readable, writable }: WebTransportBidirectionalStream): Promise<void> {
  let bytes = 0
  for await (const received of readable) bytes += received.length
  await writeText(writable, String(bytes))
}

/** Reads the byte count the page asks for, then sends that many bytes. */
async function source(
  { readable, writable }: WebTransportBidirectionalStream,
  session: WebTransportSession,
): Promise<void> {
  const total = Number(await readText(readable))
  const before = await session.getStats()
  const writer = writable.getWriter()
  // Awaiting each write is the backpressure: it resolves once quiche has taken (copied) the
  // bytes, which is also what makes handing it the shared chunk again safe.
  for (let offset = 0; offset < total; offset += chunkBytes) {
    await writer.write(piece(offset, total))
  }
  await writer.close()
  const after = await session.getStats()
  if (total === transferBytes) {
    downLoss.push(
      (after.packetsLost - before.packetsLost) / (after.packetsSent - before.packetsSent),
    )
  }
}

/** Fraction of packets quiche declared lost in each full-size WebTransport download. */
const downLoss: number[] = []

function serveStreams(
  handle: (stream: WebTransportBidirectionalStream, session: WebTransportSession) => Promise<void>,
) {
  return (session: WebTransportSession): void => {
    void (async () => {
      for await (const stream of session.incomingBidirectionalStreams) {
        handle(stream, session).catch(reportServerError)
      }
    })().catch(reportServerError)
  }
}

// ---- WebSocket server ----

function rawLength(data: RawData): number {
  if (Array.isArray(data)) return data.reduce((sum, b) => sum + b.length, 0)
  return data instanceof ArrayBuffer ? data.byteLength : data.length
}

/** Sends `total` bytes in binary messages, holding at most `wsSendWindow` unflushed sends. */
async function sendBytes(ws: WebSocket, total: number): Promise<void> {
  let inFlight = 0
  let failure: Error | undefined
  let wake: (() => void) | undefined
  const flushed = (e?: Error): void => {
    inFlight--
    failure ??= e
    wake?.()
    wake = undefined
  }
  for (let offset = 0; offset < total; offset += chunkBytes) {
    while (inFlight >= wsSendWindow) await new Promise<void>((resolve) => (wake = resolve))
    if (failure) throw failure
    inFlight++
    ws.send(piece(offset, total), { binary: true }, flushed)
  }
}

/** `up N` then N binary bytes → answers the count; `down N` → sends N binary bytes. */
function serveWebSocket(ws: WebSocket): void {
  let expected = 0
  let received = 0
  ws.on('message', (data, isBinary) => {
    if (isBinary) {
      received += rawLength(data)
      if (received >= expected) ws.send(String(received))
      return
    }
    const [kind, count] = (data as Buffer).toString().split(' ')
    if (kind === 'up') {
      expected = Number(count)
      received = 0
    } else if (kind === 'down') {
      sendBytes(ws, Number(count)).catch(reportServerError)
    } else {
      reportServerError(new Error(`unknown WebSocket request ${kind}`))
    }
  })
  ws.on('error', reportServerError)
}

// ---- page server ----

const html =
  '<!doctype html><meta charset="utf-8"><title>ferry bench</title>' +
  '<body><script type="module" src="/page.js"></script></body>'

function listenPage(script: string, config: object): Promise<Server> {
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://localhost').pathname
    if (path === '/') res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(html)
    else if (path === '/page.js')
      res.writeHead(200, { 'content-type': 'text/javascript' }).end(script)
    else if (path === '/config.json')
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(config))
    else res.writeHead(404).end()
  })
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve(server))
  })
}

function closeHttp(server: Server): Promise<void> {
  server.closeAllConnections()
  return new Promise((resolve, reject) => server.close((e) => (e ? reject(e) : resolve())))
}

function closeWebSocketServer(wss: WebSocketServer): Promise<void> {
  for (const client of wss.clients) client.terminate()
  return new Promise((resolve, reject) => wss.close((e) => (e ? reject(e) : resolve())))
}

// ---- statistics and output ----

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2
}

const mibPerSecond = (ms: number): number => transferBytes / MiB / (ms / 1000)

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)))
  return rows
    .map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]!) : cell.padStart(widths[i]!))))
    .map((r) => r.join('  '))
    .join('\n')
}

// ---- the run ----

async function measure(page: Page, name: Measurement, bytes?: number): Promise<number> {
  return page.evaluate(
    ([name, bytes]) =>
      (window as unknown as { ferryBench: BenchPage }).ferryBench[name](bytes ?? 0),
    [name, bytes] as const,
  )
}

async function run(page: Page, browserVersion: string): Promise<void> {
  const active = transfers.filter((t) => wanted(t.key))
  const samples = new Map<string, number[]>(active.map((t) => [t.key, []]))
  const warmupBytes = Math.min(8 * MiB, transferBytes)
  for (const t of active) await measure(page, t.run, warmupBytes)
  for (let round = 0; round < rounds && active.length > 0; round++) {
    // Alternate which transport goes first within each direction, so neither always runs
    // right after the other's teardown.
    for (const direction of ['up', 'down']) {
      const pair = active.filter((t) => t.label.endsWith(direction))
      if (round % 2) pair.reverse()
      for (const t of pair)
        samples.get(t.key)!.push(mibPerSecond(await measure(page, t.run, transferBytes)))
    }
    process.stderr.write(`round ${round + 1}/${rounds} done\n`)
  }

  const setup = { wt: [] as number[], ws: [] as number[] }
  if (wanted('setup')) {
    await measure(page, 'webTransportSetup')
    await measure(page, 'webSocketSetup')
    for (let i = 0; i < sessions; i++) {
      setup.wt.push(await measure(page, 'webTransportSetup'))
      setup.ws.push(await measure(page, 'webSocketSetup'))
    }
  }

  const mib = transferBytes / MiB
  console.log(
    `ferry transport bench: ${mib} MiB per transfer, ${rounds} interleaved rounds ` +
      `(after one ${warmupBytes / MiB} MiB warm-up each), Chromium ${browserVersion}, ` +
      `Node ${process.version}, loopback`,
  )
  console.log()
  if (active.length > 0) {
    const header = [
      'throughput (MiB/s)',
      ...Array.from({ length: rounds }, (_, i) => `r${i + 1}`),
      'median',
    ]
    const rows = active.map((t) => {
      const s = samples.get(t.key)!
      return [t.label, ...s.map((v) => v.toFixed(1)), median(s).toFixed(1)]
    })
    console.log(table([header, ...rows]))
    if (downLoss.length > 0) {
      const pct = downLoss.map((l) => `${(l * 100).toFixed(2)}%`).join(' ')
      console.log(`WebTransport down: packets quiche counted lost, per round: ${pct}`)
    }
    console.log()
  }
  if (wanted('setup')) {
    const rows = [
      ['setup (ms, sequential)', 'min', 'median', 'max'],
      ...(
        [
          ['WebTransport new → ready', setup.wt],
          ['WebSocket new → open', setup.ws],
        ] as const
      ).map(([label, s]) => [
        label,
        Math.min(...s).toFixed(2),
        median(s).toFixed(2),
        Math.max(...s).toFixed(2),
      ]),
    ]
    console.log(table(rows))
    console.log(`(${sessions} of each, alternating; setup ratio is a time ratio: lower is better)`)
    console.log()
  }
  const ratio = (wt: string, ws: string): string | undefined => {
    const a = samples.get(wt)
    const b = samples.get(ws)
    return a && b ? (median(a) / median(b)).toFixed(2) : undefined
  }
  const up = ratio('wt-up', 'ws-up')
  const down = ratio('wt-down', 'ws-down')
  if (up) console.log(`ratio up WT/WS = ${up}`)
  if (down) console.log(`ratio down WT/WS = ${down}`)
  if (wanted('setup')) {
    console.log(`ratio setup WT/WS = ${(median(setup.wt) / median(setup.ws)).toFixed(2)}`)
  }
}

async function main(): Promise<void> {
  const certificate = await createCertificate()
  const cleanups: (() => Promise<void>)[] = []
  try {
    const wt = await WebTransportServer.listen({ host: '127.0.0.1', certificate })
    cleanups.unshift(() => wt.close())
    wt.route('/up', { session: serveStreams(sink) })
    wt.route('/down', { session: serveStreams(source) })
    wt.route('/setup', { session: () => {} })

    const wss = new WebSocketServer({ host: '127.0.0.1', port: 0, perMessageDeflate: false })
    cleanups.unshift(() => closeWebSocketServer(wss))
    await new Promise<void>((resolve, reject) => {
      wss.once('listening', resolve)
      wss.once('error', reject)
    })
    wss.on('connection', serveWebSocket)

    const script = await readFile(new URL('./page.js', import.meta.url), 'utf8')
    const http = await listenPage(script, {
      webTransportUrl: `https://127.0.0.1:${wt.port}`,
      webSocketUrl: `ws://127.0.0.1:${(wss.address() as AddressInfo).port}/`,
      certificateHash: certificate.hashHex,
    })
    cleanups.unshift(() => closeHttp(http))

    const browser: Browser = await chromium.launch({
      executablePath: requireChromium(),
      args: chromiumArgs,
    })
    cleanups.unshift(() => browser.close())
    const page = await browser.newPage()
    const pageErrors: Error[] = []
    page.on('pageerror', (e) => pageErrors.push(e))
    await page.goto(`http://127.0.0.1:${(http.address() as AddressInfo).port}/`)
    await page.waitForFunction(() => document.body.dataset.ready === 'true', undefined, {
      timeout: 10_000,
    })
    await run(page, browser.version())
    if (pageErrors.length > 0) throw new AggregateError(pageErrors, 'errors in the bench page')
    if (serverErrors.length > 0) throw new AggregateError(serverErrors, 'errors in the servers')
  } finally {
    // Browser first (no new clients), then the servers; each step runs even if one fails.
    for (const cleanup of cleanups) {
      await cleanup().catch((e: unknown) => console.error('cleanup failed:', e))
    }
  }
}

await main()
