import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { ConnectionClosedError, H3, WebTransportError } from '../src/index.js'
import type { WebTransport, WebTransportServer, WebTransportSession } from '../src/index.js'
import { encodeCloseSession } from '../src/wt/capsules.js'
import { QuicEndpoint } from '../src/quic/endpoint.js'
import { dial, startServer } from './helpers.js'

let server: WebTransportServer
let accepted: ((session: WebTransportSession) => void)[]

beforeEach(async () => {
  accepted = []
  server = await startServer({ '/s': { session: (s) => accepted.shift()?.(s) } })
})
afterEach(async () => {
  await server.close()
})

/** A connected Node client and the server's side of its session. */
async function pair(): Promise<{ client: WebTransport; peer: WebTransportSession }> {
  const peer = new Promise<WebTransportSession>((resolve) => accepted.push(resolve))
  const client = await dial(server, '/s')
  await client.ready
  return { client, peer: await peer }
}

/**
 * Records, in order, when the client's `closed` settles and when its QUIC connection has
 * drained (quiche keeps a closed connection three PTOs longer, RFC 9000 §10.2), and the state
 * of the QUIC connection at the moment `closed` settled.
 */
function observe(client: WebTransport): {
  events: string[]
  closed: Promise<unknown>
  drained: Promise<void>
  atClose: { peerClosed: boolean; quicheClosed: boolean }
} {
  const events: string[] = []
  const native = client.host!.quic.native
  const atClose = { peerClosed: false, quicheClosed: false }
  const settled = (): void => {
    events.push('closed')
    atClose.peerClosed = native.peerError() !== null
    atClose.quicheClosed = native.isClosed()
  }
  const closed = client.closed.then(
    (info) => (settled(), info),
    (e: unknown) => (settled(), Promise.reject(e as Error)),
  )
  closed.catch(() => {})
  const drained = client.host!.quic.drained.then(() => void events.push('drained'))
  return { events, closed, drained, atClose }
}

describe("a peer's close is reported at once", () => {
  it('settles closed on the CLOSE capsule alone, without waiting for a FIN or the connection', async () => {
    const { client, peer } = await pair()
    const seen = observe(client)
    // As an implementation that sends the capsule and closes the stream or connection later.
    await peer.host!.h3.sendData(peer.id, encodeCloseSession(7, 'done here'), false)
    expect(await seen.closed).toEqual({ closeCode: 7, reason: 'done here' })
    expect(seen.atClose).toEqual({ peerClosed: false, quicheClosed: false })
  })

  it('settles closed on a CONNECTION_CLOSE, while the connection is still draining', async () => {
    const { client, peer } = await pair()
    const seen = observe(client)
    peer.host!.h3.close(H3.NO_ERROR, 'bye')
    expect(await seen.closed).toEqual({ closeCode: 0, reason: 'bye' })
    // Settled on the peer's CONNECTION_CLOSE, before quiche's draining period ended.
    expect(seen.atClose).toEqual({ peerClosed: true, quicheClosed: false })
    await seen.drained
    expect(seen.events).toEqual(['closed', 'drained'])
  })

  it('reports a capsule that the CONNECTION_CLOSE right behind it carries along', async () => {
    const { client, peer } = await pair()
    const seen = observe(client)
    const h3 = peer.host!.h3
    await h3.sendData(peer.id, encodeCloseSession(9, 'last words'), false)
    // The pass that puts the capsule on the wire was queued by the write, so it runs first.
    await new Promise((resolve) => setImmediate(resolve))
    h3.close(H3.NO_ERROR, 'bye')
    expect(await seen.closed).toEqual({ closeCode: 9, reason: 'last words' })
    expect(seen.atClose.quicheClosed).toBe(false)
    await seen.drained
    expect(seen.events).toEqual(['closed', 'drained'])
  })
})

describe('connection close codes (RFC 9114 §9)', () => {
  // A reserved (GREASE) code, 0x1f * 3 + 0x21, and one no specification defines.
  for (const code of [0x1f * 3 + 0x21, 0x7f3a]) {
    it(`an unknown application code 0x${code.toString(16)} is no error: closed resolves`, async () => {
      const { client, peer } = await pair()
      peer.host!.h3.close(code, 'unknown code')
      expect(await client.closed).toEqual({ closeCode: 0, reason: 'unknown code' })
    })
  }

  it('a known HTTP/3 error code rejects closed, with the code in its cause', async () => {
    const { client, peer } = await pair()
    peer.host!.h3.close(H3.INTERNAL_ERROR, 'broken')
    const error = await client.closed.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(WebTransportError)
    expect((error as WebTransportError).source).toBe('session')
    expect((error as WebTransportError).cause).toBeInstanceOf(ConnectionClosedError)
    expect((error as WebTransportError).cause).toMatchObject({
      app: true,
      code: H3.INTERNAL_ERROR,
      by: 'peer',
    })
  })

  it('a QUIC transport error rejects closed', async () => {
    const { client, peer } = await pair()
    // PROTOCOL_VIOLATION (RFC 9000 §20.1).
    peer.host!.quic.closeTransport(0xa, 'violation')
    const error = await client.closed.then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(WebTransportError)
    expect((error as WebTransportError).cause).toMatchObject({ app: false, code: 0xa, by: 'peer' })
  })
})

describe('a closed QUIC endpoint', () => {
  it('drops what a connection still sends after the socket closed, instead of throwing', async () => {
    const endpoint = await QuicEndpoint.bind({ host: '127.0.0.1' })
    // Any address: nothing is listening there, and nothing needs to.
    const to = { host: '127.0.0.1', port: 9 }
    endpoint.sendPacket(new Uint8Array(10), to)
    await endpoint.close(0)
    // A late timer's packet: Node's dgram would throw ERR_SOCKET_DGRAM_NOT_RUNNING.
    expect(() => endpoint.sendPacket(new Uint8Array(10), to)).not.toThrow()
  })
})
