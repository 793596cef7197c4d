import { describe, expect, it } from 'vitest'
import { concat, equalBytes } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { connect, echo, nextValue, statsOf, str, text, writeChunked } from './network-fixtures.js'
import { readBytes } from '../testing.js'
import { MemoryTransportError } from './transport-error.js'

describe('MemoryNetwork streams', () => {
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

  it('keeps a long echoed stream in pieces of a good part of the window', async () => {
    const { client, server } = await connect({ streamWindowBytes: 64 * 1024 })
    echo(server)
    const stream = await client.createBidirectionalStream()
    const data = new Prng(5).bytes(1024 * 1024)
    let pieces = 0
    const reading = (async () => {
      const chunks: Uint8Array[] = []
      for await (const chunk of stream.readable) {
        chunks.push(chunk)
        pieces++
      }
      return concat(...chunks)
    })()
    await writeChunked(stream.writable, data, new Prng(6))
    expect(equalBytes(await reading, data)).toBe(true)
    // A writer that sent whatever sliver each read freed cut the stream down to single bytes.
    expect(pieces).toBeLessThan(data.length / 1024)
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
