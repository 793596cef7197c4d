/**
 * Encrypted connections against an active attacker in the relay's position (the
 * {@link Adversary} harness), over the in-memory network.
 */
import { describe, expect, it } from 'vitest'
import { CloseCode, type Connection } from '../connection.js'
import { Prng } from '../internal/prng.js'
import { MemoryNetwork } from '../memory/network.js'
import { MemoryTransport } from '../memory/transport.js'
import type { BidiStream } from '../session.js'
import { TestEndpoint } from './endpoint.js'
import {
  Adversary,
  dropStream,
  duplicateStream,
  forgedReadable,
  recorder,
  resetAfter,
  rewriteResets,
  spliceStreams,
} from './adversary.js'

const encoder = new TextEncoder()
const alpn = 'ask/1'

async function readText(readable: ReadableStream<Uint8Array>): Promise<string> {
  const decoder = new TextDecoder()
  let text = ''
  for await (const chunk of readable) text += decoder.decode(chunk, { stream: true })
  return text + decoder.decode()
}

async function writeText(writable: WritableStream<Uint8Array>, text: string): Promise<void> {
  const writer = writable.getWriter()
  await writer.write(encoder.encode(text))
  await writer.close()
}

/** The typed errors an application may see when the path misbehaves. */
function typed(error: unknown): string {
  const name = (error as Error | undefined)?.name
  const code = (error as { code?: string } | undefined)?.code
  expect(['RecordError', 'WebTransportError', 'ConnectionError']).toContain(name)
  return code ?? name!
}

/**
 * A server behind the adversary that answers each bidi stream with `echo:` and the request,
 * or `error:` and the code when reading the request failed; it records what it read.
 */
async function setup(seed: number): Promise<{
  adversary: Adversary
  conn: Connection
  seen: string[]
}> {
  const network = new MemoryNetwork({ seed })
  const adversary = new Adversary(new Prng(seed))
  const server = await TestEndpoint.create({
    transport: adversary.transport(new MemoryTransport(network)),
    alpns: [alpn],
  })
  const client = await TestEndpoint.create({ transport: new MemoryTransport(network) })
  const seen: string[] = []
  const unsent: unknown[] = []
  void (async () => {
    for await (const accepted of server.incoming()) {
      void (async () => {
        for await (const s of accepted.bidiStreams()) {
          void readText(s.readable)
            .then(
              (text) => {
                seen.push(text)
                return writeText(s.writable, `echo:${text}`)
              },
              (error: unknown) => writeText(s.writable, `error:${typed(error)}`),
            )
            // An answer that cannot go out (the adversary reset the stream) is no failure here.
            .catch((error: unknown) => unsent.push(error))
        }
      })()
    }
  })()
  const conn = await client.connect(server.addr(), alpn)
  expect(conn.encrypted).toBe(true)
  return { adversary, conn, seen }
}

async function ask(conn: Connection, text: string): Promise<string> {
  const s = await conn.openBi()
  const [, answer] = await Promise.all([writeText(s.writable, text), readText(s.readable)])
  return answer
}

