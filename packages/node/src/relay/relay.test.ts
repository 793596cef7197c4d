import { CloseCode, SecretKey } from '@ferry/core'
import {
  decodeDatagram,
  encodeControl,
  encodeDatagram,
  relayAlpn,
  RelayCode,
  signAuth,
} from '@ferry/core/internal'
import { readBytes } from '@ferry/core/testing'
import { describe, expect, it } from 'vitest'
import { RelayError } from '@ferry/core'
import { maxStandbyPerId, Relay } from './relay.js'
import { dialRelay, RawClient, readExactly, startRelay } from './relay-fixtures.js'

const utf8 = new TextEncoder()
const bytes = (text: string): Uint8Array => utf8.encode(text)

/** Resolves with the error a stream read fails with. */
async function readError(readable: ReadableStream<Uint8Array>): Promise<unknown> {
  const reader = readable.getReader()
  try {
    for (;;) {
      const { done } = await reader.read()
      if (done) return undefined
    }
  } catch (error) {
    return error
  }
}

describe('Relay: registration', () => {
  it('challenges with its id and a fresh nonce, and registers a client whose AUTH verifies', async () => {
    const fixture = await startRelay()
    const a = await RawClient.open(await dialRelay(fixture))
    const b = await RawClient.open(await dialRelay(fixture))
    const ca = await a.next('challenge')
    const cb = await b.next('challenge')
    expect(ca.version).toBe(1)
    expect(ca.relayId.equals(fixture.relay.id)).toBe(true)
    expect(ca.nonce).toHaveLength(32)
    expect(ca.nonce).not.toEqual(cb.nonce)

    const key = await SecretKey.generate()
    await a.send({
      type: 'auth',
      id: key.publicKey,
      signature: await signAuth(key, ca.nonce, ca.relayId),
    })
    await a.next('ready')
    expect(fixture.relay.clients).toBe(1)
  })

  it('closes a session whose AUTH signature does not verify with AUTH_FAILED', async () => {
    const fixture = await startRelay()
    const client = await RawClient.open(await dialRelay(fixture))
    const challenge = await client.next('challenge')
    const key = await SecretKey.generate()
    const signature = await signAuth(key, challenge.nonce, challenge.relayId)
    signature[5]! ^= 1
    await client.send({ type: 'auth', id: key.publicKey, signature })
    expect(await client.session.closed).toMatchObject({ closeCode: RelayCode.AUTH_FAILED })
    expect(fixture.relay.clients).toBe(0)
    expect(fixture.errors).toContainEqual(expect.objectContaining({ code: 'AUTH_FAILED' }))
  })

  it('refuses a signature made for another session or another relay', async () => {
    const fixture = await startRelay()
    const other = await startRelay()
    const key = await SecretKey.generate()
    const first = await RawClient.open(await dialRelay(fixture))
    const firstChallenge = await first.next('challenge')
    const elsewhere = await RawClient.open(await dialRelay(other))
    const otherChallenge = await elsewhere.next('challenge')

    const replay = await RawClient.open(await dialRelay(fixture))
    await replay.next('challenge')
    await replay.send({
      type: 'auth',
      id: key.publicKey,
      signature: await signAuth(key, firstChallenge.nonce, firstChallenge.relayId),
    })
    expect(await replay.session.closed).toMatchObject({ closeCode: RelayCode.AUTH_FAILED })

    const foreign = await RawClient.open(await dialRelay(fixture))
    const challenge = await foreign.next('challenge')
    // The other relay's challenge, or this nonce with the other relay's id: neither verifies.
    for (const signature of [
      await signAuth(key, otherChallenge.nonce, otherChallenge.relayId),
      await signAuth(key, challenge.nonce, otherChallenge.relayId),
    ]) {
      const client = await RawClient.open(await dialRelay(fixture))
      await client.next('challenge')
      await client.send({ type: 'auth', id: key.publicKey, signature })
      expect(await client.session.closed).toMatchObject({ closeCode: RelayCode.AUTH_FAILED })
    }
    expect(fixture.relay.clients).toBe(0)
  })

  it('closes a session that sends something else than AUTH, or garbage, with AUTH_FAILED', async () => {
    const fixture = await startRelay()
    const wrongType = await RawClient.open(await dialRelay(fixture))
    await wrongType.next('challenge')
    await wrongType.send({ type: 'ready' })
    expect(await wrongType.session.closed).toMatchObject({ closeCode: RelayCode.AUTH_FAILED })

    const garbage = await RawClient.open(await dialRelay(fixture))
    await garbage.next('challenge')
    await garbage.control.writer.write(Uint8Array.of(2, 1, 2, 3))
    expect(await garbage.session.closed).toMatchObject({ closeCode: RelayCode.AUTH_FAILED })
  })

  it('closes a session whose first stream is not the control stream with PROTOCOL_ERROR', async () => {
    const fixture = await startRelay()
    const session = await dialRelay(fixture)
    const stream = await session.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(Uint8Array.of(2, 0))
    expect(await session.closed).toMatchObject({ closeCode: RelayCode.PROTOCOL_ERROR })
  })

  it('closes a session that does not authenticate in time with AUTH_FAILED', async () => {
    const fixture = await startRelay({ authTimeoutMs: 50 })
    const silent = await dialRelay(fixture)
    const challenged = await RawClient.open(await dialRelay(fixture))
    await challenged.next('challenge')
    expect(await silent.closed).toMatchObject({ closeCode: RelayCode.AUTH_FAILED })
    expect(await challenged.session.closed).toMatchObject({ closeCode: RelayCode.AUTH_FAILED })
  })

  it('refuses a session without the relay ALPN with ALPN_REFUSED', async () => {
    const fixture = await startRelay()
    const session = await dialRelay(fixture, ['echo/1'])
    expect(await session.closed).toMatchObject({ closeCode: CloseCode.ALPN_REFUSED })
    expect(fixture.relay.listener().choose(['x', relayAlpn])).toBe(relayAlpn)
  })

  it('puts the older session of an id on standby when a newer one registers, and back when it leaves', async () => {
    const fixture = await startRelay()
    const key = await SecretKey.generate()
    const older = await RawClient.register(fixture, key)
    const newer = await RawClient.register(fixture, key)
    expect(await older.next()).toEqual({ type: 'standby' })
    expect(fixture.relay.clients).toBe(1)
    // The id now reaches the newer session; the older one can still dial.
    const dialer = await RawClient.register(fixture)
    await dialer.openBidi({ kind: 'connect', conn: 0, peer: key.publicKey, offer: ['x/1'] })
    expect((await newer.acceptBidi()).header).toMatchObject({ kind: 'connect', conn: 1 })
    await older.openBidi({ kind: 'connect', conn: 0, peer: dialer.id, offer: ['x/1'] })
    expect((await dialer.acceptBidi()).header).toMatchObject({
      kind: 'connect',
      conn: 1,
      peer: key.publicKey,
    })

    // The newer one leaves: the older is told it is back, and the id reaches it again.
    newer.session.close({ closeCode: 0, reason: 'tab closed' })
    expect(await older.next()).toEqual({ type: 'ready' })
    await dialer.openBidi({ kind: 'connect', conn: 2, peer: key.publicKey, offer: ['x/1'] })
    expect((await older.acceptBidi()).header).toMatchObject({ kind: 'connect', conn: 1 })
    expect(fixture.relay.clients).toBe(2)
  })

  it(`keeps ${maxStandbyPerId} sessions of an id on standby, and refuses one more with TOO_MANY_SESSIONS`, async () => {
    const fixture = await startRelay()
    const key = await SecretKey.generate()
    const sessions: RawClient[] = []
    for (let i = 0; i <= maxStandbyPerId; i++) sessions.push(await RawClient.register(fixture, key))
    for (const standby of sessions.slice(0, -1)) {
      expect(await standby.next()).toEqual({ type: 'standby' })
    }
    const refused = await RawClient.authenticate(fixture, key)
    expect(await refused.session.closed).toEqual({
      closeCode: RelayCode.TOO_MANY_SESSIONS,
      reason: 'too many sessions of this id',
    })
    // The newest admitted is still the one dialed; once it leaves, there is room again.
    const dialer = await RawClient.register(fixture)
    await dialer.openBidi({ kind: 'connect', conn: 0, peer: key.publicKey, offer: ['x/1'] })
    expect((await sessions.at(-1)!.acceptBidi()).header).toMatchObject({ kind: 'connect' })
    sessions.at(-1)!.session.close({ closeCode: 0, reason: 'tab closed' })
    expect(await sessions.at(-2)!.next()).toEqual({ type: 'ready' })
    await RawClient.register(fixture, key)
  })

  it('cancels a stream opened before READY and keeps the session', async () => {
    const fixture = await startRelay()
    const key = await SecretKey.generate()
    const client = await RawClient.open(await dialRelay(fixture), key)
    const challenge = await client.next('challenge')
    const early = await client.session.createUnidirectionalStream()
    const writer = early.getWriter()
    await writer.write(Uint8Array.of(2, 0))
    await expect(writer.closed).rejects.toMatchObject({ streamErrorCode: 0 })
    expect(fixture.relay.clients).toBe(0)
    // The session carries on to READY.
    await client.send({
      type: 'auth',
      id: key.publicKey,
      signature: await signAuth(key, challenge.nonce, challenge.relayId),
    })
    await client.next('ready')
    expect(fixture.relay.clients).toBe(1)
  })
})

