/**
 * Helpers shared by the in-memory network's tests: a connected pair of sessions, an echo
 * server, seeded chunked writes, and UTF-8 text helpers.
 */
import type { Prng } from '../internal/prng.js'
import type { Session, SessionStats } from '../session.js'
import { MemoryNetwork, type MemoryNetworkOptions } from './network.js'

/** `s` as UTF-8 bytes. */
export const text = (s: string): Uint8Array => new TextEncoder().encode(s)
/** `b` decoded as UTF-8. */
export const str = (b: Uint8Array): string => new TextDecoder().decode(b)

/** Writes `data` in chunks of seeded random sizes, then closes. */
export async function writeChunked(
  writable: WritableStream<Uint8Array>,
  data: Uint8Array,
  prng: Prng,
): Promise<void> {
  const writer = writable.getWriter()
  let offset = 0
  while (offset < data.length) {
    const n = Math.min(data.length - offset, 1 + prng.int(9000))
    await writer.write(data.subarray(offset, offset + n))
    offset += n
  }
  await writer.close()
}

/** `getStats()` is optional in {@link Session}; memory sessions have it. */
export function statsOf(session: Session): Promise<SessionStats> {
  if (!session.getStats) throw new Error('session without getStats')
  return session.getStats()
}

/** The next value of `readable`, releasing the reader afterwards. */
export async function nextValue<T>(readable: ReadableStream<T>): Promise<T> {
  const reader = readable.getReader()
  const { value, done } = await reader.read()
  reader.releaseLock()
  if (done) throw new Error('stream ended')
  return value
}

/** Echoes every incoming bidirectional stream of `session` back to its sender. */
export function echo(session: Session): void {
  void (async () => {
    for await (const stream of session.incomingBidirectionalStreams) {
      void stream.readable.pipeTo(stream.writable).catch(() => {})
    }
  })().catch(() => {})
}

/** A network with one listener and one established session. */
export async function connect(options: MemoryNetworkOptions = {}, offer: string[] = []) {
  const network = new MemoryNetwork(options)
  const servers: Session[] = []
  const url = network.listen({ choose: (o) => o[0], session: (s) => servers.push(s) })
  const client = await network.dial(url, offer)
  await client.ready
  const server = servers[0]!
  await server.ready
  return { network, url, client, server }
}
