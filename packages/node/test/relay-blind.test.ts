/**
 * What a relay can and cannot do to the connections it carries, over the in-memory network:
 * it sees no plaintext, a byte it changes fails the connection with a typed error, and it
 * cannot hand a dialer to another endpoint.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type BidiStream, type Connection, SecretKey } from '@ferry/core'
import type { Session, Transport, TransportListener } from '@ferry/core/internal'
import { encodeHeader } from '@ferry/core/internal'
import {
  MemoryNetwork,
  MemoryTransport,
  TestEndpoint,
  readText,
  writeText,
} from '@ferry/core/testing'
import { Relay } from '../src/relay/relay.js'

const alpn = 'blind/1'
const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

/** Every byte that passes a stream, in either direction, handed to `seen` as it passes. */
function tapReadable(
  readable: ReadableStream<Uint8Array>,
  seen: (bytes: Uint8Array) => Uint8Array,
): ReadableStream<Uint8Array> {
  return readable.pipeThrough(
    new TransformStream({ transform: (chunk, c) => c.enqueue(seen(chunk)) }),
  )
}

function tapWritable(
  writable: WritableStream<Uint8Array>,
  seen: (bytes: Uint8Array) => Uint8Array,
): WritableStream<Uint8Array> {
  const tap = new TransformStream<Uint8Array, Uint8Array>({
    transform: (chunk, c) => c.enqueue(seen(chunk)),
  })
  void tap.readable.pipeTo(writable).catch(() => undefined)
  return tap.writable
}

/**
 * `session` as the relay sees it, with every byte of every stream and datagram, in and out,
 * passed through `seen` (which may change it).
 */
function tapped(session: Session, seen: (bytes: Uint8Array) => Uint8Array): Session {
  const bidi = (s: BidiStream): BidiStream => ({
    readable: tapReadable(s.readable, seen),
    writable: tapWritable(s.writable, seen),
  })
  return {
    get ready() {
      return session.ready
    },
    get closed() {
      return session.closed
    },
    protocol: session.protocol,
    incomingBidirectionalStreams: session.incomingBidirectionalStreams.pipeThrough(
      new TransformStream<BidiStream, BidiStream>({ transform: (s, c) => c.enqueue(bidi(s)) }),
    ),
    incomingUnidirectionalStreams: session.incomingUnidirectionalStreams.pipeThrough(
      new TransformStream<ReadableStream<Uint8Array>, ReadableStream<Uint8Array>>({
        transform: (r, c) => c.enqueue(tapReadable(r, seen)),
      }),
    ),
    datagrams: {
      readable: tapReadable(session.datagrams.readable, seen),
      writable: tapWritable(session.datagrams.writable, seen),
      get maxDatagramSize() {
        return session.datagrams.maxDatagramSize
      },
    },
    createBidirectionalStream: async () => bidi(await session.createBidirectionalStream()),
    createUnidirectionalStream: async () =>
      tapWritable(await session.createUnidirectionalStream(), seen),
    close: (info) => session.close(info),
  }
}

/** A relay whose every session's bytes pass `seen`, and a way to make endpoints behind it. */
async function world(seed: number, seen: (bytes: Uint8Array) => Uint8Array) {
  const network = new MemoryNetwork({ seed })
  const relay = new Relay({ secretKey: await SecretKey.generate() })
  const inner = relay.listener()
  const listener: TransportListener = {
    choose: (offer) => inner.choose(offer),
    session: (session, info) => inner.session(tapped(session, seen), info),
  }
  const relayTransport = new MemoryTransport(network)
  relayTransport.listen(listener)
  cleanup.push(() => relay.close())
  const relayAddr = relayTransport.directAddrs()[0]!
  const endpoint = async (
    options: { alpns?: string[]; dial?: Transport['dial']; secretKey?: SecretKey } = {},
  ): Promise<TestEndpoint> => {
    const memory = new MemoryTransport(network)
    const ep = await TestEndpoint.create({
      transport: {
        dial: options.dial ?? ((addr, offer, o) => memory.dial(addr, offer, o)),
        directAddrs: () => [],
        close: () => memory.close(),
      },
      alpns: options.alpns,
      relay: relayAddr,
      secretKey: options.secretKey,
    })
    cleanup.push(() => ep.close())
    await ep.online()
    return ep
  }
  return { network, endpoint }
}

