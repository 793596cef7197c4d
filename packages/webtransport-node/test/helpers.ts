import { createHash } from 'node:crypto'
import { readText, writeText } from '@ferry/core/testing'
import { WebTransport, WebTransportServer, createCertificate, type Route } from '../src/index.js'
import type { Certificate } from '../src/cert.js'
import type { WebTransportBidirectionalStream } from '../src/index.js'

let shared: Certificate | undefined

/** One certificate for the whole test file: making one costs a key generation. */
export async function certificate(): Promise<Certificate> {
  shared ??= await createCertificate()
  return shared
}

/** A server on loopback with `routes`; close it with `await using` or `.close()`. */
export async function startServer(routes: Record<string, Route>): Promise<WebTransportServer> {
  const server = await WebTransportServer.listen({ certificate: await certificate() })
  for (const [path, route] of Object.entries(routes)) server.route(path, route)
  return server
}

/** A Node client to `path` on `server`, pinned to the test certificate. */
export async function dial(
  server: WebTransportServer,
  path: string,
  options: { protocols?: string[]; origin?: string } = {},
): Promise<WebTransport> {
  const cert = await certificate()
  return new WebTransport(`https://127.0.0.1:${server.port}${path}`, {
    serverCertificateHashes: [{ algorithm: 'sha-256', value: cert.hash }],
    ...options,
  })
}

/** Opens a bidi stream on `session`, sends `message`, closes, and returns what came back. */
export async function echoRoundTrip(
  session: { createBidirectionalStream(): Promise<WebTransportBidirectionalStream> },
  message: string,
): Promise<string> {
  const { readable, writable } = await session.createBidirectionalStream()
  await writeText(writable, message)
  return readText(readable)
}

/** Reads a byte stream to its end, hashing as it goes; returns `[bytes, sha256hex]`. */
export async function hashAll(readable: ReadableStream<Uint8Array>): Promise<[number, string]> {
  const h = createHash('sha256')
  let n = 0
  for await (const chunk of readable) {
    h.update(chunk)
    n += chunk.length
  }
  return [n, h.digest('hex')]
}

/** Writes `total` deterministic bytes (a counter pattern) in 64 KiB chunks; returns the hash. */
export async function writePattern(
  writable: WritableStream<Uint8Array>,
  total: number,
): Promise<string> {
  const h = createHash('sha256')
  const writer = writable.getWriter()
  const chunkBytes = 64 * 1024
  for (let o = 0; o < total; o += chunkBytes) {
    const chunk = new Uint8Array(Math.min(chunkBytes, total - o))
    for (let i = 0; i < chunk.length; i++) chunk[i] = (o + i) * 31 + ((o + i) >>> 11)
    h.update(chunk)
    await writer.write(chunk)
  }
  await writer.close()
  return h.digest('hex')
}

/** Echo every incoming bidi stream back on itself. */
export async function echoBidi(session: {
  incomingBidirectionalStreams: ReadableStream<{
    readable: ReadableStream<Uint8Array>
    writable: WritableStream<Uint8Array>
  }>
}): Promise<void> {
  for await (const s of session.incomingBidirectionalStreams) {
    s.readable.pipeTo(s.writable).catch(() => {})
  }
}

export const text = {
  encode: (s: string) => new TextEncoder().encode(s),
  decode: (b: Uint8Array) => new TextDecoder().decode(b),
}