describe('Relay: control messages', () => {
  it('answers RESOLVE with an empty RESOLVED and ignores PUBLISH', async () => {
    const fixture = await startRelay()
    const client = await RawClient.register(fixture)
    await client.send({ type: 'publish', record: Uint8Array.of(1, 2, 3) })
    await client.send({ type: 'resolve', request: 9, id: client.id })
    const resolved = await client.next('resolved')
    expect(resolved.request).toBe(9)
    expect(resolved.record).toHaveLength(0)
  })

  it('closes a client that sends a relay-only message, a second AUTH or garbage with PROTOCOL_ERROR', async () => {
    const fixture = await startRelay()
    const messages = [
      encodeControl({ type: 'ready' }),
      encodeControl({ type: 'goaway', code: 0, reason: '' }),
      encodeControl({ type: 'auth', id: fixture.relay.id, signature: new Uint8Array(64) }),
      Uint8Array.of(99),
      Uint8Array.of(4, 0x40),
    ]
    for (const message of messages) {
      const client = await RawClient.register(fixture)
      await client.control.writer.write(message)
      expect(await client.session.closed).toMatchObject({ closeCode: RelayCode.PROTOCOL_ERROR })
    }
    expect(fixture.relay.clients).toBe(0)
  })

  it('closes a client whose control stream ends', async () => {
    const fixture = await startRelay()
    const client = await RawClient.register(fixture)
    await client.control.writer.close()
    expect(await client.session.closed).toMatchObject({ closeCode: RelayCode.PROTOCOL_ERROR })
    expect(fixture.relay.clients).toBe(0)
  })
})