describe('an adversary in the relay position', () => {
  it('cannot inject a stream: a forged preamble never reaches the application, nor gets an answer to splice', async () => {
    const { adversary, conn, seen } = await setup(1)
    let held!: (stream: BidiStream) => void
    const real = new Promise<BidiStream>((resolve) => (held = resolve))
    adversary.onBidi = (stream) => held(stream)
    const attack = (async () => {
      const genuine = await real
      // Stream 0 of the dialer, as the relay writes it: the preamble `0`, then FIN.
      const fake = recorder()
      adversary.injectBidi({
        readable: forgedReadable([Uint8Array.of(0)]),
        writable: fake.writable,
      })
      const { bytes } = await fake.done
      if (bytes.length > 0) {
        // The acceptor answered the forgery: splice that answer onto the dialer's real stream
        // 0, and hand the real request in on its own.
        const writer = genuine.writable.getWriter()
        await writer.write(bytes)
        await writer.close()
        adversary.injectBidi({ readable: genuine.readable, writable: recorder().writable })
      } else {
        adversary.injectBidi(genuine)
      }
      return bytes.length
    })()
    expect(await ask(conn, 'the real request')).toBe('echo:the real request')
    expect(await attack).toBe(0)
    expect(seen).toEqual(['the real request'])
    const stats = await conn.stats()
    expect(stats.streamsOpened).toBe(1)
  })

  it('cannot break a stream class by dropping one stream', async () => {
    const { adversary, conn, seen } = await setup(2)
    let dropped = false
    adversary.onBidi = (stream, deliver) => {
      if (dropped) return deliver(stream)
      dropped = true
      dropStream(stream)
    }
    // The drop reaches the client as a transport reset and stop: nobody's authenticated word.
    await expect(ask(conn, 'lost')).rejects.toMatchObject({ name: 'RecordError', code: 'RESET' })
    // Far more than the window (4096) after the gap: every later stream still works.
    for (let batch = 0; batch < 45; batch++) {
      const texts = Array.from({ length: 100 }, (_, i) => `q${batch}.${i}`)
      const answers = await Promise.all(texts.map((t) => ask(conn, t)))
      expect(answers).toEqual(texts.map((t) => `echo:${t}`))
    }
    expect(seen.length).toBe(4500)
  }, 120_000)

  it('lets the application see only authentic data or typed errors, under seeded mixed attacks', async () => {
    for (const seed of [1, 2, 3, 4]) {
      const { adversary, conn, seen } = await setup(seed)
      const prng = adversary.prng
      const count = 40
      const delayed: BidiStream[] = []
      let arrived = 0
      let spliceWith: BidiStream | undefined
      const actions = new Map<string, number>()
      adversary.onBidi = (stream, deliver) => {
        arrived++
        const action = ['pass', 'drop', 'duplicate', 'delay', 'splice', 'inject'][prng.int(6)]!
        actions.set(action, (actions.get(action) ?? 0) + 1)
        if (action === 'pass') deliver(stream)
        else if (action === 'drop') dropStream(stream)
        else if (action === 'duplicate') {
          const [a, b] = duplicateStream(stream)
          for (const copy of prng.int(2) === 0 ? [a, b] : [b, a]) deliver(copy)
        } else if (action === 'delay') delayed.push(stream)
        else if (action === 'splice') {
          if (spliceWith) {
            deliver(spliceStreams(stream, spliceWith))
            deliver(spliceStreams(spliceWith, stream))
            spliceWith = undefined
          } else spliceWith = stream
        } else {
          // Garbage, or a genuine-looking preamble with a forged open record, then the real one.
          const forged =
            prng.int(2) === 0
              ? prng.bytes(1 + prng.int(40))
              : Uint8Array.of(prng.int(count), 2, 0, 0, 16, ...prng.bytes(16))
          const end = (['fin', 'reset', 'hang'] as const)[prng.int(3)]!
          adversary.injectBidi({
            readable: forgedReadable([forged], end),
            writable: recorder().writable,
          })
          deliver(stream)
        }
        // Delayed streams come back out of order, some time later.
        while (delayed.length > 0 && (prng.int(3) === 0 || arrived === count)) {
          deliver(delayed.splice(prng.int(delayed.length), 1)[0]!)
        }
        if (arrived === count && spliceWith) deliver(spliceWith)
      }
      const texts = Array.from({ length: count }, (_, i) => `request ${i} of seed ${seed}`)
      const outcomes = await Promise.all(
        texts.map((t) =>
          ask(conn, t).then(
            (answer) => ({ answer }),
            (error: unknown) => ({ error: typed(error) }),
          ),
        ),
      )
      outcomes.forEach((outcome, i) => {
        if ('answer' in outcome) expect(outcome.answer).toBe(`echo:${texts[i]}`)
      })
      // The server read only requests the client sent, each at most once.
      for (const text of seen) expect(texts).toContain(text)
      expect(new Set(seen).size).toBe(seen.length)
      // Some streams got through, and some attacks were made.
      expect(outcomes.some((o) => 'answer' in o)).toBe(true)
      expect(actions.size).toBeGreaterThan(3)
    }
  }, 60_000)
})

/** A client and a server behind the adversary, over one encrypted connection each way. */
async function pair(seed: number): Promise<{
  adversary: Adversary
  client: Connection
  server: Connection
}> {
  const network = new MemoryNetwork({ seed })
  const adversary = new Adversary(new Prng(seed))
  const serverEndpoint = await TestEndpoint.create({
    transport: adversary.transport(new MemoryTransport(network)),
    alpns: [alpn],
  })
  const clientEndpoint = await TestEndpoint.create({ transport: new MemoryTransport(network) })
  const accepted = serverEndpoint.incoming()[Symbol.asyncIterator]().next()
  const client = await clientEndpoint.connect(serverEndpoint.addr(), alpn)
  const server = (await accepted).value as Connection
  expect(client.encrypted && server.encrypted).toBe(true)
  return { adversary, client, server }
}

