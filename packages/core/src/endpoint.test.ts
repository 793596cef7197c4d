import { describe, expect, it } from 'vitest'
import { CloseCode, type Connection } from './connection.js'
import type { Endpoint } from './endpoint.js'
import { ConnectError, ConnectionError, HandshakeError } from './errors.js'
import { SecretKey } from './identity.js'
import { encodeVarint } from './codec/varint.js'
import { concat, utf8 } from './internal/bytes.js'
import { dhKeyPairFromSecret, NoiseXX } from './secure/noise.js'
import { MemoryNetwork } from './memory/network.js'
import { MemoryTransport } from './memory/transport.js'
import { TestEndpoint } from './testing/endpoint.js'
import { Router, type ProtocolHandler } from './router.js'
import { EndpointTicket } from './ticket.js'
import { next, readText, writeText } from './testing.js'

const encoder = new TextEncoder()
const decoder = new TextDecoder()

async function endpoint(network: MemoryNetwork, alpns?: string[]): Promise<Endpoint> {
  return TestEndpoint.create({
    secretKey: await SecretKey.generate(),
    transport: new MemoryTransport(network),
    alpns,
  })
}

/** A handler that echoes each bidi stream, prefixed with its name, and records connections. */
function namedEcho(name: string): ProtocolHandler & { seen: Connection[]; shutdowns: number } {
  const handler = {
    seen: [] as Connection[],
    shutdowns: 0,
    async accept(conn: Connection): Promise<void> {
      handler.seen.push(conn)
      for await (const stream of conn.bidiStreams()) {
        const text = await readText(stream.readable)
        await writeText(stream.writable, `${name}:${text}`)
      }
    },
    shutdown(): void {
      handler.shutdowns++
    },
  }
  return handler
}

async function ask(conn: Connection, text: string): Promise<string> {
  const stream = await conn.openBi()
  const [, answer] = await Promise.all([
    writeText(stream.writable, text),
    readText(stream.readable),
  ])
  return answer
}

