import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { concat, encodeVarint } from '@ferry/wire'
import { H3, WebTransportError, type WebTransportServer } from '../src/index.js'
import type { WebTransportSession } from '../src/index.js'
import type { Http3Connection } from '../src/h3/connection.js'
import {
  FrameReader,
  FrameType,
  decodeGoaway,
  encodeFrame,
  encodeGoaway,
} from '../src/h3/frames.js'
import { decodeFieldSection, encodeFieldSection } from '../src/h3/qpack.js'
import { StreamResetError } from '../src/quic/connection.js'
import { CapsuleReader, CapsuleType, encodeCloseSession } from '../src/wt/capsules.js'
import type { SessionHost } from '../src/wt/host.js'
import { dial, echoBidi, echoRoundTrip, startServer, text } from './helpers.js'
import { RawClient, connectRequest, responseHeaders } from './raw.js'

let server: WebTransportServer
let sessions: WebTransportSession[]

beforeEach(async () => {
  sessions = []
  server = await startServer({
    '/echo': {
      session: (s) => {
        sessions.push(s)
        void echoBidi(s)
      },
    },
  })
})
afterEach(async () => {
  await server.close()
})

const echoRequest = connectRequest('/echo')

/** Reads the frames of one stream the server sent, as they arrive. */
class Frames {
  private readonly reader = new FrameReader({ maxFrameBytes: 65536 })

  constructor(
    private readonly raw: RawClient,
    private readonly id: number,
  ) {}

  /** The next frame other than a reserved (GREASE) one. */
  async next(): Promise<{ type: number; payload: Uint8Array }> {
    for (;;) {
      const f = this.reader.next()
      if (f && f.type <= FrameType.MAX_PUSH_ID) return f
      if (f) continue
      const r = this.raw.quic.readCopy(this.id)
      if (r) {
        this.reader.push(r[0])
        if (r[1] && r[0].length === 0) throw new Error(`stream ${this.id} ended`)
        continue
      }
      await this.raw.whenReadable(this.id)
    }
  }
}

/** The frames of the server's control stream, after its stream type. */
async function serverControl(raw: RawClient): Promise<Frames> {
  // The server's first unidirectional stream (3) is its control stream: type 0x00 first.
  for (;;) {
    const r = raw.quic.readCopy(3, 1)
    if (r) {
      expect(r[0]).toEqual(Uint8Array.of(0x00))
      return new Frames(raw, 3)
    }
    await raw.whenReadable(3)
  }
}

/** Opens a session on request stream `id` and returns the frames that follow the 200. */
async function openSession(raw: RawClient, id: number): Promise<Frames> {
  await raw.quic.write(id, encodeFrame(FrameType.HEADERS, encodeFieldSection(echoRequest)))
  const frames = new Frames(raw, id)
  const headers = await frames.next()
  expect(headers.type).toBe(FrameType.HEADERS)
  expect(decodeFieldSection(headers.payload, { maxHeaderBytes: 65536 })).toContainEqual([
    ':status',
    '200',
  ])
  return frames
}

/** Echoes `message` on a new WebTransport bidi stream `id` of session `sessionId`. */
async function rawEcho(raw: RawClient, id: number, sessionId: number, message: string) {
  const prefix = concat(encodeVarint(FrameType.WEBTRANSPORT_STREAM), encodeVarint(sessionId))
  await raw.quic.write(id, concat(prefix, text.encode(message)), true)
  return text.decode(await raw.readAll(id))
}