/** A stream reset with `code`, as an application aborts one. */
function streamError(code: number): Error {
  return Object.assign(new Error(`abort with ${code}`), {
    name: 'WebTransportError',
    source: 'stream',
    streamErrorCode: code,
  })
}

/** The error reading `readable` to its end fails with. */
async function readFailure(readable: ReadableStream<Uint8Array>): Promise<unknown> {
  try {
    await readText(readable)
  } catch (error) {
    return error
  }
  throw new Error('the read did not fail')
}

describe('closes and resets against an adversary in the relay position', () => {
  for (const [name, code] of [
    ['NORMAL', CloseCode.NORMAL],
    ['ALPN_REFUSED', CloseCode.ALPN_REFUSED],
  ] as const) {
    it(`a transport close the relay forges with ${name} is not reported as the peer's close`, async () => {
      const { adversary, client, server } = await pair(11)
      adversary.closeSession({ closeCode: code, reason: 'forged' })
      for (const conn of [server, client]) {
        const info = await conn.closed
        expect(info.code).toBe(CloseCode.UNAUTHENTICATED_CLOSE)
        expect(info.remote).toBe(false)
        expect(info.transport).toEqual({ code, reason: 'forged' })
        await expect(conn.openBi()).rejects.toMatchObject({
          name: 'ConnectionError',
          code: 'CLOSED',
          closeCode: CloseCode.UNAUTHENTICATED_CLOSE,
        })
      }
    })
  }

  it('a close with code and reason arrives authenticated, whatever the relay says', async () => {
    const { adversary, client, server } = await pair(12)
    // The relay rewrites the transport's close code and reason on the way.
    adversary.onClose = () => ({ closeCode: CloseCode.NORMAL, reason: 'forged' })
    client.close(7, 'done here')
    expect(await server.closed).toEqual({ code: 7, reason: 'done here', remote: true })
    expect(await client.closed).toEqual({ code: 7, reason: 'done here', remote: false })
  })

  it('a close with a reserved code after the handshake is authenticated too', async () => {
    const { adversary, client, server } = await pair(13)
    adversary.onClose = () => ({ closeCode: CloseCode.NORMAL, reason: '' })
    client.closeWith(CloseCode.ENDPOINT_CLOSING, 'endpoint closing')
    expect(await server.closed).toEqual({
      code: CloseCode.ENDPOINT_CLOSING,
      reason: 'endpoint closing',
      remote: true,
    })
  })

  it("a stream reset the relay forges is a RecordError RESET, never the peer's code", async () => {
    const { adversary, client, server } = await pair(14)
    // The opening (preamble and open record, 21 bytes) goes through; then a forged reset.
    adversary.onBidi = (stream, deliver) =>
      deliver({ readable: resetAfter(stream.readable, 21, 42), writable: stream.writable })
    const stream = await client.openBi()
    const writer = stream.writable.getWriter()
    void writer.write(encoder.encode('a request that never ends')).catch(() => undefined)
    const incoming = (await server.bidiStreams().next()).value as BidiStream
    const error = await readFailure(incoming.readable)
    expect(error).toMatchObject({ name: 'RecordError', code: 'RESET' })
    expect((error as { streamErrorCode?: unknown }).streamErrorCode).toBeUndefined()
  })

  it("a stop the relay forges is a RecordError RESET for the writer, never the peer's code", async () => {
    const { adversary, client } = await pair(16)
    adversary.onBidi = (stream) => void stream.readable.cancel(streamError(42)).catch(() => {})
    const stream = await client.openBi()
    const writer = stream.writable.getWriter()
    let error: unknown
    // Writes go on until the forged STOP_SENDING reaches the writer.
    for (;;) {
      try {
        await writer.write(new Uint8Array(1024))
      } catch (e) {
        error = e
        break
      }
    }
    expect(error).toMatchObject({ name: 'RecordError', code: 'RESET' })
    expect((error as Error).cause).toMatchObject({ streamErrorCode: 42 })
  })

  it('an abort with a code arrives authenticated, whatever code the relay puts on the reset', async () => {
    const { adversary, client, server } = await pair(15)
    adversary.onBidi = (stream, deliver) =>
      deliver({ readable: rewriteResets(stream.readable, 7), writable: stream.writable })
    const stream = await client.openBi()
    const writer = stream.writable.getWriter()
    await writer.write(encoder.encode('part'))
    const incoming = (await server.bidiStreams().next()).value as BidiStream
    const reader = incoming.readable.getReader()
    // Once the data is through, the stream is idle: the abort goes in a reset record.
    expect(new TextDecoder().decode((await reader.read()).value)).toBe('part')
    await writer.abort(streamError(42))
    await expect(reader.read()).rejects.toMatchObject({
      name: 'WebTransportError',
      streamErrorCode: 42,
    })
  })
})

