import { describe, expect, it } from 'vitest'
import { DecodeError } from '../errors.js'
import { SecretKey } from '../identity.js'
import { concat } from '../internal/bytes.js'
import { encodeHeader, maxHeaderBytes } from './frames.js'
import { prepend, readStreamHeader } from './stream-header.js'

/** A readable that yields `chunks` one per pull, and records how many pulls it saw. */
function source(chunks: Uint8Array[]): {
  readable: ReadableStream<Uint8Array>
  pulls: () => number
} {
  let pulls = 0
  let next = 0
  const readable = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        pulls++
        const chunk = chunks[next++]
        if (chunk) controller.enqueue(chunk)
        else controller.close()
      },
    },
    { highWaterMark: 0 },
  )
  return { readable, pulls: () => pulls }
}

async function all(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  for await (const chunk of readable) parts.push(chunk)
  return concat(...parts)
}

const header = encodeHeader({ kind: 'stream', conn: 300 })
const body = Uint8Array.from({ length: 40 }, (_, i) => i)

describe('readStreamHeader', () => {
  it('reads a header split over chunks, and hands on the bytes after it in the same chunk', async () => {
    const wire = concat(header, body)
    const { readable } = source([
      wire.subarray(0, 1),
      wire.subarray(1, header.length + 5),
      wire.subarray(header.length + 5),
    ])
    const read = await readStreamHeader(readable)
    expect(read.header).toEqual({ kind: 'stream', conn: 300 })
    expect(await all(read.readable)).toEqual(body)
  })

  it('pulls nothing past the header until the rest is read', async () => {
    const { readable, pulls } = source([header, body.subarray(0, 10), body.subarray(10)])
    const read = await readStreamHeader(readable)
    const before = pulls()
    const reader = read.readable.getReader()
    expect(pulls()).toBe(before)
    expect((await reader.read()).value).toEqual(body.subarray(0, 10))
    expect(pulls()).toBe(before + 1)
  })

  it('fails with TRUNCATED when the stream ends inside the header, and cancels it', async () => {
    let cancelled: unknown
    const readable = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(header.subarray(0, 1))
        controller.close()
      },
      cancel(reason) {
        cancelled = reason
      },
    })
    const error = await readStreamHeader(readable).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DecodeError)
    expect((error as DecodeError).code).toBe('TRUNCATED')
    // A closed stream is not cancelled again; an open one is (next case).
    expect(cancelled).toBeUndefined()
  })

  it('fails with TOO_LARGE on a header that outgrows its limit, and cancels the stream with it', async () => {
    const peer = (await SecretKey.fromBytes(new Uint8Array(32).fill(1))).publicKey
    const start = encodeHeader({ kind: 'connect', conn: 1, peer, offer: ['x'] })
    // The offer now claims 16 ALPNs of 255 bytes: about 4 KiB, over maxHeaderBytes.
    const wire = concat(start.subarray(0, start.length - 3), Uint8Array.of(16, 255))
    const filler = new Uint8Array(64).fill(0x61)
    let cancelled: unknown
    let sent = 0
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(sent === 0 ? wire : filler)
        sent += sent === 0 ? wire.length : filler.length
      },
      cancel(reason) {
        cancelled = reason
      },
    })
    const error = await readStreamHeader(readable).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(DecodeError)
    expect((error as DecodeError).code).toBe('TOO_LARGE')
    expect(cancelled).toBe(error)
    // It stopped reading within one chunk of the limit.
    expect(sent).toBeLessThanOrEqual(maxHeaderBytes + filler.length)
  })

  it("passes the signal's reason on and cancels the stream", async () => {
    const abort = new AbortController()
    let cancelled: unknown
    const readable = new ReadableStream<Uint8Array>({
      cancel(reason) {
        cancelled = reason
      },
    })
    const reading = readStreamHeader(readable, abort.signal)
    const reason = new Error('gone')
    abort.abort(reason)
    await expect(reading).rejects.toBe(reason)
    expect(cancelled).toBe(reason)
  })
})

describe('prepend', () => {
  it("passes the reader's error on unchanged", async () => {
    const failure = Object.assign(new Error('reset'), { streamErrorCode: 7 })
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.error(failure)
      },
    })
    const joined = prepend(Uint8Array.of(1, 2), readable.getReader())
    const reader = joined.getReader()
    expect((await reader.read()).value).toEqual(Uint8Array.of(1, 2))
    await expect(reader.read()).rejects.toBe(failure)
  })

  it('cancels the reader when it is cancelled', async () => {
    let cancelled: unknown
    const readable = new ReadableStream<Uint8Array>({
      cancel(reason) {
        cancelled = reason
      },
    })
    await prepend(new Uint8Array(0), readable.getReader()).cancel('enough')
    expect(cancelled).toBe('enough')
  })
})