describe('server.drain() on the wire', () => {
  it('sends DRAIN to the session and GOAWAY once it has closed; refuses new requests; the session works on', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control()
    const connect = await openSession(raw, 0)
    const control = await serverControl(raw)
    expect((await control.next()).type).toBe(FrameType.SETTINGS)

    const drained = server.drain()
    const data = await connect.next()
    expect(data.type).toBe(FrameType.DATA)
    const capsules = new CapsuleReader({ maxCapsuleBytes: 64 })
    capsules.push(data.payload)
    expect(capsules.next()?.type).toBe(CapsuleType.DRAIN_WEBTRANSPORT_SESSION)
    await sessions[0]!.draining

    // No GOAWAY while the session is open, so that a browser keeps opening its streams; a new
    // session is refused all the same...
    await raw.quic.write(4, encodeFrame(FrameType.HEADERS, encodeFieldSection(echoRequest)))
    expect(await responseHeaders(raw, 4)).toContainEqual([':status', '503'])
    // ...while the draining session still opens streams.
    expect(await rawEcho(raw, 8, 0, 'still draining')).toBe('still draining')

    // Closing the last session completes the drain, and GOAWAY follows.
    await raw.quic.write(0, encodeFrame(FrameType.DATA, encodeCloseSession(3, 'done')), true)
    await drained
    expect(await sessions[0]!.closed).toEqual({ closeCode: 3, reason: 'done' })
    const goaway = await control.next()
    expect(goaway.type).toBe(FrameType.GOAWAY)
    // The first client bidi stream the server has not seen: it saw up to 8.
    expect(decodeGoaway(goaway.payload)).toBe(12)
    // A request past the GOAWAY is not processed (RFC 9114 §5.2), so it may be retried elsewhere.
    await raw.quic.write(12, encodeFrame(FrameType.HEADERS, encodeFieldSection(echoRequest)))
    const refused = await raw.readAll(12).catch((e: unknown) => e)
    expect(refused).toBeInstanceOf(StreamResetError)
    expect((refused as StreamResetError).code).toBe(H3.REQUEST_REJECTED)
    raw.close()
  })
})

describe('GOAWAY from a client', () => {
  it('asks the server-side sessions to drain', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control()
    await openSession(raw, 0)
    // A client's GOAWAY carries a push id: it takes no pushes from 0 on.
    await raw.quic.write(2, encodeGoaway(0))
    await sessions[0]!.draining
    expect(await rawEcho(raw, 4, 0, 'after GOAWAY')).toBe('after GOAWAY')
    raw.close()
  })

  it('a GOAWAY id larger than the one before closes the connection with H3_ID_ERROR', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control(encodeGoaway(8), encodeGoaway(12))
    expect(await raw.closed).toMatchObject({ app: true, code: H3.ID_ERROR, by: 'peer' })
  })
})

describe('the Node client', () => {
  it('keeps a session open through GOAWAY, draining, but opens no new request on that connection', async () => {
    const wt = await dial(server, '/echo')
    await wt.ready
    // A server that sends GOAWAY with sessions open (internals on purpose: ours waits for them
    // to close, see SessionHost.drain).
    const hosts = (server as unknown as { hosts: Set<SessionHost> }).hosts
    for (const host of hosts) host.h3.goaway()
    await wt.draining
    expect(await echoRoundTrip(wt, 'still open')).toBe('still open')
    // The Node client opens one session per connection, so its HTTP/3 layer is where the rule
    // shows: no new request on a connection that got GOAWAY.
    const h3 = (wt as unknown as { h3: Http3Connection }).h3
    expect(h3.peerGoawayId).toBe(4)
    await expect(h3.request(echoRequest)).rejects.toMatchObject({
      name: 'Http3Error',
      code: H3.REQUEST_REJECTED,
    })
    wt.close({ closeCode: 1, reason: 'done' })
    expect(await sessions[0]!.closed).toEqual({ closeCode: 1, reason: 'done' })
  })

  it('through server.drain(): the session drains and carries on, a new one is refused, the drain ends with the session', async () => {
    const wt = await dial(server, '/echo')
    await wt.ready
    const drained = server.drain()
    await wt.draining
    await sessions[0]!.draining
    expect(await echoRoundTrip(wt, 'still open')).toBe('still open')

    // A new connection to the draining server gets GOAWAY with SETTINGS: no session.
    const late = await dial(server, '/echo')
    const error = await late.ready.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(WebTransportError)
    expect((error as WebTransportError).source).toBe('session')

    // The drain waits for the session...
    expect(await Promise.race([drained.then(() => 'drained'), Promise.resolve('waiting')])).toBe(
      'waiting',
    )
    // ...and completes when it closes.
    wt.close({ closeCode: 5, reason: 'moving on' })
    await drained
    expect(await sessions[0]!.closed).toEqual({ closeCode: 5, reason: 'moving on' })
  })
})