describe('datagrams against an adversary in the relay position', () => {
  it('forged datagrams past the integrity limit close the connection with INTEGRITY_LIMIT', async () => {
    const seed = 31
    const network = new MemoryNetwork({ seed })
    const adversary = new Adversary(new Prng(seed))
    const server = await TestEndpoint.create({
      transport: adversary.transport(new MemoryTransport(network)),
      alpns: [alpn],
      _recordLimits: { forgeries: 4 },
    })
    const client = await TestEndpoint.create({ transport: new MemoryTransport(network) })
    const accepted = (async () => {
      for await (const conn of server.incoming()) return conn
      throw new Error('no connection')
    })()
    const conn = await client.connect(server.addr(), alpn)
    const serverConn = await accepted
    expect(serverConn.encrypted).toBe(true)
    const reading = (async () => {
      for await (const _ of serverConn.datagrams()) expect.fail('a forged datagram was delivered')
    })()
    const prng = new Prng(seed)
    for (let sequence = 0; sequence < 5; sequence++) {
      const forged = prng.bytes(40)
      new DataView(forged.buffer).setUint32(0, 0)
      new DataView(forged.buffer).setUint32(4, sequence)
      adversary.injectDatagram(forged)
    }
    const closed = await serverConn.closed
    expect(closed).toMatchObject({ code: CloseCode.INTEGRITY_LIMIT, remote: false })
    // The datagram reader ends with the connection; nothing forged reached it.
    await reading.catch(() => undefined)
    expect((await serverConn.stats()).datagramsRejected).toBe(5)
    // The peer hears the close authenticated, in a close record.
    expect(await conn.closed).toMatchObject({ code: CloseCode.INTEGRITY_LIMIT, remote: true })
    await Promise.all([client.close(), server.close()])
  })
})

/** `readable` split in two: one for the victim, and the bytes of the other, collected. */
function tap(readable: ReadableStream<Uint8Array>): {
  readable: ReadableStream<Uint8Array>
  bytes: Promise<Uint8Array[]>
} {
  const [pass, copy] = readable.tee()
  const bytes = (async () => {
    const chunks: Uint8Array[] = []
    try {
      for await (const chunk of copy) chunks.push(chunk.slice())
    } catch {
      // A stream cut short is recorded as far as it went.
    }
    return chunks
  })()
  return { readable: pass, bytes }
}

describe('forged stream openings against an adversary in the relay position', () => {
  it('past the integrity limit close the connection with INTEGRITY_LIMIT', async () => {
    const seed = 33
    const network = new MemoryNetwork({ seed })
    const adversary = new Adversary(new Prng(seed))
    const server = await TestEndpoint.create({
      transport: adversary.transport(new MemoryTransport(network)),
      alpns: [alpn],
      _recordLimits: { forgeries: 3 },
    })
    const client = await TestEndpoint.create({ transport: new MemoryTransport(network) })
    const accepted = (async () => {
      for await (const conn of server.incoming()) return conn
      throw new Error('no connection')
    })()
    const conn = await client.connect(server.addr(), alpn)
    const serverConn = await accepted
    const reading = (async () => {
      for await (const _ of serverConn.uniStreams()) expect.fail('a forged stream was delivered')
    })()
    const prng = new Prng(seed)
    for (let index = 0; index < 4; index++) {
      // A preamble and an open record header, with a tag the adversary cannot compute.
      const forged = Uint8Array.of(index, 2, 0, 0, 16, ...prng.bytes(16))
      adversary.injectUni(forgedReadable([forged], 'hang'))
    }
    expect(await serverConn.closed).toMatchObject({
      code: CloseCode.INTEGRITY_LIMIT,
      remote: false,
    })
    await reading.catch(() => undefined)
    expect(await conn.closed).toMatchObject({ code: CloseCode.INTEGRITY_LIMIT, remote: true })
    await Promise.all([client.close(), server.close()])
  })
})

