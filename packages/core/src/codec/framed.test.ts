import { describe, expect, it } from 'vitest'
import { DecodeError } from '../errors.js'
import { concat, fromHex, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { FramedReader, FramedWriter, framed } from './framed.js'
import { ByteWriter } from './varint.js'

/** A pull-driven stream over `chunks` that records how many it handed out and why it was cancelled. */
function source(chunks: Uint8Array[]) {
  const state = { pulls: 0, cancelled: false, reason: undefined as unknown }
  const readable = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const chunk = chunks[state.pulls]
        if (chunk === undefined) {
          controller.close()
          return
        }
        state.pulls++
        controller.enqueue(chunk)
      },
      cancel(reason) {
        state.cancelled = true
        state.reason = reason
      },
    },
    { highWaterMark: 0 },
  )
  return { readable, state }
}

/** `bytes` cut at seeded random places: many 0- and 1-byte chunks, some long ones. */
function split(bytes: Uint8Array, prng: Prng): Uint8Array[] {
  const chunks: Uint8Array[] = []
  let offset = 0
  while (offset < bytes.length) {
    const size = prng.int(4) === 0 ? prng.int(200) : prng.int(3)
    chunks.push(bytes.slice(offset, offset + size))
    offset += size
  }
  return chunks
}

function frame(...messages: Uint8Array[]): Uint8Array {
  const writer = new ByteWriter()
  for (const message of messages) writer.lengthPrefixed(message)
  return writer.finish()
}

async function readAll(reader: FramedReader): Promise<Uint8Array[]> {
  const messages: Uint8Array[] = []
  for await (const message of reader) messages.push(message)
  return messages
}

async function rejection(promise: Promise<unknown>): Promise<DecodeError> {
  const error: unknown = await promise.then(
    () => new Error('expected a rejection'),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DecodeError)
  return error as DecodeError
}

/**
 * Resolves once every microtask queued so far, and every one those queue, has run: the stream
 * machinery is all promises, so anything that could happen without outside input has happened.
 * It waits for no amount of time.
 */
