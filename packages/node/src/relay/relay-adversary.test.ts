import { SecretKey } from '@ferry/core'
import { encodeHeader, RelayCode } from '@ferry/core/internal'
import { Prng } from '@ferry/core/testing'
import { describe, expect, it } from 'vitest'
import { RelayError } from '@ferry/core'
import {
  dialRelay,
  RawClient,
  readExactly,
  type RelayFixture,
  startRelay,
} from './relay-fixtures.js'

const utf8 = new TextEncoder()

/** Random bytes whose first byte is a likely header kind or message type, so decoders go deep. */
function garbage(prng: Prng, maxLength: number, firstBelow: number): Uint8Array {
  const bytes = prng.bytes(1 + prng.int(maxLength))
  if (prng.int(4) > 0) bytes[0] = prng.int(firstBelow)
  return bytes
}

/** Whether the stream was reset (as the relay does with a stream it refuses). */
async function resetOf(readable: ReadableStream<Uint8Array>): Promise<unknown> {
  const reader = readable.getReader()
  try {
    while (!(await reader.read()).done);
    return undefined
  } catch (error) {
    return error
  }
}

/** Checks that a fresh pair of clients still reaches each other through the relay. */
async function checkPairWorks(fixture: RelayFixture): Promise<void> {
  const a = await RawClient.register(fixture)
  const b = await RawClient.register(fixture)
  const stream = await a.openBidi(
    { kind: 'connect', conn: 0, peer: b.id, offer: ['x/1'] },
    utf8.encode('ping'),
  )
  const atB = await b.acceptBidi()
  expect(await readExactly(atB.readable.getReader(), 4)).toEqual(utf8.encode('ping'))
  const back = atB.writable!.getWriter()
  await back.write(utf8.encode('pong'))
  expect(await readExactly(stream.readable.getReader(), 4)).toEqual(utf8.encode('pong'))
}

describe('Relay: hostile clients', () => {
  it('survives seeded garbage as first streams, headers, control messages and datagrams', async () => {
    const fixture = await startRelay({ authTimeoutMs: 100, headerTimeoutMs: 100 })
    const prng = new Prng(0x5eed)

    // Garbage as a session's first stream: refused, or left to time out.
    for (let round = 0; round < 20; round++) {
      const session = await dialRelay(fixture)
      const bytes = garbage(prng, 1500, 3)
      // On a loaded machine the relay's 100 ms authentication deadline can close the session
      // before the garbage is even sent; the session must end with one of the codes either way.
      await session
        .createBidirectionalStream()
        .then((stream) => stream.writable.getWriter().write(bytes))
        .catch(() => {})
      const { closeCode } = await session.closed
      expect([RelayCode.PROTOCOL_ERROR, RelayCode.AUTH_FAILED]).toContain(closeCode)
    }

    // Garbage headers from a registered client: every stream is refused, the session stays.
    const sender = await RawClient.register(fixture)
    for (let round = 0; round < 60; round++) {
      const header = garbage(prng, 1500, 3)
      if (prng.int(2) === 0) {
        const stream = await sender.openBidi(header)
        expect(await resetOf(stream.readable)).toMatchObject({ streamErrorCode: 0 })
      } else {
        const writer = await sender.openUni(header)
        await expect(writer.closed).rejects.toMatchObject({ streamErrorCode: 0 })
      }
    }
    expect(sender.session).toBeDefined()

    // Garbage control messages (well framed, so the probe after each one is read as one):
    // the session survives the ones that decode to a client's message, else PROTOCOL_ERROR.
    let survived = 0
    for (let round = 0; round < 60; round++) {
      const client = await RawClient.register(fixture)
      await client.control.writer.write(garbage(prng, 40, 10))
      const probe = 1_000_000 + round
      await client.send({ type: 'resolve', request: probe, id: client.id })
      const answered = (async () => {
        for (;;) {
          const message = await client.next()
          if (message.type === 'resolved' && message.request === probe) return true
        }
      })().catch(() => false)
      if (await answered) {
        survived++
      } else {
        const { closeCode } = await client.session.closed
        expect(closeCode).toBe(RelayCode.PROTOCOL_ERROR)
      }
      client.session.close()
    }
    expect(survived).toBeGreaterThan(0)
    expect(survived).toBeLessThan(60)

    // Garbage datagrams: all dropped (the sender has no connection).
    const before = fixture.relay.droppedDatagrams
    for (let round = 0; round < 40; round++) {
      await sender.sendDatagram(prng.bytes(prng.int(1200)))
    }
    await fixture.network.settle()
    expect(fixture.relay.droppedDatagrams - before).toBe(40)

    await checkPairWorks(fixture)
    // Everything the relay reported is a typed refusal, never an unexpected failure.
    for (const error of fixture.errors) expect(error).toBeInstanceOf(RelayError)
    expect(fixture.errors.length).toBeGreaterThan(0)
  })

  it('keeps other clients working while one floods CONNECTs to offline targets', async () => {
    const fixture = await startRelay()
    const flooder = await RawClient.register(fixture)
    const offline = (await SecretKey.generate()).publicKey
    const streams = []
    for (let conn = 0; conn < 200; conn += 2) {
      streams.push(
        await flooder.openBidi(
          encodeHeader({ kind: 'connect', conn, peer: offline, offer: ['x'] }),
        ),
      )
    }
    await checkPairWorks(fixture)
    // Streams race each other to the relay, so the answers come in any order.
    const answered = new Set<number>()
    for (let i = 0; i < 100; i++) {
      const close = await flooder.next('close')
      expect(close.code).toBe(RelayCode.OFFLINE)
      answered.add(close.conn)
    }
    expect([...answered].sort((x, y) => x - y)).toEqual(
      Array.from({ length: 100 }, (_, i) => 2 * i),
    )
    for (const stream of streams) {
      expect(await resetOf(stream.readable)).toMatchObject({ streamErrorCode: 0 })
    }
  })
})

describe('Relay: backpressure', () => {
  it('does not buffer without bound: a target that does not read stalls the dialer', async () => {
    const window = 4096
    const fixture = await startRelay({}, { streamWindowBytes: window })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const stream = await a.openBidi({ kind: 'connect', conn: 0, peer: b.id, offer: ['x'] })
    const atB = await b.acceptBidi()

    const sent: number[] = []
    const writes: Promise<void>[] = []
    for (;;) {
      let ready = false
      void stream.writer.ready.then(() => (ready = true))
      await fixture.network.settle()
      if (!ready) break
      const chunk = new Uint8Array(1024).fill(sent.length & 0xff)
      writes.push(stream.writer.write(chunk))
      sent.push(chunk.length)
      if (sent.length * 1024 > 64 * window) throw new Error('the relay buffers without bound')
    }
    const written = sent.length * 1024
    // Both windows (client → relay, relay → target) filled, and little more.
    expect(written).toBeGreaterThan(window)
    expect(written).toBeLessThanOrEqual(4 * window)

    // The target reads: every byte arrives in order and the dialer may write again.
    const received = await readExactly(atB.readable.getReader(), written)
    for (let i = 0; i < sent.length; i++) {
      expect(received.subarray(i * 1024, (i + 1) * 1024).every((x) => x === (i & 0xff))).toBe(true)
    }
    await stream.writer.ready
    await Promise.all(writes)
  })
})