describe('replays across connections, by an adversary in the relay position', () => {
  /**
   * A server behind the adversary that answers `echo:` and the request on each bidi stream,
   * and a client that asks it one question over a first connection, every byte of which the
   * adversary records.
   */
  async function recordedConnection(seed: number) {
    const network = new MemoryNetwork({ seed })
    const adversary = new Adversary(new Prng(seed))
    const failures: unknown[] = []
    let failed!: () => void
    const someFailure = new Promise<void>((resolve) => (failed = resolve))
    const server = await TestEndpoint.create({
      transport: adversary.transport(new MemoryTransport(network)),
      alpns: [alpn],
      onError: (error) => {
        failures.push(error)
        failed()
      },
    })
    const seen: string[] = []
    const connections: Connection[] = []
    void (async () => {
      for await (const conn of server.incoming()) {
        connections.push(conn)
        void (async () => {
          for await (const s of conn.bidiStreams()) {
            void readText(s.readable)
              .then((text) => {
                seen.push(text)
                return writeText(s.writable, `echo:${text}`)
              })
              .catch(() => undefined)
          }
        })()
      }
    })()
    // Session 0: every stream the client opens is recorded, the handshake's first.
    const recorded: Promise<Uint8Array[]>[] = []
    adversary.onBidi = (stream, deliver, session) => {
      if (session === 0) {
        const tapped = tap(stream.readable)
        recorded.push(tapped.bytes)
        stream = { readable: tapped.readable, writable: stream.writable }
      }
      deliver(stream)
    }
    const client = await TestEndpoint.create({ transport: new MemoryTransport(network) })
    const first = await client.connect(server.addr(), alpn)
    expect(first.encrypted).toBe(true)
    expect(await ask(first, 'pay 100 to mallory')).toBe('echo:pay 100 to mallory')
    first.close()
    await first.closed
    const streams = await Promise.all(recorded)
    expect(streams.length).toBe(2)
    return { network, adversary, server, client, seen, connections, failures, someFailure, streams }
  }

  it('cannot replay a whole earlier connection: the handshake fails and no request is read', async () => {
    const { network, server, client, seen, connections, failures, someFailure, streams } =
      await recordedConnection(41)
    // The adversary dials the server itself and plays back every stream of the connection.
    const [direct] = server.addr().direct
    const { session } = await new MemoryTransport(network).dial(direct!, [alpn], {})
    // What each played-back stream got back (the server may refuse one mid-write).
    const answers = streams.map(async (chunks) => {
      const stream = await session.createBidirectionalStream()
      const answer = readText(stream.readable).catch(() => '')
      const writer = stream.writable.getWriter()
      try {
        for (const chunk of chunks) await writer.write(chunk)
        await writer.close()
      } catch {
        // Refused.
      }
      return answer
    })
    await someFailure
    expect(failures.length).toBe(1)
    expect((failures[0] as Error).name).toBe('HandshakeError')
    expect((await session.closed).closeCode).toBe(CloseCode.HANDSHAKE_FAILED)
    // Nothing came of the replay: no connection, no request read, no answer.
    await Promise.all(answers).then((texts) => {
      for (const text of texts) expect(text).not.toContain('echo:')
    })
    expect(connections.length).toBe(1)
    expect(seen).toEqual(['pay 100 to mallory'])
    await Promise.all([client.close(), server.close()])
  })

  it('cannot splice an earlier connection’s streams into a later one', async () => {
    const { adversary, server, client, seen, streams } = await recordedConnection(42)
    // A second, genuine connection; next to its first request stream the adversary injects
    // the first connection's request stream (its session's stream 0 is the handshake).
    const injected = recorder()
    let arrived = 0
    adversary.onBidi = (stream, deliver, session) => {
      deliver(stream)
      if (session === 1 && ++arrived === 2) {
        adversary.injectBidi({ readable: forgedReadable(streams[1]!), writable: injected.writable })
      }
    }
    const second = await client.connect(server.addr(), alpn)
    expect(await ask(second, 'pay 5 to alice')).toBe('echo:pay 5 to alice')
    // The replayed stream was refused (aborted unanswered), and never read as a request.
    expect(await injected.done).toEqual({ bytes: new Uint8Array(0), closed: false })
    expect(await ask(second, 'pay 6 to alice')).toBe('echo:pay 6 to alice')
    expect(seen).toEqual(['pay 100 to mallory', 'pay 5 to alice', 'pay 6 to alice'])
    await Promise.all([client.close(), server.close()])
  })
})
