/**
 * `bench-relay/1`, the protocol of `bench/relay.ts`: served alike by the bench pages
 * (`page.ts`), the Node peers (`peer.ts`) and the flooding client (`flood.ts`). It uses only the
 * Connection API and web streams, so the one module runs in browsers and in Node.
 *
 * The first byte of each bidi stream says what the server does with it: `e` echoes the rest of
 * the stream; `c` reads to the end and answers the byte count after the `c` as 8 bytes (a
 * big-endian u64). Counting, not hashing: the transfers measure moving bytes, nothing else.
 */
import type { BidiStream, Connection, ProtocolHandler } from '@ferry/core'

/** The ALPN of this protocol. */
export const BENCH_RELAY_ALPN = 'bench-relay/1'

const op = { echo: 0x65, count: 0x63 } as const

/** Writes of a transfer: big enough to keep the stream busy, small enough to pace. */
export const transferChunkBytes = 256 * 1024

/** Every transfer's payload comes from this chunk; nothing writes to it after this line. */
const payload = new Uint8Array(transferChunkBytes).fill(0xa5)

/** Bytes counted on `c` streams by every {@link BenchRelayProtocol} of this realm. */
export const received = { bytes: 0 }

/** Bytes from hex, as `ferry relay` prints certificate hashes. */
export function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (h) => parseInt(h, 16))
}

/** `ConnectionError`s mean the connection closed under a task: expected at the end. */
function isClosedConnection(e: unknown): boolean {
  return e instanceof Error && e.name === 'ConnectionError'
}

async function answer(stream: BidiStream): Promise<void> {
  const reader = stream.readable.getReader()
  const writer = stream.writable.getWriter()
  let first = await reader.read()
  while (!first.done && first.value.length === 0) first = await reader.read()
  if (first.done) {
    await writer.close()
    return
  }
  const head = first.value
  if (head[0] === op.count) {
    let count = head.length - 1
    received.bytes += count
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      count += value.length
      received.bytes += value.length
    }
    const answer = new Uint8Array(8)
    new DataView(answer.buffer).setBigUint64(0, BigInt(count))
    await writer.write(answer)
  } else {
    // The chunk is the stream's to hand over, so the write may keep it.
    if (head.length > 1) await writer.write(head.subarray(1))
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      await writer.write(value)
    }
  }
  await writer.close()
}

/** Serves `bench-relay/1`; reports failures other than the connection closing to `onError`. */
export class BenchRelayProtocol implements ProtocolHandler {
  constructor(private readonly onError: (e: unknown) => void = () => {}) {}

  async accept(conn: Connection): Promise<void> {
    const failed = (e: unknown): void => {
      if (!isClosedConnection(e)) this.onError(e)
    }
    for await (const stream of conn.bidiStreams()) void answer(stream).catch(failed)
  }
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of readable) parts.push(chunk)
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0))
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

/** One echoed byte on a fresh bidi stream of `conn`. */
export async function echoOnce(conn: Connection): Promise<void> {
  const stream = await conn.openBi()
  const writer = stream.writable.getWriter()
  await writer.write(Uint8Array.of(op.echo, 0x2a))
  await writer.close()
  const back = await readAll(stream.readable)
  if (back.length !== 1 || back[0] !== 0x2a) throw new Error(`echo returned ${back.length} bytes`)
}

/**
 * Sends `bytes` on a fresh bidi stream of `conn` for the peer to count, and waits for its
 * count; with `signal`, stops early (ends the stream) when it aborts. Resolves with the bytes
 * the peer counted.
 * @throws {Error} when the peer counted other than what was sent.
 */
export async function sendCounted(
  conn: Connection,
  bytes: number,
  signal?: AbortSignal,
): Promise<number> {
  const stream = await conn.openBi()
  const writer = stream.writable.getWriter()
  const writes = [writer.write(Uint8Array.of(op.count))]
  let sent = 0
  while (sent < bytes && !signal?.aborted) {
    await writer.ready
    const n = Math.min(transferChunkBytes, bytes - sent)
    writes.push(writer.write(n === transferChunkBytes ? payload : payload.subarray(0, n)))
    sent += n
  }
  writes.push(writer.close())
  // Every write is awaited here: a failed one fails the transfer.
  const [, answer] = await Promise.all([Promise.all(writes), readAll(stream.readable)])
  const count = answer.length === 8 ? Number(new DataView(answer.buffer).getBigUint64(0)) : -1
  if (count !== sent) throw new Error(`the peer counted ${count} of ${sent} bytes`)
  return count
}
