import { describe, expect, it } from 'vitest'
import type { BidiStream } from '../session.js'
import { connect, nextValue, statsOf, str, text } from './network-fixtures.js'
import { readBytes } from '../testing.js'

describe('MemoryNetwork sessions', () => {
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
    expect(str(await readBytes(readable))).toBe('last words')
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
    await expect(readBytes(readable)).rejects.toMatchObject({ source: 'session' })
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