function drainMicrotasks(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

const limits = { maxMessageBytes: 1000 }

describe('FramedReader', () => {
  it('round trips seeded messages through seeded random chunking', async () => {
    const prng = new Prng(0xf4a3ed)
    for (let round = 0; round < 60; round++) {
      const messages = Array.from({ length: prng.int(20) }, () =>
        prng.bytes(prng.int(8) === 0 ? prng.int(1000) : prng.int(70)),
      )
      const { readable } = source(split(frame(...messages), prng))
      const received = await readAll(new FramedReader(readable, limits))
      expect(received.map(toHex)).toEqual(messages.map(toHex))
    }
  })

  it('reads 1-byte chunks, a length split across chunks and many messages in one chunk', async () => {
    const messages = [new Uint8Array(300).fill(7), Uint8Array.of(1), new Uint8Array(0)]
    const bytes = frame(...messages)
    expect(toHex(bytes.subarray(0, 2))).toBe('412c')

    const oneByte = source(Array.from(bytes, (b) => Uint8Array.of(b)))
    const received = await readAll(new FramedReader(oneByte.readable, limits))
    expect(received.map(toHex)).toEqual(messages.map(toHex))

    const splitLength = source([bytes.subarray(0, 1), bytes.subarray(1)])
    expect((await readAll(new FramedReader(splitLength.readable, limits))).map(toHex)).toEqual(
      messages.map(toHex),
    )

    const oneChunk = source([bytes])
    const reader = new FramedReader(oneChunk.readable, limits)
    expect(toHex((await reader.read())!)).toBe(toHex(messages[0]!))
    expect([...(await reader.read())!]).toEqual([1])
    expect((await reader.read())!.length).toBe(0)
    expect(await reader.read()).toBeUndefined()
    expect(await reader.read()).toBeUndefined()
    expect(oneChunk.state.pulls).toBe(1)
  })

  it('returns a view for a message inside one chunk and a copy for one across chunks', async () => {
    const bytes = frame(Uint8Array.of(1, 2, 3), Uint8Array.of(4, 5, 6))
    const { readable } = source([bytes.subarray(0, 6), bytes.subarray(6)])
    const reader = new FramedReader(readable, limits)
    const inside = (await reader.read())!
    const across = (await reader.read())!
    expect(inside.buffer).toBe(bytes.buffer)
    expect(across.buffer).not.toBe(bytes.buffer)
    expect([...inside, ...across]).toEqual([1, 2, 3, 4, 5, 6])
  })

  it('resolves undefined for an empty stream and at a clean end', async () => {
    expect(await new FramedReader(source([]).readable, limits).read()).toBeUndefined()
    const reader = new FramedReader(source([frame(Uint8Array.of(9))]).readable, limits)
    expect(await readAll(reader)).toHaveLength(1)
  })

  it('reports a stream that ends inside a length or a message as TRUNCATED, for every later read too', async () => {
    const bytes = frame(new Uint8Array(100).fill(1))
    for (const cut of [1, 2, 50, bytes.length - 1]) {
      const reader = new FramedReader(source([bytes.subarray(0, cut)]).readable, limits)
      const error = await rejection(reader.read())
      expect(error.code, String(cut)).toBe('TRUNCATED')
      expect(await rejection(reader.read())).toBe(error)
    }
    const afterMessage = new FramedReader(
      source([frame(Uint8Array.of(1)), fromHex('80')]).readable,
      limits,
    )
    expect([...(await afterMessage.read())!]).toEqual([1])
    expect((await rejection(afterMessage.read())).code).toBe('TRUNCATED')
  })

  it('refuses a length above maxMessageBytes before pulling the body, and cancels the stream', async () => {
    const prefix = fromHex('43e9') // 1001
    const { readable, state } = source([prefix, new Uint8Array(1001), frame(Uint8Array.of(1))])
    const reader = new FramedReader(readable, limits)
    const error = await rejection(reader.read())
    expect(error.code).toBe('TOO_LARGE')
    expect(state.pulls).toBe(1)
    expect(state.cancelled).toBe(true)
    expect(state.reason).toBe(error)
    expect(await rejection(reader.read())).toBe(error)

    const exact = source([frame(new Uint8Array(1000))])
    expect((await new FramedReader(exact.readable, limits).read())!.length).toBe(1000)
  })

  it('refuses a length prefix that is not in shortest form, and cancels the stream', async () => {
    const { readable, state } = source([fromHex('4001 ff')])
    const error = await rejection(new FramedReader(readable, limits).read())
    expect(error.code).toBe('NON_CANONICAL')
    expect(state.reason).toBe(error)
  })

  it('passes on the error of a stream that errors', async () => {
    const failure = new Error('reset by peer')
    let pulls = 0
    const readable = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (pulls++ === 0) controller.enqueue(fromHex('05 0102'))
        else controller.error(failure)
      },
    })
    const reader = new FramedReader(readable, limits)
    await expect(reader.read()).rejects.toBe(failure)
    await expect(reader.read()).rejects.toBe(failure)
  })

  it('gives only DecodeError for seeded garbage, and always finishes', async () => {
    const prng = new Prng(0x6a7ba6e)
    let messages = 0
    for (let round = 0; round < 300; round++) {
      const bytes = prng.bytes(prng.int(300))
      const reader = new FramedReader(source(split(bytes, prng)).readable, { maxMessageBytes: 64 })
      try {
        while ((await reader.read()) !== undefined) messages++
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
      }
    }
    expect(messages).toBeGreaterThan(0)
  })

  it('runs concurrent reads one at a time, in call order', async () => {
    const messages = [Uint8Array.of(1), Uint8Array.of(2, 2), Uint8Array.of(3, 3, 3)]
    const bytes = frame(...messages)
    const reader = new FramedReader(
      source(Array.from(bytes, (b) => Uint8Array.of(b))).readable,
      limits,
    )
    const reads = await Promise.all([reader.read(), reader.read(), reader.read(), reader.read()])
    expect(reads.map((m) => (m ? toHex(m) : m))).toEqual([...messages.map(toHex), undefined])
  })

  it('cancels the stream when a for-await loop leaves early', async () => {
    const { readable, state } = source([frame(Uint8Array.of(1), Uint8Array.of(2))])
    const reader = new FramedReader(readable, limits)
    for await (const message of reader) {
      expect([...message]).toEqual([1])
      break
    }
    expect(state.cancelled).toBe(true)
    expect(await reader.read()).toBeUndefined()
  })

  it('cancel(reason) reaches the source; later reads resolve undefined', async () => {
    const { readable, state } = source([fromHex('05 01')])
    const reader = new FramedReader(readable, limits)
    await reader.cancel('done')
    expect(state.reason).toBe('done')
    expect(await reader.read()).toBeUndefined()
  })

  it('releaseLock() unlocks the stream; later reads reject with TypeError', async () => {
    const { readable } = source([frame(Uint8Array.of(1))])
    const reader = new FramedReader(readable, limits)
    expect(readable.locked).toBe(true)
    reader.releaseLock()
    expect(readable.locked).toBe(false)
    await expect(reader.read()).rejects.toBeInstanceOf(TypeError)
  })

  it('rejects bad options and locked streams', () => {
    expect(() => new FramedReader(source([]).readable, { maxMessageBytes: -1 })).toThrow(RangeError)
    const { readable } = source([])
    readable.getReader()
    expect(() => new FramedReader(readable, limits)).toThrow(TypeError)
  })
})