function indexOf(haystack: Uint8Array, needle: Uint8Array): number {
  outer: for (let i = 0; i + needle.length <= haystack.length; i++) {
    for (let j = 0; j < needle.length; j++) if (haystack[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

async function firstIncoming(ep: TestEndpoint): Promise<Connection> {
  for await (const conn of ep.incoming()) return conn
  throw new Error('no connection')
}

describe('a relay', () => {
  it('never sees a marker the endpoints send each other, on streams or in datagrams', async () => {
    const marker = new TextEncoder().encode('MARKER-7f3a9c-the-relay-must-not-see-this')
    const chunks: Uint8Array[] = []
    const { endpoint } = await world(11, (bytes) => {
      chunks.push(bytes.slice())
      return bytes
    })
    const server = await endpoint({ alpns: [alpn] })
    const client = await endpoint()
    const accepted = firstIncoming(server)
    const conn = await client.connect(server.id, alpn)
    const serverConn = await accepted
    const text = new TextDecoder().decode(marker)
    // Both ways on a bidi stream, on a uni stream, and in datagrams.
    const echoed = (async () => {
      for await (const s of serverConn.bidiStreams()) {
        await writeText(s.writable, `${await readText(s.readable)}|${text}`)
        return
      }
    })()
    const s = await conn.openBi()
    const [, answer] = await Promise.all([writeText(s.writable, text), readText(s.readable)])
    expect(answer).toBe(`${text}|${text}`)
    await echoed
    await writeText(await conn.openUni(), text)
    const uni = (async () => {
      for await (const r of serverConn.uniStreams()) return readText(r)
      return ''
    })()
    expect(await uni).toBe(text)
    const datagram = (async () => {
      for await (const d of serverConn.datagrams()) return new TextDecoder().decode(d)
      return ''
    })()
    await conn.sendDatagram(marker)
    expect(await datagram).toBe(text)

    const all = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let offset = 0
    for (const c of chunks) {
      all.set(c, offset)
      offset += c.length
    }
    // The relay carried the traffic (far more bytes than the markers), and none of it reads.
    expect(all.length).toBeGreaterThan(6 * marker.length)
    expect(indexOf(all, marker)).toBe(-1)
    expect(indexOf(all, marker.subarray(0, 12))).toBe(-1)
  })

  it('that flips one byte of a stream fails the read with a typed error, never with other data', async () => {
    let armed = false
    let flipped = 0
    const { endpoint } = await world(12, (bytes) => {
      // Past the handshake, the first large chunk (the data) gets one bit flipped.
      if (!armed || bytes.length < 1000 || flipped > 0) return bytes
      flipped++
      const changed = bytes.slice()
      changed[Math.floor(changed.length / 2)]! ^= 0x40
      return changed
    })
    const server = await endpoint({ alpns: [alpn] })
    const client = await endpoint()
    const accepted = firstIncoming(server)
    const conn = await client.connect(server.id, alpn)
    const serverConn = await accepted
    armed = true
    const read = (async () => {
      for await (const s of serverConn.bidiStreams()) {
        return readText(s.readable).then(
          (text) => ({ text }),
          (error: unknown) => ({ error }),
        )
      }
      throw new Error('no stream')
    })()
    const s = await conn.openBi()
    await writeText(s.writable, 'y'.repeat(50_000)).catch(() => undefined)
    const outcome = await read
    expect(flipped).toBe(1)
    expect(outcome).toHaveProperty('error')
    expect((outcome as { error: Error }).error).toMatchObject({
      name: 'RecordError',
      code: 'AUTH_FAILED',
    })
  })

  it('cannot hand a dialer to another endpoint: the handshake fails with WRONG_ENDPOINT', async () => {
    // The dialer's own path rewrites its CONNECT: A relay (or anyone on the path) routes a
    // connection meant for `target` to `impostor`.
    const { network, endpoint } = await world(13, (bytes) => bytes)
    const genuine = await endpoint({ alpns: [alpn] })
    const other = await endpoint({ alpns: [alpn] })
    const from = encodeHeader({ kind: 'connect', conn: 0, peer: genuine.id, offer: [alpn] })
    const to = encodeHeader({ kind: 'connect', conn: 0, peer: other.id, offer: [alpn] })
    const memory = new MemoryTransport(network)
    const dial: Transport['dial'] = async (addr, offer, options) => {
      const dialed = await memory.dial(addr, offer, options)
      const session = dialed.session
      const create = session.createBidirectionalStream.bind(session)
      let streams = 0
      session.createBidirectionalStream = async () => {
        const stream = await create()
        // The first stream is the control stream; each later one begins with its header.
        if (streams++ === 0) return stream
        return {
          readable: stream.readable,
          writable: tapWritable(stream.writable, (bytes) =>
            indexOf(bytes, from) === 0
              ? new Uint8Array([...to, ...bytes.subarray(from.length)])
              : bytes,
          ),
        }
      }
      return dialed
    }
    const client = await endpoint({ dial })
    await expect(client.connect(genuine.id, alpn)).rejects.toMatchObject({
      name: 'HandshakeError',
      code: 'WRONG_ENDPOINT',
    })
  })
})
