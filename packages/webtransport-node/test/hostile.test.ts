import dgram from 'node:dgram'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { concat, encodeVarint } from '@ferry/wire'
import { H3, WebTransportServer } from '../src/index.js'
import { FrameType, encodeFrame } from '../src/h3/frames.js'
import { encodeFieldSection } from '../src/h3/qpack.js'
import { StreamType } from '../src/h3/frames.js'
import { StreamResetError, StreamStoppedError } from '../src/quic/connection.js'
import { Prng } from '@ferry/core/testing'
import { certificate, dial, echoBidi, echoRoundTrip, startServer, text } from './helpers.js'
import { RawClient, connectRequest, responseHeaders } from './raw.js'

let server: WebTransportServer

beforeEach(async () => {
  server = await startServer({ '/echo': { session: (s) => void echoBidi(s) } })
})
afterEach(async () => {
  await server.close()
})

/** A well-behaved client still gets its echo: the server survived. */
async function wellBehavedEcho(): Promise<void> {
  const wt = await dial(server, '/echo')
  expect(await echoRoundTrip(wt, 'still here?')).toBe('still here?')
  wt.close()
}

/** Sends a GET for `path` on stream `id` and expects the server to answer 404. */
async function expectNotFound(raw: RawClient, id: number, path: string): Promise<void> {
  const get: [string, string][] = [
    [':method', 'GET'],
    [':scheme', 'https'],
    [':authority', 'localhost'],
    [':path', path],
  ]
  await raw.quic.write(id, encodeFrame(FrameType.HEADERS, encodeFieldSection(get)), true)
  expect(await responseHeaders(raw, id)).toContainEqual([':status', '404'])
}

describe('hostile clients', () => {
  it('a malformed QPACK block closes that connection with QPACK_DECOMPRESSION_FAILED', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control()
    // Required Insert Count 5: refers to a dynamic table the server said it does not have.
    await raw.quic.write(0, encodeFrame(FrameType.HEADERS, Uint8Array.of(0x05, 0x00, 0x80)))
    const info = await raw.closed
    expect(info).toMatchObject({ app: true, code: H3.QPACK_DECOMPRESSION_FAILED, by: 'peer' })
    await wellBehavedEcho()
  })

  it('an oversized header section gets 431 on that stream; the connection lives', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control()
    const headers = [
      ...connectRequest('/echo'),
      ['x-padding', 'a'.repeat(40_000)] as [string, string],
    ]
    // The server may stop our sending before all of it is out (STOP_SENDING): that is allowed.
    const sending = raw.quic
      .write(0, encodeFrame(FrameType.HEADERS, encodeFieldSection(headers)), true)
      .catch((e: unknown) => e)
    const response = await responseHeaders(raw, 0)
    const sent = await sending
    if (sent !== undefined) {
      expect(sent).toBeInstanceOf(StreamStoppedError)
      expect((sent as StreamStoppedError).code).toBe(H3.REQUEST_REJECTED)
    }
    expect(response).toContainEqual([':status', '431'])
    // Same connection, next request: answered normally.
    await raw.quic.write(
      4,
      encodeFrame(FrameType.HEADERS, encodeFieldSection(connectRequest('/echo'))),
    )
    expect(await responseHeaders(raw, 4)).toContainEqual([':status', '200'])
    raw.close()
    await wellBehavedEcho()
  })

  it('a DATA frame on the control stream closes the connection with H3_FRAME_UNEXPECTED', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control(encodeFrame(FrameType.DATA, text.encode('nope')))
    expect(await raw.closed).toMatchObject({ app: true, code: H3.FRAME_UNEXPECTED, by: 'peer' })
    await wellBehavedEcho()
  })

  it('a control stream that does not start with SETTINGS is H3_MISSING_SETTINGS', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.quic.write(
      2,
      concat(encodeVarint(StreamType.CONTROL), encodeFrame(FrameType.GOAWAY, encodeVarint(0))),
    )
    expect(await raw.closed).toMatchObject({ app: true, code: H3.MISSING_SETTINGS })
    await wellBehavedEcho()
  })

  it('a stream naming a session that is gone is refused with WT_SESSION_GONE', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control()
    // Stream 0 is an ordinary request (404): it never becomes a session.
    await expectNotFound(raw, 0, '/')
    // A WebTransport bidi stream claiming session 0.
    await raw.quic.write(
      4,
      concat(encodeVarint(FrameType.WEBTRANSPORT_STREAM), encodeVarint(0), text.encode('hi')),
    )
    // Our sending is stopped (STOP_SENDING) and the server's side reset, both with that code.
    const stopped = await (async () => {
      for (;;) await raw.quic.write(4, new Uint8Array(1024))
    })().catch((e: unknown) => e)
    expect(stopped).toBeInstanceOf(StreamStoppedError)
    expect((stopped as StreamStoppedError).code).toBe(H3.WT_SESSION_GONE)
    const error = await raw.readAll(4).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(StreamResetError)
    expect((error as StreamResetError).code).toBe(H3.WT_SESSION_GONE)
    raw.close()
    await wellBehavedEcho()
  })

  it('an ordinary HTTP/3 request gets a status instead of hanging', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control()
    await expectNotFound(raw, 0, '/index.html')
    raw.close()
  })

  it('garbage UDP datagrams are dropped without state', async () => {
    const socket = dgram.createSocket('udp4')
    const prng = new Prng(0xfe77)
    for (let i = 0; i < 500; i++) {
      const packet = prng.bytes(1 + prng.int(1400))
      // Half of them look like long-header Initials, to get past the first check.
      if (i % 2 === 0) packet[0] = 0xc0 | (packet[0]! & 0x0f)
      await new Promise<void>((resolve) =>
        socket.send(packet, server.port, '127.0.0.1', () => resolve()),
      )
    }
    socket.close()
    await wellBehavedEcho()
    // None of the garbage made a connection: only the well-behaved client's may still be closing.
    expect(server.connectionCount).toBeLessThanOrEqual(1)
  })
})