describe('FramedWriter', () => {
  function sink() {
    const chunks: Uint8Array[] = []
    const writable = new WritableStream<Uint8Array>({
      write(chunk) {
        chunks.push(chunk)
      },
    })
    return { chunks, writable }
  }

  it('writes each message as one chunk: varint length, then the body', async () => {
    const { chunks, writable } = sink()
    const writer = new FramedWriter(writable, limits)
    const body = new Uint8Array(300).fill(5)
    await writer.write(Uint8Array.of(1, 2))
    await writer.write(new Uint8Array(0))
    await writer.write(body)
    body.fill(0) // the writer copied it
    await writer.close()
    expect(chunks.map((c) => toHex(c.subarray(0, 4)))).toEqual(['020102', '00', '412c0505'])
    expect(chunks[2]!.length).toBe(302)
    expect(chunks[2]![301]).toBe(5)
  })

  it('refuses a message above maxMessageBytes with a RangeError, writing nothing', async () => {
    const { chunks, writable } = sink()
    const writer = new FramedWriter(writable, limits)
    await expect(writer.write(new Uint8Array(1001))).rejects.toThrow(RangeError)
    await expect(writer.write('x' as unknown as Uint8Array)).rejects.toThrow(TypeError)
    await writer.write(new Uint8Array(1000))
    await writer.close()
    expect(chunks).toHaveLength(1)
  })

  it('waits for the stream to want more before writing (backpressure)', async () => {
    const written: Uint8Array[] = []
    const releases: (() => void)[] = []
    let sinkCalled!: () => void
    const firstInSink = new Promise<void>((resolve) => (sinkCalled = resolve))
    const writable = new WritableStream<Uint8Array>(
      {
        write(chunk) {
          written.push(chunk)
          sinkCalled()
          return new Promise<void>((resolve) => releases.push(resolve))
        },
      },
      new CountQueuingStrategy({ highWaterMark: 1 }),
    )
    const writer = new FramedWriter(writable, limits)
    await writer.write(Uint8Array.of(1))
    await firstInSink

    // The first chunk is in the sink and fills the queue: the second write must wait.
    let secondDone = false
    const second = writer.write(Uint8Array.of(2)).then(() => (secondDone = true))
    await drainMicrotasks()
    expect(secondDone).toBe(false)
    expect(written).toHaveLength(1)

    releases[0]!()
    await second
    expect(secondDone).toBe(true)
    await drainMicrotasks()
    expect(written.map(toHex)).toEqual(['0101', '0102'])
    releases[1]!()
    await writer.close()
  })

  it('surfaces a failing sink at the next write or at close()', async () => {
    const failure = new Error('stream reset')
    const writable = new WritableStream<Uint8Array>({
      write() {
        throw failure
      },
    })
    const writer = new FramedWriter(writable, limits)
    await writer.write(Uint8Array.of(1))
    await drainMicrotasks()
    await expect(writer.write(Uint8Array.of(2))).rejects.toBe(failure)
    await expect(writer.close()).rejects.toBe(failure)

    // A failure while close() waits for the queue to drain.
    const racing = new FramedWriter(
      new WritableStream<Uint8Array>({
        write() {
          throw failure
        },
      }),
      limits,
    )
    await racing.write(Uint8Array.of(1))
    await expect(racing.close()).rejects.toBe(failure)
  })

  it('abort(reason) reaches the sink', async () => {
    let reason: unknown
    const writer = new FramedWriter(new WritableStream({ abort: (r) => void (reason = r) }), limits)
    await writer.abort('gone')
    expect(reason).toBe('gone')
  })

  it('releaseLock() unlocks the stream', () => {
    const { writable } = sink()
    const writer = new FramedWriter(writable, limits)
    expect(writable.locked).toBe(true)
    writer.releaseLock()
    expect(writable.locked).toBe(false)
  })
})

describe('framed', () => {
  it('carries messages through a stream pair, both ways round', async () => {
    const pipe = new TransformStream<Uint8Array, Uint8Array>()
    const { reader, writer } = framed(pipe, limits)
    const prng = new Prng(7)
    const messages = Array.from({ length: 50 }, () => prng.bytes(prng.int(1001)))
    const sent = (async () => {
      for (const message of messages) await writer.write(message)
      await writer.close()
    })()
    const received = await readAll(reader)
    await sent
    expect(received.map(toHex)).toEqual(messages.map(toHex))
    expect(concat(...received).length).toBe(concat(...messages).length)
  })
})
