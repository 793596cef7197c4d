import { describe, expect, it } from 'vitest'
import { equalBytes } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { connect, echo, nextValue, statsOf, str, text, writeChunked } from './network-fixtures.js'
import { readBytes } from '../testing.js'
import { MemoryTransportError } from './transport-error.js'

describe('MemoryNetwork streams', () => {
  it('echoes over a bidirectional stream', async () => {
    const { client, server } = await connect()
    echo(server)
    const stream = await client.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(text('hello, '))
    await writer.write(text('world'))
    await writer.close()
    expect(str(await readBytes(stream.readable))).toBe('hello, world')
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
    expect(str(await readBytes(atServer))).toBe('up')
    expect(str(await readBytes(atClient))).toBe('down')
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
          readBytes(stream.readable),
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
    expect([...(await readBytes(readable))]).toEqual([1, 2, 3])
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
    await expect(readBytes(readable)).rejects.toMatchObject({
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
    expect(str(await readBytes(stream.readable))).toBe('reply')
  })
})