describe('Relay: connections', () => {
  it('answers a CONNECT to an offline target with CLOSE OFFLINE at once', async () => {
    // Timeouts far above the test's: an answer that waited for one would fail the test.
    const fixture = await startRelay({ headerTimeoutMs: 600_000 })
    const client = await RawClient.register(fixture)
    const offline = (await SecretKey.generate()).publicKey
    const stream = await client.openBidi({ kind: 'connect', conn: 4, peer: offline, offer: ['x'] })
    const close = await client.next('close')
    expect(close).toEqual({
      type: 'close',
      conn: 4,
      code: RelayCode.OFFLINE,
      reason: `${offline.short()} is not connected to this relay`,
    })
    expect(await readError(stream.readable)).toMatchObject({ streamErrorCode: 0 })
  }, 5000)

  it('splices two registered clients: streams, datagrams, CLOSE', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)

    // The first stream, with bytes in the same write as its header.
    const first = await a.openBidi(
      { kind: 'connect', conn: 2, peer: b.id, offer: ['x/1', 'y/1'] },
      bytes('hello'),
    )
    const delivered = await b.acceptBidi()
    expect(delivered.header).toEqual({
      kind: 'connect',
      conn: 1,
      peer: a.id,
      offer: ['x/1', 'y/1'],
    })
    const atB = delivered.readable.getReader()
    expect(await readExactly(atB, 5)).toEqual(bytes('hello'))
    const back = delivered.writable!.getWriter()
    await back.write(bytes('hi'))
    const atA = first.readable.getReader()
    expect(await readExactly(atA, 2)).toEqual(bytes('hi'))
    await first.writer.write(bytes('more'))
    expect(await readExactly(atB, 4)).toEqual(bytes('more'))
    await first.writer.close()
    expect((await atB.read()).done).toBe(true)
    await back.close()
    expect((await atA.read()).done).toBe(true)

    // Further streams: bidi from either side, uni.
    const bidi = await a.openBidi({ kind: 'stream', conn: 2 }, bytes('bidi'))
    const bidiAtB = await b.acceptBidi()
    expect(bidiAtB.header).toEqual({ kind: 'stream', conn: 1 })
    const bidiReader = bidiAtB.readable.getReader()
    expect(await readExactly(bidiReader, 4)).toEqual(bytes('bidi'))
    const bidiBack = bidiAtB.writable!.getWriter()
    await bidiBack.write(bytes('ok'))
    await bidiBack.close()
    expect(await readBytes(bidi.readable)).toEqual(bytes('ok'))

    const uni = await b.openUni({ kind: 'stream', conn: 1 }, bytes('uni'))
    await uni.close()
    const uniAtA = await a.acceptUni()
    expect(uniAtA.header).toEqual({ kind: 'stream', conn: 2 })
    expect(await readBytes(uniAtA.readable)).toEqual(bytes('uni'))

    // Datagrams both ways, ids rewritten.
    await a.sendDatagram(encodeDatagram(2, bytes('dg a')))
    expect(decodeDatagram(await b.nextDatagram())).toEqual({ conn: 1, payload: bytes('dg a') })
    await b.sendDatagram(encodeDatagram(1, bytes('dg b')))
    expect(decodeDatagram(await a.nextDatagram())).toEqual({ conn: 2, payload: bytes('dg b') })

    // CLOSE, forwarded with the peer's id; the connection is then gone on both sides.
    await a.send({ type: 'close', conn: 2, code: 7, reason: 'done' })
    expect(await b.next('close')).toEqual({ type: 'close', conn: 1, code: 7, reason: 'done' })
    const dropped = fixture.relay.droppedDatagrams
    await b.sendDatagram(encodeDatagram(1, bytes('late')))
    await fixture.network.settle()
    expect(fixture.relay.droppedDatagrams).toBe(dropped + 1)
    const late = await a.openBidi({ kind: 'stream', conn: 2 }, bytes('late'))
    expect(await readError(late.readable)).toMatchObject({ streamErrorCode: 0 })
  })

  it('numbers the connections it delivers 1, 3, 5 and keeps them apart', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const c = await RawClient.register(fixture)
    await a.openBidi({ kind: 'connect', conn: 0, peer: c.id, offer: ['x'] })
    expect((await c.acceptBidi()).header).toMatchObject({ conn: 1, peer: a.id })
    await b.openBidi({ kind: 'connect', conn: 0, peer: c.id, offer: ['x'] })
    expect((await c.acceptBidi()).header).toMatchObject({ conn: 3, peer: b.id })
    await a.openBidi({ kind: 'connect', conn: 2, peer: c.id, offer: ['x'] })
    expect((await c.acceptBidi()).header).toMatchObject({ conn: 5, peer: a.id })

    await c.sendDatagram(encodeDatagram(3, bytes('to b')))
    expect(decodeDatagram(await b.nextDatagram())).toEqual({ conn: 0, payload: bytes('to b') })
    await c.sendDatagram(encodeDatagram(5, bytes('to a')))
    expect(decodeDatagram(await a.nextDatagram())).toEqual({ conn: 2, payload: bytes('to a') })
  })

  it('refuses a CONNECT with an odd or used id, and CONNECT or CONTROL where they do not belong', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const odd = await a.openBidi({ kind: 'connect', conn: 3, peer: b.id, offer: ['x'] })
    expect(await a.next('close')).toMatchObject({ conn: 3, code: RelayCode.PROTOCOL_ERROR })
    expect(await readError(odd.readable)).toMatchObject({ streamErrorCode: 0 })

    await a.openBidi({ kind: 'connect', conn: 0, peer: b.id, offer: ['x'] })
    await b.acceptBidi()
    const reused = await a.openBidi({ kind: 'connect', conn: 0, peer: b.id, offer: ['x'] })
    expect(await a.next('close')).toMatchObject({ conn: 0, code: RelayCode.PROTOCOL_ERROR })
    expect(await b.next('close')).toMatchObject({ conn: 1, code: RelayCode.PROTOCOL_ERROR })
    expect(await readError(reused.readable)).toMatchObject({ streamErrorCode: 0 })

    const uniConnect = await a.openUni({ kind: 'connect', conn: 4, peer: b.id, offer: ['x'] })
    await expect(uniConnect.closed).rejects.toMatchObject({ streamErrorCode: 0 })
    const control = await a.openBidi({ kind: 'control' })
    expect(await readError(control.readable)).toMatchObject({ streamErrorCode: 0 })
    const unknown = await a.openUni({ kind: 'stream', conn: 40 })
    await expect(unknown.closed).rejects.toMatchObject({ streamErrorCode: 0 })
    expect(fixture.relay.clients).toBe(2)
  })

  it('passes a reset on with its code, both ways', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const stream = await a.openBidi({ kind: 'connect', conn: 0, peer: b.id, offer: ['x'] })
    const atB = await b.acceptBidi()
    await stream.writer.abort({ streamErrorCode: 42 })
    expect(await readError(atB.readable)).toMatchObject({ streamErrorCode: 42 })
    await atB.writable!.abort({ streamErrorCode: 43 })
    expect(await readError(stream.readable)).toMatchObject({ streamErrorCode: 43 })
  })

  it('sends PEER_GONE to the peers of a client whose session ends', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    await a.openBidi({ kind: 'connect', conn: 0, peer: b.id, offer: ['x'] })
    await b.acceptBidi()
    await b.openBidi({ kind: 'connect', conn: 0, peer: a.id, offer: ['x'] })
    await a.acceptBidi()
    b.session.close({ closeCode: 0, reason: 'bye' })
    const closes = [await a.next('close'), await a.next('close')]
    expect(closes.map((c) => c.conn).sort()).toEqual([0, 1])
    for (const close of closes) {
      expect(close).toMatchObject({ code: RelayCode.PEER_GONE, reason: 'the peer left the relay' })
    }
    expect(fixture.relay.clients).toBe(1)
  })
})

