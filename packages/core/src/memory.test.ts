import { describe, expect, it, vi } from 'vitest'
import { concat, equalBytes } from './internal/bytes.js'
import { Prng } from './internal/prng.js'
import { MemoryNetwork, MemoryTransportError, type MemoryNetworkOptions } from './memory.js'
import type { BidiStream, Session, SessionStats } from './session.js'

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  for await (const chunk of readable) chunks.push(chunk)
  return concat(...chunks)
}

/** Writes `data` in chunks of seeded random sizes, then closes. */
async function writeChunked(
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
function statsOf(session: Session): Promise<SessionStats> {
  if (!session.getStats) throw new Error('session without getStats')
  return session.getStats()
}

async function nextValue<T>(readable: ReadableStream<T>): Promise<T> {
  const reader = readable.getReader()
  const { value, done } = await reader.read()
  reader.releaseLock()
  if (done) throw new Error('stream ended')
  return value
}

/** Echoes every incoming bidirectional stream of `session` back to its sender. */
function echo(session: Session): void {
  void (async () => {
    for await (const stream of session.incomingBidirectionalStreams) {
      void stream.readable.pipeTo(stream.writable).catch(() => {})
    }
  })().catch(() => {})
}

/** A network with one listener and one established session. */
async function connect(options: MemoryNetworkOptions = {}, offer: string[] = []) {
  const network = new MemoryNetwork(options)
  const servers: Session[] = []
  const url = network.listen({ choose: (o) => o[0], session: (s) => servers.push(s) })
  const client = await network.dial(url, offer)
  await client.ready
  const server = servers[0]!
  await server.ready
  return { network, url, client, server }
}

describe('MemoryNetwork streams', () => {
  it('echoes over a bidirectional stream', async () => {
    const { client, server } = await connect()
    echo(server)
    const stream = await client.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(text('hello, '))
    await writer.write(text('world'))
    await writer.close()
    expect(str(await readAll(stream.readable))).toBe('hello, world')
  })

  it('carries unidirectional streams both ways', async () => {
    const { client, server } = await connect()
    const toServer = await client.createUnidirectionalStream()
    const toClient = await server.createUnidirectionalStream()
    const w1 = toServer.getWriter()
    const w2 = toClient.getWriter()
    await Promise.all([w1.write(text('up')), w2.write(text('down'))])
    await Promise.all([w1.close(), w2.close()])
    const atServer = await nextValue(server.incomingUnidirectionalStreams)
    const atClient = await nextValue(client.incomingUnidirectionalStreams)
    expect(str(await readAll(atServer))).toBe('up')
    expect(str(await readAll(atClient))).toBe('down')
  })

  it('delivers 100 concurrent streams intact and in order per stream', async () => {
    const { client, server } = await connect({ seed: 3 })
    echo(server)
    const prng = new Prng(99)
    const inputs = Array.from({ length: 100 }, () => prng.bytes(prng.int(100_000)))
    const echoed = await Promise.all(
      inputs.map(async (data) => {
        const stream = await client.createBidirectionalStream()
        const [, back] = await Promise.all([
          writeChunked(stream.writable, data, new Prng(data.length)),
          readAll(stream.readable),
        ])
        return back
      }),
    )
    // Compared by hand: a deep `toEqual` over 5 MB of bytes takes seconds.
    for (let i = 0; i < inputs.length; i++) {
      expect(echoed[i]!.length).toBe(inputs[i]!.length)
      expect(equalBytes(echoed[i]!, inputs[i]!)).toBe(true)
    }
    const stats = await statsOf(client)
    const total = inputs.reduce((n, d) => n + d.length, 0)
    expect(stats).toEqual({ bytesSent: total, bytesReceived: total })
  })

  it('reads through a BYOB reader', async () => {
    const { client, server } = await connect()
    const writable = await client.createUnidirectionalStream()
    const writer = writable.getWriter()
    void writer.write(Uint8Array.of(1, 2, 3, 4, 5))
    void writer.close()
    const readable = await nextValue(server.incomingUnidirectionalStreams)
    const reader = readable.getReader({ mode: 'byob' })
    const got: number[] = []
    for (;;) {
      const { value, done } = await reader.read(new Uint8Array(2))
      if (done) break
      got.push(...value)
    }
    expect(got).toEqual([1, 2, 3, 4, 5])
  })

  it('copies a chunk on write, so the writer may reuse its buffer', async () => {
    const { client, server } = await connect()
    const writable = await client.createUnidirectionalStream()
    const writer = writable.getWriter()
    const buffer = Uint8Array.of(1, 2, 3)
    const written = writer.write(buffer)
    buffer.fill(9)
    await written
    await writer.close()
    const readable = await nextValue(server.incomingUnidirectionalStreams)
    expect([...(await readAll(readable))]).toEqual([1, 2, 3])
  })

  it('replays the same interleaving from the same seed', async () => {
    async function run(seed: number): Promise<string[]> {
      const { network, client, server } = await connect({ seed })
      const log: string[] = []
      const reading = (async () => {
        const readers: Promise<void>[] = []
        for await (const readable of server.incomingUnidirectionalStreams) {
          readers.push(
            (async () => {
              let id: number | undefined
              for await (const chunk of readable) {
                if (id === undefined) {
                  id = chunk[0]!
                  log.push(`open ${id}`)
                }
                log.push(`${id}:${chunk.length}`)
              }
              log.push(`fin ${id}`)
            })(),
          )
        }
        await Promise.all(readers)
      })()
      const datagrams = (async () => {
        for await (const d of server.datagrams.readable) log.push(`datagram ${d[0]}`)
      })()
      const prng = new Prng(seed)
      const dw = client.datagrams.writable.getWriter()
      await Promise.all(
        Array.from({ length: 20 }, async (_, id) => {
          const writable = await client.createUnidirectionalStream()
          const data = prng.bytes(1 + prng.int(5000))
          data[0] = id
          await dw.write(Uint8Array.of(id))
          await writeChunked(writable, data, new Prng(id))
        }),
      )
      await network.settle()
      client.close()
      await Promise.all([reading, datagrams])
      return log
    }
    const first = await run(7)
    const second = await run(7)
    expect(second).toEqual(first)
    expect(first.filter((e) => e.startsWith('fin'))).toHaveLength(20)
    expect(first.filter((e) => e.startsWith('datagram'))).toHaveLength(20)
    // The scheduler does shuffle: with this seed the streams do not open in creation order.
    const opens = first.filter((e) => e.startsWith('open'))
    expect(opens).not.toEqual(Array.from({ length: 20 }, (_, i) => `open ${i}`))
  })

  it('holds a writer back once the window is full, until the reader reads', async () => {
    const { network, client, server } = await connect({ streamWindowBytes: 1024 })
    const writable = await client.createUnidirectionalStream()
    const writer = writable.getWriter()
    let resolved = 0
    const writes = Array.from({ length: 8 }, (_, i) =>
      writer.write(new Uint8Array(512).fill(i)).then(() => void resolved++),
    )
    await network.settle()
    // Two writes fill the 1 KiB window; the third cannot start while nobody reads.
    expect(resolved).toBe(2)
    expect(writer.desiredSize).toBeLessThanOrEqual(0)
    const readable = await nextValue(server.incomingUnidirectionalStreams)
    await network.settle()
    expect(resolved).toBe(2)
    const reader = readable.getReader()
    let read = 0
    while (read < 8 * 512) {
      const { value } = await reader.read()
      read += value!.length
    }
    await Promise.all(writes)
    expect(resolved).toBe(8)
  })

  it('errors the peer readable with the code when a writable is aborted', async () => {
    const { client, server } = await connect()
    const writable = await client.createUnidirectionalStream()
    const writer = writable.getWriter()
    await writer.write(text('partial'))
    await writer.abort(new MemoryTransportError('give up', { streamErrorCode: 7 }))
    const readable = await nextValue(server.incomingUnidirectionalStreams)
    await expect(readAll(readable)).rejects.toMatchObject({
      name: 'WebTransportError',
      source: 'stream',
      streamErrorCode: 7,
    })
  })

  it('fails the peer writer when a readable is cancelled', async () => {
    const { network, client, server } = await connect()
    const stream = await client.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(text('a'))
    const peer = await nextValue(server.incomingBidirectionalStreams)
    await peer.readable.cancel(new MemoryTransportError('enough', { streamErrorCode: 9 }))
    await network.settle()
    const error: unknown = await writer.write(text('b')).catch((e: unknown) => e)
    expect(error).toMatchObject({ name: 'WebTransportError', source: 'stream', streamErrorCode: 9 })
    await expect(writer.closed).rejects.toBe(error)
    // The other direction is independent and still works.
    const peerWriter = peer.writable.getWriter()
    await peerWriter.write(text('reply'))
    await peerWriter.close()
    expect(str(await readAll(stream.readable))).toBe('reply')
  })
})

describe('MemoryNetwork sessions', () => {
  it('keeps running under fake timers', async () => {
    vi.useFakeTimers()
    try {
      const { network, client, server } = await connect()
      echo(server)
      const stream = await client.createBidirectionalStream()
      const writer = stream.writable.getWriter()
      const writing = writer.write(new Uint8Array(300_000).fill(1)).then(() => writer.close())
      expect((await readAll(stream.readable)).length).toBe(300_000)
      await writing
      await network.settle()
    } finally {
      vi.useRealTimers()
    }
  })

  it('closes both sides with the code and reason', async () => {
    const { client, server } = await connect()
    server.close({ closeCode: 42, reason: 'bye' })
    server.close({ closeCode: 1, reason: 'again' })
    await expect(client.closed).resolves.toEqual({ closeCode: 42, reason: 'bye' })
    await expect(server.closed).resolves.toEqual({ closeCode: 42, reason: 'bye' })
  })

  it('closes with code 0 and an empty reason by default', async () => {
    const { client, server } = await connect()
    client.close()
    await expect(server.closed).resolves.toEqual({ closeCode: 0, reason: '' })
    expect(() => client.close({ closeCode: -1 })).toThrow(RangeError)
  })

  it('errors open streams and refuses new ones after a close', async () => {
    const { network, client, server } = await connect()
    const stream = await client.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(text('a'))
    const peer: BidiStream = await nextValue(server.incomingBidirectionalStreams)
    const peerReader = peer.readable.getReader()
    expect(str((await peerReader.read()).value!)).toBe('a')
    client.close({ closeCode: 5 })
    await network.settle()
    const closedError = { name: 'WebTransportError', source: 'session' }
    await expect(writer.write(text('b'))).rejects.toMatchObject(closedError)
    await expect(peerReader.read()).rejects.toMatchObject(closedError)
    await expect(stream.readable.getReader().read()).rejects.toMatchObject(closedError)
    await expect(client.createBidirectionalStream()).rejects.toMatchObject(closedError)
    await expect(server.createUnidirectionalStream()).rejects.toMatchObject(closedError)
    // The incoming-stream and datagram readables end cleanly after a clean close.
    for (const session of [client, server]) {
      expect((await session.incomingBidirectionalStreams.getReader().read()).done).toBe(true)
      expect((await session.incomingUnidirectionalStreams.getReader().read()).done).toBe(true)
      expect((await session.datagrams.readable.getReader().read()).done).toBe(true)
      await expect(session.datagrams.writable.getWriter().write(text('x'))).rejects.toThrow()
    }
  })

  it('still delivers a stream whose end arrived before the session closed', async () => {
    const { client, server } = await connect()
    const writable = await client.createUnidirectionalStream()
    const writer = writable.getWriter()
    await writer.write(text('last words'))
    // `close()` resolves once the FIN has arrived; nobody has read the bytes yet.
    await writer.close()
    client.close()
    await expect(server.closed).resolves.toEqual({ closeCode: 0, reason: '' })
    const readable = await nextValue(server.incomingUnidirectionalStreams)
    expect(str(await readAll(readable))).toBe('last words')
  })

  it('errors a stream whose end had not arrived when the session closed', async () => {
    const { client, server } = await connect()
    const writable = await client.createUnidirectionalStream()
    const writer = writable.getWriter()
    await writer.write(text('cut off'))
    client.close()
    await expect(writer.closed).rejects.toMatchObject({ name: 'WebTransportError' })
    await expect(server.closed).resolves.toEqual({ closeCode: 0, reason: '' })
    const readable = await nextValue(server.incomingUnidirectionalStreams)
    await expect(readAll(readable)).rejects.toMatchObject({ source: 'session' })
  })

  it('rejects closed on both sides of every session on a partition', async () => {
    const { network, url, client, server } = await connect()
    const other = await network.dial(url, [])
    const stream = await client.createBidirectionalStream()
    network.partition()
    const lost = { name: 'WebTransportError', source: 'session' }
    await expect(client.closed).rejects.toMatchObject(lost)
    await expect(server.closed).rejects.toMatchObject(lost)
    await expect(other.closed).rejects.toMatchObject(lost)
    await expect(stream.readable.getReader().read()).rejects.toMatchObject(lost)
    await expect(client.incomingBidirectionalStreams.getReader().read()).rejects.toMatchObject(lost)
    // The listener stays: a new dial after the outage works.
    const again = await network.dial(url, [])
    await expect(again.ready).resolves.toBeUndefined()
  })

  it('fails a dial in flight on a partition', async () => {
    const network = new MemoryNetwork()
    const url = network.listen({ choose: () => undefined, session: () => {} })
    const dialing = network.dial(url, [])
    network.partition()
    await expect(dialing).rejects.toMatchObject({ name: 'WebTransportError', source: 'session' })
  })

  it('negotiates the subprotocol the listener chooses', async () => {
    const network = new MemoryNetwork()
    const infos: { protocol: string | undefined; offer: string[] }[] = []
    const servers: Session[] = []
    const url = network.listen({
      choose: (offer) => (offer.includes('b/1') ? 'b/1' : undefined),
      session: (s, info) => {
        servers.push(s)
        infos.push(info)
      },
    })
    const client = await network.dial(url, ['b/2', 'b/1'])
    expect(client.protocol).toBe('b/1')
    expect(servers[0]!.protocol).toBe('b/1')
    expect(infos[0]).toEqual({ protocol: 'b/1', offer: ['b/2', 'b/1'] })

    const none = await network.dial(url, ['c/1'])
    expect(none.protocol).toBe('')
    expect(servers[1]!.protocol).toBe('')
    expect(infos[1]).toEqual({ protocol: undefined, offer: ['c/1'] })
  })

  it('refuses a protocol the dialer did not offer', async () => {
    const network = new MemoryNetwork()
    const url = network.listen({ choose: () => 'x', session: () => {} })
    await expect(network.dial(url, ['y'])).rejects.toMatchObject({ name: 'WebTransportError' })
  })

  it('rejects a dial to nowhere, and a bad url with a TypeError', async () => {
    const network = new MemoryNetwork()
    await expect(network.dial('memory://99', [])).rejects.toBeInstanceOf(Error)
    await expect(network.dial('memory://99', [])).rejects.toMatchObject({
      name: 'WebTransportError',
      source: 'session',
    })
    await expect(network.dial('https://example.com', [])).rejects.toBeInstanceOf(TypeError)
    await expect(network.dial('not a url', [])).rejects.toBeInstanceOf(TypeError)
  })

  it('stops accepting after unlisten while established sessions stay', async () => {
    const { network, url, client, server } = await connect()
    echo(server)
    network.unlisten(url)
    await expect(network.dial(url, [])).rejects.toMatchObject({ name: 'WebTransportError' })
    const stream = await client.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(text('still here'))
    await writer.close()
    expect(str(await readAll(stream.readable))).toBe('still here')
  })

  it('rejects a dial when its signal aborts', async () => {
    const network = new MemoryNetwork()
    let sessions = 0
    const url = network.listen({ choose: () => undefined, session: () => void sessions++ })
    const reason = new Error('stop')
    await expect(network.dial(url, [], { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    const controller = new AbortController()
    const dialing = network.dial(url, [], { signal: controller.signal })
    controller.abort()
    await expect(dialing).rejects.toMatchObject({ name: 'AbortError' })
    await network.settle()
    expect(sessions).toBe(0)
  })

  it('counts stream and datagram payload bytes in getStats', async () => {
    const { network, client, server } = await connect()
    const writable = await client.createUnidirectionalStream()
    const writer = writable.getWriter()
    await writer.write(new Uint8Array(300))
    await writer.close()
    await client.datagrams.writable.getWriter().write(new Uint8Array(20))
    await network.settle()
    expect(await statsOf(client)).toEqual({ bytesSent: 320, bytesReceived: 0 })
    expect(await statsOf(server)).toEqual({ bytesSent: 0, bytesReceived: 320 })
  })
})

describe('MemoryNetwork datagrams', () => {
  it('round-trips datagrams', async () => {
    const { client, server } = await connect()
    await client.datagrams.writable.getWriter().write(text('ping'))
    expect(str(await nextValue(server.datagrams.readable))).toBe('ping')
    await server.datagrams.writable.getWriter().write(text('pong'))
    expect(str(await nextValue(client.datagrams.readable))).toBe('pong')
    expect(client.datagrams.maxDatagramSize).toBe(1200)
  })

  it('drops oversized datagrams silently', async () => {
    const { network, client, server } = await connect({ maxDatagramSize: 100 })
    const writer = client.datagrams.writable.getWriter()
    await writer.write(new Uint8Array(101).fill(1))
    await writer.write(new Uint8Array(100).fill(2))
    await network.settle()
    const reader = server.datagrams.readable.getReader()
    expect((await reader.read()).value).toEqual(new Uint8Array(100).fill(2))
    // Had the big one arrived, it would be queued ahead of this one.
    await writer.write(Uint8Array.of(3))
    expect((await reader.read()).value).toEqual(Uint8Array.of(3))
    // 100 + 1: the oversized datagram never left.
    expect((await statsOf(client)).bytesSent).toBe(101)
  })

  it('loses some but not all datagrams at 50% loss', async () => {
    const { network, client, server } = await connect({ seed: 5, datagramLoss: 0.5 })
    const received: number[] = []
    const reading = (async () => {
      for await (const d of server.datagrams.readable) received.push(d[0]!)
    })()
    const writer = client.datagrams.writable.getWriter()
    for (let i = 0; i < 100; i++) await writer.write(Uint8Array.of(i))
    await network.settle()
    expect(received.length).toBeGreaterThan(0)
    expect(received.length).toBeLessThan(100)
    expect(new Set(received).size).toBe(received.length)
    client.close()
    await reading
  })

  it('keeps the newest 128 datagrams when nobody reads', async () => {
    const { network, client, server } = await connect()
    const writer = client.datagrams.writable.getWriter()
    for (let i = 0; i < 200; i++) {
      await writer.write(Uint8Array.of(i))
      await network.settle()
    }
    const reader = server.datagrams.readable.getReader()
    const got: number[] = []
    for (let i = 0; i < 128; i++) got.push((await reader.read()).value![0]!)
    expect(got).toEqual(Array.from({ length: 128 }, (_, i) => 72 + i))
    await writer.write(Uint8Array.of(255))
    expect((await reader.read()).value).toEqual(Uint8Array.of(255))
  })
})
