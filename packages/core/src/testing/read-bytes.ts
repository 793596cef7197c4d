/**
 * Reads a byte stream to its end and returns every byte, in one new array. It reads with a
 * reader rather than `for await`, which not every browser has on `ReadableStream`.
 */
export async function readBytes(
  readable: ReadableStream<Uint8Array>,
): Promise<Uint8Array<ArrayBuffer>> {
  const reader = readable.getReader()
  const chunks: Uint8Array[] = []
  let length = 0
  for (;;) {
    const { value, done } = await reader.read()
    if (done) break
    chunks.push(value)
    length += value.length
  }
  reader.releaseLock()
  // Not `concat(...chunks)`: a stream of many small chunks would overflow the call stack.
  const bytes = new Uint8Array(length)
  let offset = 0
  for (const chunk of chunks) {
    bytes.set(chunk, offset)
    offset += chunk.length
  }
  return bytes
}