describe('Relay: headers', () => {
  it('cancels a stream whose header is above 1024 bytes and closes its connection with HEADER_TOO_LARGE', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    // A CONNECT with 16 ALPNs of 255 bytes: about 4 KiB, which encodeHeader would refuse.
    const header = [1, 6, ...b.id.toBytes(), 16]
    for (let i = 0; i < 16; i++) header.push(255, ...new Uint8Array(255).fill(0x61 + i))
    const stream = await a.openBidi(Uint8Array.from(header))
    expect(await a.next('close')).toMatchObject({ conn: 6, code: RelayCode.HEADER_TOO_LARGE })
    expect(await readError(stream.readable)).toMatchObject({ streamErrorCode: 0 })
    await expect(stream.writer.closed).rejects.toMatchObject({ streamErrorCode: 0 })
    expect(fixture.errors).toContainEqual(expect.objectContaining({ code: 'HEADER_TOO_LARGE' }))
  })

  it('cancels a stream whose header does not arrive in time', async () => {
    const fixture = await startRelay({ headerTimeoutMs: 50 })
    const a = await RawClient.register(fixture)
    const stream = await a.openBidi(Uint8Array.of(1, 8))
    expect(await a.next('close')).toMatchObject({ conn: 8, code: RelayCode.HEADER_TOO_LARGE })
    expect(await readError(stream.readable)).toMatchObject({ streamErrorCode: 0 })
    const uni = await a.openUni(new Uint8Array(0))
    await expect(uni.closed).rejects.toMatchObject({ streamErrorCode: 0 })
    expect(fixture.relay.clients).toBe(1)
  })
})

