/**
 * `@ferry/core/testing`: for tests of code built on ferry, not for applications. An endpoint
 * on any transport, the in-memory network with its seeded scheduler (reorders, splits and
 * drops, so failures replay), the seeded PRNG the fuzz tests use, an in-process stream pair
 * whose chunks a test can rewrite, text in and out of streams, and the acceptance suite that
 * every `Session` implementation passes (`sessionChecks`, run against a `SessionResponder`).
 * @module @ferry/core/testing
 */

export { TestEndpoint, type TestEndpointOptions } from './testing/endpoint.js'
export { readBytes } from './testing/read-bytes.js'
export { MemoryNetwork } from './memory/network.js'
export type { MemoryListener, MemoryNetworkOptions } from './memory/network.js'
export { MemoryTransport } from './memory/transport.js'
export { MemoryTransportError } from './memory/transport-error.js'
export { Prng } from './internal/prng.js'
export { bidiPair, END, type Tap } from './internal/pipe.js'
export {
  SessionResponder,
  runSessionCheck,
  sessionChecks,
  type SessionCheck,
  type SessionCheckContext,
} from './testing/session-suite.js'

const encoder = new TextEncoder()

/**
 * The next item of `items` (e.g. `conn.bidiStreams()`, `endpoint.incoming()`).
 * @throws {Error} when the iteration ends first.
 */
export async function next<T>(items: AsyncIterator<T> | AsyncIterable<T>): Promise<T> {
  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : items
  const result = await iterator.next()
  if (result.done) throw new Error('the iteration ended before an item')
  return result.value
}

/** Reads a byte stream to its end as UTF-8 text. */
export async function readText(readable: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of readable) text += decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

/** Writes `text` as UTF-8 and closes the stream. */
export async function writeText(writable: WritableStream<Uint8Array>, text: string): Promise<void> {
  await writeBytes(writable, encoder.encode(text))
}

/** Writes `bytes` in one write and closes the stream. */
export async function writeBytes(
  writable: WritableStream<Uint8Array>,
  bytes: Uint8Array,
): Promise<void> {
  const writer = writable.getWriter()
  await writer.write(bytes)
  await writer.close()
}
