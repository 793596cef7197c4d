/**
 * Endpoints that reach each other only through a relay, over the in-memory network: dial by
 * EndpointId, the whole Connection API on the relayed path, and the relay's refusals as
 * typed errors.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { CloseCode, type Connection, RelayCode, RelayError, SecretKey } from '@ferry/core'
import type { DirectAddr } from '@ferry/core'
import {
  MemoryNetwork,
  MemoryTransport,
  TestEndpoint,
  readText,
  writeText,
} from '@ferry/core/testing'
import { Relay } from '../src/relay/relay.js'

const alpn = 'relayed/1'
const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

/** A relay on the memory network, and endpoints that know only it (no direct listening). */
async function world(seed: number) {
  const network = new MemoryNetwork({ seed })
  const relay = new Relay({ secretKey: await SecretKey.generate() })
  const relayTransport = new MemoryTransport(network)
  relayTransport.listen(relay.listener())
  cleanup.push(
    () => relay.close(),
    () => relayTransport.close(),
  )
  const relayAddr: DirectAddr = relayTransport.directAddrs()[0]!
  const endpoint = async (alpns: string[] = []): Promise<TestEndpoint> => {
    // A transport that cannot listen: like a browser, reachable only through the relay.
    const inner = new MemoryTransport(network)
    const ep = await TestEndpoint.create({
      transport: {
        dial: (addr, offer, options) => inner.dial(addr, offer, options),
        directAddrs: () => [],
        close: () => inner.close(),
      },
      alpns,
      relay: relayAddr,
    })
    cleanup.push(() => ep.close())
    await ep.online()
    return ep
  }
  return { network, relay, relayAddr, endpoint }
}

/** The first connection `ep` accepts. */
async function firstIncoming(ep: TestEndpoint): Promise<Connection> {
  for await (const conn of ep.incoming()) return conn
  throw new Error('the endpoint closed without a connection')
}

describe('relayed connections', () => {
  it('connect by EndpointId alone, end-to-end encrypted, streams both ways', async () => {
    const { relay, endpoint } = await world(1)
    const server = await endpoint([alpn])
    const client = await endpoint()
    expect(relay.clients).toBe(2)
    expect(client.addr().relay).toBeDefined()
    const accepted = firstIncoming(server)
    const conn = await client.connect(server.id, alpn)
    const serverConn = await accepted
    expect(conn.path).toBe('relay')
    expect(serverConn.path).toBe('relay')
    expect(conn.encrypted && serverConn.encrypted).toBe(true)
    expect(conn.remoteId.equals(server.id)).toBe(true)
    expect(serverConn.remoteId.equals(client.id)).toBe(true)
    expect(conn.alpn).toBe(alpn)

    // Bidi, opened by either side, and uni.
    const answering = (async () => {
      for await (const s of serverConn.bidiStreams()) {
        const text = await readText(s.readable)
        await writeText(s.writable, `echo:${text}`)
      }
    })()
    for (const text of ['one', 'two', 'three']) {
      const s = await conn.openBi()
      const [, answer] = await Promise.all([writeText(s.writable, text), readText(s.readable)])
      expect(answer).toBe(`echo:${text}`)
    }
    const uni = await serverConn.openUni()
    const received = (async () => {
      for await (const r of conn.uniStreams()) return readText(r)
      return ''
    })()
    await writeText(uni, 'from the server')
    expect(await received).toBe('from the server')

    // Datagrams both ways.
    const gotByServer = (async () => {
      for await (const d of serverConn.datagrams()) return new TextDecoder().decode(d)
      return ''
    })()
    const gotByClient = (async () => {
      for await (const d of conn.datagrams()) return new TextDecoder().decode(d)
      return ''
    })()
    await conn.sendDatagram(new TextEncoder().encode('ping'))
    await serverConn.sendDatagram(new TextEncoder().encode('pong'))
    expect(await gotByServer).toBe('ping')
    expect(await gotByClient).toBe('pong')

    // A close with code and reason, seen authenticated on the other side.
    conn.close(7, 'bye')
    expect(await serverConn.closed).toMatchObject({ code: 7, reason: 'bye', remote: true })
    expect(await conn.closed).toMatchObject({ code: 7, reason: 'bye', remote: false })
    await answering.catch(() => undefined)
  })

  it('refuses an offline target at once with RelayError OFFLINE', async () => {
    const { endpoint } = await world(2)
    const client = await endpoint()
    const nobody = (await SecretKey.generate()).publicKey
    const error = await client.connect(nobody, alpn).then(
      () => expect.fail('connected to nobody'),
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(RelayError)
    expect((error as RelayError).code).toBe('OFFLINE')
  })

  it('reports an ALPN the target does not serve as ALPN_REFUSED', async () => {
    const { endpoint } = await world(3)
    const server = await endpoint(['other/1'])
    const client = await endpoint()
    await expect(client.connect(server.id, alpn)).rejects.toMatchObject({
      name: 'ConnectError',
      code: 'ALPN_REFUSED',
    })
  })

  it('closes relayed connections with PEER_GONE when the peer leaves the relay', async () => {
    const { endpoint } = await world(4)
    const server = await endpoint([alpn])
    const client = await endpoint()
    const accepted = firstIncoming(server)
    const conn = await client.connect(server.id, alpn)
    await accepted
    await server.close()
    const closed = await conn.closed
    // The peer's authenticated close (ENDPOINT_CLOSING) or, if the relay's word comes first,
    // the transport's, reported as unauthenticated.
    expect([CloseCode.ENDPOINT_CLOSING, CloseCode.UNAUTHENTICATED_CLOSE]).toContain(closed.code)
    if (closed.code === CloseCode.UNAUTHENTICATED_CLOSE) {
      expect(closed.transport?.code).toBe(RelayCode.PEER_GONE)
    }
  })
})
