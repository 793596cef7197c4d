/**
 * Helpers for testing code built on ferry (`@ferry/core/testing`): the seeded PRNG the fuzz
 * tests use, an in-process bidirectional stream pair whose chunks a test can rewrite, and text
 * in and out of streams.
 * The in-memory network itself (`MemoryNetwork`, `MemoryTransport`) is in the main entry.
 */
export { Prng } from './internal/prng.js'
export { bidiPair, END, type Tap } from './internal/pipe.js'

const encoder = new TextEncoder()

/** Reads a byte stream to its end as UTF-8 text. */
export async function readText(readable: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of readable) text += decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

/** Writes `text` as UTF-8 and closes the stream. */
export async function writeText(writable: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = writable.getWriter()
  await writer.write(encoder.encode(text))
  await writer.close()
}