describe('Endpoint and Router over the in-memory network', () => {
  it('connects by ticket; both ends see the authenticated ids; streams and datagrams work', async () => {
    const network = new MemoryNetwork({ seed: 3 })
    const server = await endpoint(network, ['echo/1'])
    const client = await endpoint(network)
    const ticket = server.ticket().toString()
    const [conn, accepted] = await Promise.all([
      client.connect(ticket, 'echo/1'),
      next(server.incoming()),
    ])
    expect(conn.remoteId.equals(server.id)).toBe(true)
    expect(accepted.remoteId.equals(client.id)).toBe(true)
    expect(conn.alpn).toBe('echo/1')
    expect(conn.encrypted).toBe(true) // no certificate to bind: end-to-end encrypted
    expect(conn.path).toBe('direct')

    // bidi, both directions, opened by either side
    const [answer] = await Promise.all([
      ask(conn, 'ping'),
      (async () => {
        const s = await next(accepted.bidiStreams())
        await writeText(s.writable, `pong:${await readText(s.readable)}`)
      })(),
    ])
    expect(answer).toBe('pong:ping')
    const [fromServer] = await Promise.all([
      (async () => readText(await next(conn.uniStreams())))(),
      (async () => writeText(await accepted.openUni(), 'uni from the acceptor'))(),
    ])
    expect(fromServer).toBe('uni from the acceptor')

    // datagrams (the memory network loses none by default)
    const incoming = accepted.datagrams()
    await conn.sendDatagram(encoder.encode('a datagram'))
    const got = await incoming.next()
    expect(decoder.decode(got.value as Uint8Array)).toBe('a datagram')
    expect(conn.maxDatagramSize).toBeLessThan(1200)

    conn.close(42, 'bye')
    expect(await accepted.closed).toEqual({ code: 42, reason: 'bye', remote: true })
    expect(await conn.closed).toEqual({ code: 42, reason: 'bye', remote: false })
    await expect(conn.openBi()).rejects.toBeInstanceOf(ConnectionError)
    expect((await accepted.bidiStreams().next()).done).toBe(true)
    await Promise.all([server.close(), client.close()])
  })

  it('routes by ALPN to two handlers and negotiates the best common version', async () => {
    const network = new MemoryNetwork({ seed: 5 })
    const server = await endpoint(network)
    const chat = namedEcho('chat')
    const files = namedEcho('files')
    const router = Router.builder(server)
      .accept('chat/2', chat)
      .accept('chat/1', chat)
      .accept('files/1', files)
      .spawn()
    const client = await endpoint(network)
    const addr = server.addr()

    const newest = await client.connect(addr, ['chat/3', 'chat/2', 'chat/1'])
    expect(newest.alpn).toBe('chat/2')
    expect(await ask(newest, 'hi')).toBe('chat:hi')
    const older = await client.connect(addr, ['chat/1'])
    expect(older.alpn).toBe('chat/1')
    const file = await client.connect(addr, 'files/1')
    expect(await ask(file, 'doc')).toBe('files:doc')
    expect(chat.seen.map((c) => c.alpn)).toEqual(['chat/2', 'chat/1'])
    expect(files.seen.map((c) => c.remoteId.equals(client.id))).toEqual([true])

    await router.shutdown()
    expect(chat.shutdowns).toBe(2)
    expect(files.shutdowns).toBe(1)
    expect(await newest.closed).toMatchObject({ code: CloseCode.ENDPOINT_CLOSING, remote: true })
    expect(server.isClosed).toBe(true)
    await client.close()
  })

  it('refuses an ALPN nobody serves with its close code', async () => {
    const network = new MemoryNetwork({ seed: 9 })
    const errors: unknown[] = []
    const server = await TestEndpoint.create({
      transport: new MemoryTransport(network),
      alpns: ['chat/1'],
      onError: (e) => errors.push(e),
    })
    const client = await endpoint(network)
    const refused = await client.connect(server.addr(), ['video/1']).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(ConnectError)
    expect((refused as ConnectError).code).toBe('ALPN_REFUSED')
    expect(errors).toHaveLength(1)
    await Promise.all([server.close(), client.close()])
  })

  it('refuses an endpoint that is not the one dialed', async () => {
    const network = new MemoryNetwork({ seed: 11 })
    const server = await endpoint(network, ['chat/1'])
    const client = await endpoint(network)
    const someoneElse = (await SecretKey.generate()).publicKey
    const lie = new EndpointTicket({ id: someoneElse, direct: server.addr().direct })
    const refused = await client.connect(lie, 'chat/1').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(HandshakeError)
    expect((refused as HandshakeError).code).toBe('WRONG_ENDPOINT')
    expect(client.connections.size).toBe(0)
    await Promise.all([server.close(), client.close()])
  })

  it('reports a handshake that never starts as a timeout and closes the session', async () => {
    const network = new MemoryNetwork({ seed: 13 })
    const errors: unknown[] = []
    const server = await TestEndpoint.create({
      transport: new MemoryTransport(network),
      alpns: ['chat/1'],
      handshakeTimeoutMs: 50,
      onError: (e) => errors.push(e),
    })
    // A dialer that opens the session and then says nothing.
    const url = `memory://${new URL(server.addr().direct[0]!.url).hostname.split('.')[0]}`
    const silent = await network.dial(url, ['chat/1'])
    const closed = await silent.closed
    expect(closed.closeCode).toBe(CloseCode.HANDSHAKE_FAILED)
    expect(closed.reason).toBe('TIMEOUT')
    expect(errors[0]).toMatchObject({ name: 'HandshakeError', code: 'TIMEOUT' })
    await server.close()
  })

  it('refuses a version-1 dialer with a close every version reads: HANDSHAKE_FAILED, UNSUPPORTED_VERSION', async () => {
    const network = new MemoryNetwork({ seed: 17 })
    const errors: unknown[] = []
    const server = await TestEndpoint.create({
      transport: new MemoryTransport(network),
      alpns: ['chat/1'],
      onError: (e) => errors.push(e),
    })
    // What a version-1 dialer sends on the first stream: message 1 with version byte 1.
    const url = `memory://${new URL(server.addr().direct[0]!.url).hostname.split('.')[0]}`
    const old = await network.dial(url, ['chat/1'])
    const noise = await NoiseXX.initiator({
      staticKey: await dhKeyPairFromSecret(new Uint8Array(32).fill(0x11)),
      prologue: utf8('ferry/handshake/1'),
    })
    const message1 = await noise.writeMessage(concat(Uint8Array.of(1, 1, 6), utf8('chat/1')))
    const stream = await old.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(concat(encodeVarint(message1.length), message1))
    const closed = await old.closed
    expect(closed.closeCode).toBe(CloseCode.HANDSHAKE_FAILED)
    expect(closed.reason).toBe('UNSUPPORTED_VERSION')
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({ name: 'HandshakeError', code: 'UNSUPPORTED_VERSION' })
    expect((errors[0] as Error).message).toMatch(/version 1\b.*version 2/)
    await server.close()
  })

  it('reports an acceptor that refuses its handshake version as UNSUPPORTED_VERSION', async () => {
    const network = new MemoryNetwork({ seed: 19 })
    // An acceptor of another version reads message 1's version byte and closes, as this one
    // does (and as version 1 did).
    const url = network.listen({
      choose: (offer) => offer[0],
      session(session) {
        void (async () => {
          const reader = session.incomingBidirectionalStreams.getReader()
          const { value: stream } = await reader.read()
          await stream?.readable.getReader().read()
          session.close({ closeCode: CloseCode.HANDSHAKE_FAILED, reason: 'UNSUPPORTED_VERSION' })
        })()
      },
    })
    const client = await endpoint(network)
    const id = (await SecretKey.generate()).publicKey
    const direct = [{ url: `https://${new URL(url).host}.memory.invalid/`, certHashes: [] }]
    const refused = await client.connect({ id, direct }, 'chat/1').catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(HandshakeError)
    expect((refused as HandshakeError).code).toBe('UNSUPPORTED_VERSION')
    expect((refused as HandshakeError).message).toContain('version 2')
    expect(client.connections.size).toBe(0)
    await client.close()
  })

  it('refuses connect after close, and with no address', async () => {
    const network = new MemoryNetwork()
    const server = await endpoint(network, ['chat/1'])
    const client = await endpoint(network)
    await expect(client.connect({ id: server.id, direct: [] }, 'chat/1')).rejects.toMatchObject({
      name: 'ConnectError',
      code: 'NO_ADDRESS',
    })
    await client.close()
    await expect(client.connect(server.addr(), 'chat/1')).rejects.toMatchObject({
      code: 'CLOSED',
    })
    const aborted = new AbortController()
    aborted.abort()
    const other = await endpoint(network)
    await expect(
      other.connect(server.addr(), 'chat/1', { signal: aborted.signal }),
    ).rejects.toMatchObject({ name: 'ConnectError', code: 'ABORTED' })
    await Promise.all([server.close(), other.close()])
  })

  it('carries many concurrent encrypted streams intact under a seeded scheduler', async () => {
    for (const seed of [1, 2, 3]) {
      const network = new MemoryNetwork({ seed })
      const server = await endpoint(network)
      const router = Router.builder(server)
        .accept('echo/1', {
          async accept(conn) {
            for await (const s of conn.bidiStreams()) void s.readable.pipeTo(s.writable)
          },
        })
        .spawn()
      const client = await endpoint(network)
      const conn = await client.connect(server.addr(), 'echo/1')
      const texts = Array.from({ length: 20 }, (_, i) => `stream ${i} `.repeat(1 + i * 300))
      const answers = await Promise.all(texts.map((t) => ask(conn, t)))
      expect(answers).toEqual(texts)
      await router.shutdown()
      await client.close()
    }
  })
})
