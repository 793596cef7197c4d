import { afterEach, describe, expect, it } from 'vitest'
import { H3 } from '../errors.js'
import { clientConfig, serverConfig } from '../quic/config.js'
import { QuicEndpoint } from '../quic/endpoint.js'
import { certificate } from '../../test/helpers.js'
import {
  Http3Connection,
  defaultLimits,
  type HeaderList,
  type WebTransportHandler,
} from './connection.js'
import { encodeGoaway } from './frames.js'

const get: HeaderList = [
  [':method', 'GET'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', '/'],
]

/** The server's control stream: the first unidirectional stream it opens. */
const serverControlStream = 3

/** A WebTransport handler that only records GOAWAY, for watching the client hear one. */
function goawayWatcher(): { handler: WebTransportHandler; heard: Promise<void> } {
  let resolve!: () => void
  const heard = new Promise<void>((r) => (resolve = r))
  const handler: WebTransportHandler = {
    stream: () => {},
    streamReadable: () => {},
    datagram: () => {},
    goaway: resolve,
    closed: () => {},
  }
  return { handler, heard }
}

const endpoints: QuicEndpoint[] = []
const clients: Http3Connection[] = []
afterEach(async () => {
  // Closing the connections first lets the endpoints close without waiting out their grace.
  for (const client of clients.splice(0)) client.close()
  await Promise.all(endpoints.splice(0).map((e) => e.close()))
})

/**
 * An HTTP/3 server and client over QUIC on loopback. The server hands each request to
 * `onRequest`; `serverGoawayFirst` makes it send GOAWAY with its SETTINGS.
 */
async function connect(
  onRequest: (h3: Http3Connection, streamId: number) => void,
  serverGoawayFirst = false,
): Promise<{ client: Http3Connection; server: Promise<Http3Connection> }> {
  const cert = await certificate()
  let resolveServer!: (h3: Http3Connection) => void
  const server = new Promise<Http3Connection>((r) => (resolveServer = r))
  const listener = await QuicEndpoint.bind({
    acceptConfig: () => serverConfig(cert, {}),
    onConnection: (quic) => {
      const h3 = new Http3Connection(quic, true, defaultLimits, {
        request: (h, streamId) => onRequest(h, streamId),
      })
      if (serverGoawayFirst) h3.goaway()
      resolveServer(h3)
    },
  })
  const dialer = await QuicEndpoint.bind()
  endpoints.push(listener, dialer)
  const quic = dialer.connect('localhost', listener.address, clientConfig(false, {}))
  const client = new Http3Connection(quic, false, defaultLimits)
  clients.push(client)
  await client.settingsReceived()
  return { client, server }
}

const answer200 = (h3: Http3Connection, streamId: number): void =>
  void h3.respond(streamId, [[':status', '200']], true)

describe('GOAWAY at the HTTP/3 layer (RFC 9114 §5.2)', () => {
  it('a client that got GOAWAY puts no new request on the connection', async () => {
    const { client, server } = await connect(answer200)
    const watcher = goawayWatcher()
    client.webtransport = watcher.handler
    const first = await client.request(get)
    expect(await first.response).toContainEqual([':status', '200'])
    ;(await server).goaway()
    await watcher.heard
    // Stream 0 was processed, so the server names 4: the first it will not process.
    expect(client.peerGoawayId).toBe(4)
    await expect(client.request(get)).rejects.toMatchObject({
      name: 'Http3Error',
      code: H3.REQUEST_REJECTED,
    })
  })

  it('a GOAWAY sent before the handshake ends goes out with SETTINGS and names stream 0', async () => {
    const { client } = await connect(answer200, true)
    // SETTINGS and GOAWAY arrive in one read, so the client knows before it could ask.
    expect(client.peerGoawayId).toBe(0)
    await expect(client.request(get)).rejects.toMatchObject({ code: H3.REQUEST_REJECTED })
  })

  it('a request at or above the GOAWAY id fails: the server did not process it', async () => {
    let received!: () => void
    const requestArrived = new Promise<void>((r) => (received = r))
    const { client, server } = await connect(() => received())
    const { response } = await client.request(get)
    await requestArrived
    // The server saw stream 0 but tells the client it will not process it.
    await (await server).quic.write(serverControlStream, encodeGoaway(0))
    await expect(response).rejects.toMatchObject({ name: 'Http3Error', code: H3.REQUEST_REJECTED })
  })

  it('a request below the GOAWAY id is still answered', async () => {
    // The server goes away after stream 0 arrived, so stream 0 is processed and answered.
    const { client } = await connect((h3, streamId) => {
      h3.goaway()
      answer200(h3, streamId)
    })
    const watcher = goawayWatcher()
    client.webtransport = watcher.handler
    const { response } = await client.request(get)
    expect(await response).toContainEqual([':status', '200'])
    await watcher.heard
    expect(client.peerGoawayId).toBe(4)
  })

  it('a GOAWAY that breaks §5.2 closes the connection with H3_ID_ERROR', async () => {
    // The rules themselves are tested in control.test.ts; here, that the connection acts on them.
    const { client, server } = await connect(answer200)
    const closed = client.whenClosed().then(() => client.closeInfo)
    await (await server).quic.write(serverControlStream, encodeGoaway(2))
    expect(await closed).toMatchObject({ app: true, code: H3.ID_ERROR, by: 'local' })
  })
})
