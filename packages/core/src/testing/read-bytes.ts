import { concatAll } from '../internal/bytes.js'

/**
 * Reads a byte stream to its end and returns every byte, in one new array. It reads with a
 * reader rather than `for await`, which not every browser has on `ReadableStream`.
 */
export async function readBytes(
  readable: ReadableStream<Uint8Array>,
): Promise<Uint8Array<ArrayBuffer>> {
  const reader = readable.getReader()
  const chunks: Uint8Array[] = []
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    chunks.push(value)
  }
  reader.releaseLock()
  return concatAll(chunks)
}