describe('limits and ordering', () => {
  it('refuses sessions past maxSessionsPerConnection with 429 and streams past maxStreamsPerSession', async () => {
    const server2 = await WebTransportServer.listen({
      certificate: await certificate(),
      limits: { maxSessionsPerConnection: 2, maxStreamsPerSession: 2 },
    })
    server2.route('/hold', { session: () => {} })
    try {
      const raw = await RawClient.connect(server2.port)
      await raw.control()
      for (const id of [0, 4, 8]) {
        await raw.quic.write(
          id,
          encodeFrame(FrameType.HEADERS, encodeFieldSection(connectRequest('/hold'))),
        )
      }
      expect(await responseHeaders(raw, 0)).toContainEqual([':status', '200'])
      expect(await responseHeaders(raw, 4)).toContainEqual([':status', '200'])
      expect(await responseHeaders(raw, 8)).toContainEqual([':status', '429'])
      // Session 0 holds two uni streams it never reads; a third is refused.
      const prefix = (sid: number): Uint8Array =>
        concat(encodeVarint(StreamType.WEBTRANSPORT_UNI), encodeVarint(sid))
      await raw.quic.write(2 + 4, concat(prefix(0), text.encode('one')))
      await raw.quic.write(2 + 8, concat(prefix(0), text.encode('two')))
      const third = await (async () => {
        for (;;) await raw.quic.write(2 + 12, concat(prefix(0), new Uint8Array(1024)))
      })().catch((e: unknown) => e)
      expect(third).toBeInstanceOf(StreamStoppedError)
      expect((third as StreamStoppedError).code).toBe(H3.REQUEST_REJECTED)
      raw.close()
    } finally {
      await server2.close()
    }
  })

  it('holds a stream that arrives before its session, then delivers it', async () => {
    const raw = await RawClient.connect(server.port)
    await raw.control()
    // Bidi stream 4 names session 0 before the CONNECT on stream 0 is sent.
    await raw.quic.write(
      4,
      concat(
        encodeVarint(FrameType.WEBTRANSPORT_STREAM),
        encodeVarint(0),
        text.encode('early bird'),
      ),
      true,
    )
    await raw.quic.write(
      0,
      encodeFrame(FrameType.HEADERS, encodeFieldSection(connectRequest('/echo'))),
    )
    expect(await responseHeaders(raw, 0)).toContainEqual([':status', '200'])
    expect(text.decode(await raw.readAll(4))).toBe('early bird')
    raw.close()
  })
})

describe('seeded garbage on every kind of stream', () => {
  it('ends only the offending streams or connections, never the server', async () => {
    const errors: unknown[] = []
    const outcomes: string[] = []
    const fuzzed = await WebTransportServer.listen({
      certificate: await certificate(),
      onError: (e) => errors.push(e),
    })
    fuzzed.route('/echo', { session: (s) => void echoBidi(s) })
    try {
      for (let seed = 1; seed <= 12; seed++) {
        const prng = new Prng(seed)
        const raw = await RawClient.connect(fuzzed.port)
        const garbage = (): Uint8Array => prng.bytes(1 + prng.int(300))
        // Valid SETTINGS, then (every third seed) random bytes on the control stream; a random
        // request stream; a uni stream of a random type; a WebTransport stream naming a random
        // session.
        await raw.control(seed % 3 === 0 ? garbage() : new Uint8Array(0))
        const writes = [
          raw.quic.write(0, garbage(), prng.int(2) === 0),
          raw.quic.write(6, concat(encodeVarint(prng.int(0x60)), garbage()), true),
          raw.quic.write(8, concat(encodeVarint(0x41), encodeVarint(prng.int(64) * 4), garbage())),
        ]
        // Then a well-formed CONNECT: either the connection is already gone, or it is answered.
        const connect = raw.quic.write(
          4,
          encodeFrame(FrameType.HEADERS, encodeFieldSection(connectRequest('/echo'))),
        )
        outcomes.push(
          await Promise.race([
            raw.closed.then((info) => `closed with 0x${info.code.toString(16)}`),
            responseHeaders(raw, 4).then(
              (h) => `answered ${h.find(([n]) => n === ':status')?.[1]}`,
            ),
          ]),
        )
        await Promise.allSettled([...writes, connect])
        raw.close()
      }
      for (const o of outcomes) expect(o).toMatch(/^(closed with 0x[0-9a-f]+|answered \d{3})$/)
      expect(errors).toEqual([])
      const wt = await dial(fuzzed, '/echo')
      expect(await echoRoundTrip(wt, 'after the storm')).toBe('after the storm')
      wt.close()
    } finally {
      await fuzzed.close()
    }
  })
})
