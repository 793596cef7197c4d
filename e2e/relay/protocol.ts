/**
 * `relay-e2e/1`, the protocol the relay tests speak: served alike by the pages (`page.ts`) and
 * by the Node endpoint of `main.ts`. It uses only the Connection API, web streams and
 * `crypto.subtle`, so the one module runs in browsers and in Node.
 *
 * The server answers each bidi stream that starts with `hash:` with the lowercase hex SHA-256
 * of the rest, and echoes any other bidi stream; reads each uni stream and sends `echo:` and its
 * text back on a uni stream of its own; and sends each datagram back with `echo:` in front.
 */
import type { BidiStream, Connection, ProtocolHandler } from '@ferry/core'
import { Prng, readText, writeText } from '@ferry/core/testing'
import type { HashResult, ServedConnection, StepsOptions, StepsResult } from './types.js'

/** The ALPN of this protocol. */
export const RELAY_E2E_ALPN = 'relay-e2e/1'

const encoder = new TextEncoder()
const decoder = new TextDecoder()
const hashPrefix = encoder.encode('hash:')
const echoPrefix = encoder.encode('echo:')

/** How often an unanswered datagram is sent again, and how many times at most. */
const datagramResendMs = 100
const datagramMaxSends = 100

/** Writes of the hashed transfer: big enough to keep the stream busy, small enough to pace. */
const transferChunkBytes = 256 * 1024

/** `ConnectionError`s mean the connection closed under a task: expected at the end, not news. */
function isClosedConnection(e: unknown): boolean {
  return e instanceof Error && e.name === 'ConnectionError'
}

function describe(e: unknown): string {
  return e instanceof Error ? `${e.name}: ${e.message}` : String(e)
}

function concat(parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function startsWith(bytes: Uint8Array, prefix: Uint8Array): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b)
}

/** Bytes from hex, as `ferry relay` prints certificate hashes. */
export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16))
}

/** Lowercase hex SHA-256 of `bytes`, from WebCrypto. */
export async function sha256Hex(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))
  return Array.from(digest, (b) => b.toString(16).padStart(2, '0')).join('')
}

/** `length` bytes from a PRNG seeded with `seed`: the same bytes on every run. */
export function seededBytes(length: number, seed: number): Uint8Array<ArrayBuffer> {
  const prng = new Prng(seed)
  const words = new Uint32Array(Math.ceil(length / 4))
  for (let i = 0; i < words.length; i++) words[i] = prng.u32()
  return new Uint8Array(words.buffer, 0, length)
}

/** Hashes a `hash:` stream, echoes any other. */
async function answerBidi(stream: BidiStream): Promise<void> {
  const reader = stream.readable.getReader()
  const head: Uint8Array[] = []
  let headBytes = 0
  let ended = false
  while (headBytes < hashPrefix.length) {
    const read = await reader.read()
    if (read.done) {
      ended = true
      break
    }
    head.push(read.value)
    headBytes += read.value.length
  }
  const first = concat(head)
  const writer = stream.writable.getWriter()
  if (startsWith(first, hashPrefix)) {
    // WebCrypto has no incremental digest: keep the chunks (each one the stream handed over,
    // so ours to keep) and hash them at the end.
    const chunks: Uint8Array[] = [first.subarray(hashPrefix.length)]
    for (;;) {
      const read = await reader.read()
      if (read.done) break
      chunks.push(read.value)
    }
    await writer.write(encoder.encode(await sha256Hex(concat(chunks))))
  } else {
    if (first.length > 0) await writer.write(first)
    while (!ended) {
      const read = await reader.read()
      if (read.done) break
      await writer.write(read.value)
    }
  }
  await writer.close()
}

/** Reads a uni stream and answers with `echo:` and its text on a new uni stream. */
async function answerUni(conn: Connection, readable: ReadableStream<Uint8Array>): Promise<void> {
  const text = await readText(readable)
  await writeText(await conn.openUni(), `echo:${text}`)
}

/**
 * Serves `relay-e2e/1` and keeps a record of each connection: who dialed, on which path, how
 * it closed, and whatever failed while serving it.
 */
export class RelayE2eProtocol implements ProtocolHandler {
  /** The connections accepted so far, oldest first. */
  readonly served: ServedConnection[] = []