describe('Relay: close', () => {
  it('sends GOAWAY to every client, closes them with SHUTTING_DOWN and refuses later ones', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    // Reading already: a session's close drops what its streams hold unread (as WebTransport).
    const goaways = [a.next('goaway'), b.next('goaway')]
    await fixture.relay.close()
    for (const [i, client] of [a, b].entries()) {
      expect(await goaways[i]).toEqual({
        type: 'goaway',
        code: RelayCode.SHUTTING_DOWN,
        reason: 'relay shutting down',
      })
      expect(await client.session.closed).toMatchObject({ closeCode: RelayCode.SHUTTING_DOWN })
    }
    expect(fixture.relay.clients).toBe(0)
    const late = await dialRelay(fixture)
    expect(await late.closed).toMatchObject({ closeCode: RelayCode.SHUTTING_DOWN })
    await fixture.relay.close()
  })

  it('checks its options', async () => {
    expect(() => new Relay({} as never)).toThrow(TypeError)
    const secretKey = await SecretKey.generate()
    expect(() => new Relay({ secretKey, authTimeoutMs: 0 })).toThrow(RangeError)
    expect(() => new Relay({ secretKey, headerTimeoutMs: Number.NaN })).toThrow(RangeError)
    expect(new RelayError('OFFLINE', 'x')).toMatchObject({ name: 'RelayError', code: 'OFFLINE' })
  })
})