  async accept(conn: Connection): Promise<void> {
    const record: ServedConnection = { peer: conn.remoteId.toString(), path: conn.path, errors: [] }
    this.served.push(record)
    const failed = (e: unknown): void => {
      if (!isClosedConnection(e)) record.errors.push(describe(e))
    }
    const bidi = (async () => {
      for await (const stream of conn.bidiStreams()) void answerBidi(stream).catch(failed)
    })()
    const uni = (async () => {
      for await (const readable of conn.uniStreams()) void answerUni(conn, readable).catch(failed)
    })()
    const datagrams = (async () => {
      for await (const datagram of conn.datagrams()) {
        void conn.sendDatagram(concat([echoPrefix, datagram])).catch(failed)
      }
    })()
    const { code, reason, remote, transport } = await conn.closed
    record.closed = transport ? { code, reason, remote, transport } : { code, reason, remote }
    await Promise.all([bidi, uni, datagrams]).catch(failed)
  }
}

async function askBidi(conn: Connection, text: string): Promise<string> {
  const stream = await conn.openBi()
  const [, answer] = await Promise.all([
    writeText(stream.writable, text),
    readText(stream.readable),
  ])
  return answer
}

async function askUni(conn: Connection, text: string): Promise<string> {
  // The only uni streams the dialer gets are the server's answers.
  const answer = conn.uniStreams().next()
  await writeText(await conn.openUni(), text)
  const next = await answer
  if (next.done) throw new Error('the connection closed before the uni answer came')
  return readText(next.value)
}

/** Sends `text` as a datagram, again every 100 ms, until the echo comes back. */
async function askDatagram(
  conn: Connection,
  text: string,
): Promise<{ echoed: string; sent: number }> {
  const answer = conn.datagrams().next()
  const payload = encoder.encode(text)
  for (let sent = 1; sent <= datagramMaxSends; sent++) {
    await conn.sendDatagram(payload)
    // A resend timer, not a wait for something to happen: datagrams may be lost.
    let wake!: () => void
    const resend = new Promise<undefined>((resolve) => (wake = () => resolve(undefined)))
    const timer = setTimeout(wake, datagramResendMs)
    const next = await Promise.race([answer, resend])
    clearTimeout(timer)
    if (next === undefined) continue
    if (next.done) throw new Error('the connection closed before a datagram echo came')
    return { echoed: decoder.decode(next.value), sent }
  }
  throw new Error(`no datagram echo after ${datagramMaxSends} datagrams`)
}

/** Sends `hash:` and `bytes` seeded bytes on a bidi stream; the peer answers their SHA-256. */
async function hashedTransfer(conn: Connection, bytes: number, seed: number): Promise<HashResult> {
  const data = seededBytes(bytes, seed)
  const expected = await sha256Hex(data)
  const started = performance.now()
  const stream = await conn.openBi()
  const send = async (): Promise<void> => {
    const writer = stream.writable.getWriter()
    // Every write is awaited below: a failed one fails the transfer.
    const writes = [writer.write(hashPrefix)]
    for (let at = 0; at < data.length; at += transferChunkBytes) {
      await writer.ready
      writes.push(writer.write(data.subarray(at, at + transferChunkBytes)))
    }
    writes.push(writer.close())
    await Promise.all(writes)
  }
  const [, got] = await Promise.all([send(), readText(stream.readable)])
  return { bytes, expected, got, ms: Math.round(performance.now() - started) }
}

/**
 * The dialer's side: a bidi echo, a uni echo, a datagram echo (resent until one comes back)
 * and, with `hashBytes`, a hashed transfer of that many seeded bytes. Does not close.
 */
export async function runSteps(conn: Connection, options: StepsOptions): Promise<StepsResult> {
  const bidi = await askBidi(conn, `bidi ${options.text}`)
  const uni = await askUni(conn, `uni ${options.text}`)
  const datagram = await askDatagram(conn, `datagram ${options.text}`)
  const hash =
    options.hashBytes > 0 ? await hashedTransfer(conn, options.hashBytes, options.seed) : undefined
  return {
    remoteId: conn.remoteId.toString(),
    path: conn.path,
    alpn: conn.alpn,
    bidi,
    uni,
    datagram: datagram.echoed,
    datagramsSent: datagram.sent,
    hash,
  }
}
