import { SecretKey } from '@ferry/core'
import { decodeDatagram, encodeDatagram, RelayCode } from '@ferry/core/internal'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { Relay } from './relay.js'
import {
  dialRelay,
  RawClient,
  readExactly,
  type RelayFixture,
  startRelay,
} from './relay-fixtures.js'

const utf8 = new TextEncoder()

afterEach(() => {
  vi.useRealTimers()
})

/** Resolves with the error a stream read fails with, or `undefined` when it ends cleanly. */
async function readError(readable: ReadableStream<Uint8Array>): Promise<unknown> {
  const reader = readable.getReader()
  try {
    while (!(await reader.read()).done);
    return undefined
  } catch (error) {
    return error
  }
}

/** `a` dials `b` with connection id `conn`; `b` accepts it. */
async function connect(a: RawClient, b: RawClient, conn: number, offer = ['x/1']) {
  const stream = await a.openBidi({ kind: 'connect', conn, peer: b.id, offer })
  const delivered = await b.acceptBidi()
  return { stream, delivered }
}

/** A fresh pair of clients still reaches each other: a ping one way, a pong the other. */
async function checkPairWorks(fixture: RelayFixture, conn = 0): Promise<void> {
  const a = await RawClient.register(fixture)
  const b = await RawClient.register(fixture)
  const stream = await a.openBidi(
    { kind: 'connect', conn, peer: b.id, offer: ['x/1'] },
    utf8.encode('ping'),
  )
  const atB = await b.acceptBidi()
  expect(await readExactly(atB.readable.getReader(), 4)).toEqual(utf8.encode('ping'))
  await atB.writable!.getWriter().write(utf8.encode('pong'))
  expect(await readExactly(stream.readable.getReader(), 4)).toEqual(utf8.encode('pong'))
}

/** A clock the test moves by hand. */
function manualClock() {
  let now = 0
  return { clock: () => now, advance: (ms: number) => void (now += ms) }
}

describe('Relay limits: access control', () => {
  it('allow: registers the listed ids and closes others with ACCESS_DENIED', async () => {
    const allowed = await SecretKey.generate()
    const fixture = await startRelay({ access: { mode: 'allow', ids: [allowed.publicKey] } })
    await RawClient.register(fixture, allowed)
    const stranger = await RawClient.authenticate(fixture)
    expect(await stranger.session.closed).toMatchObject({ closeCode: RelayCode.ACCESS_DENIED })
    expect(fixture.relay.clients).toBe(1)
    expect(fixture.relay.metrics().refusals.ACCESS_DENIED).toBe(1)
    expect(fixture.errors).toContainEqual(expect.objectContaining({ code: 'ACCESS_DENIED' }))
  })

  it('deny: closes the listed ids with ACCESS_DENIED and registers others', async () => {
    const denied = await SecretKey.generate()
    const fixture = await startRelay({ access: { mode: 'deny', ids: [denied.publicKey] } })
    const client = await RawClient.authenticate(fixture, denied)
    expect(await client.session.closed).toMatchObject({ closeCode: RelayCode.ACCESS_DENIED })
    await RawClient.register(fixture)
    expect(fixture.relay.clients).toBe(1)
  })

  it('token: registers a client with the token, closes one with another or none', async () => {
    const fixture = await startRelay({ access: { mode: 'token', token: 'sesame' } })
    await RawClient.register(fixture, undefined, 'sesame')
    for (const token of ['sesam', 'sesame!', undefined]) {
      const client = await RawClient.authenticate(fixture, undefined, token)
      expect(await client.session.closed).toMatchObject({ closeCode: RelayCode.ACCESS_DENIED })
    }
    expect(fixture.relay.clients).toBe(1)
    expect(fixture.relay.metrics().refusals.ACCESS_DENIED).toBe(3)
  })

  it('setAccess replaces the policy and closes registered clients it no longer admits', async () => {
    const fixture = await startRelay()
    const keep = await RawClient.register(fixture)
    const drop = await RawClient.register(fixture)
    expect(() => fixture.relay.setAccess({ mode: 'allow', ids: ['x'] } as never)).toThrow(TypeError)
    expect(fixture.relay.clients).toBe(2)
    fixture.relay.setAccess({ mode: 'deny', ids: [drop.id] })
    expect(await drop.session.closed).toMatchObject({ closeCode: RelayCode.ACCESS_DENIED })
    expect(fixture.relay.clients).toBe(1)
    const again = await RawClient.authenticate(fixture, drop.key)
    expect(await again.session.closed).toMatchObject({ closeCode: RelayCode.ACCESS_DENIED })
    fixture.relay.setAccess({ mode: 'open' })
    await RawClient.register(fixture, drop.key)
    expect(fixture.relay.clients).toBe(2)
    expect(keep.session).toBeDefined()
  })
})

describe('Relay limits: sessions', () => {
  it('closes a session past maxSessions with TOO_MANY_SESSIONS at once', async () => {
    const fixture = await startRelay({ maxSessions: 2 })
    const first = await RawClient.register(fixture)
    await RawClient.register(fixture)
    const third = await dialRelay(fixture)
    expect(await third.closed).toMatchObject({ closeCode: RelayCode.TOO_MANY_SESSIONS })
    expect(fixture.relay.metrics()).toMatchObject({ sessions: 2, sessionsAccepted: 2 })
    // A place freed is a place taken.
    first.session.close({ closeCode: 0, reason: 'bye' })
    await fixture.network.settle()
    await RawClient.register(fixture)
    expect(fixture.relay.metrics().refusals.TOO_MANY_SESSIONS).toBe(1)
  })

  it('limits sessions per address (remote), and not sessions without one', async () => {
    const fixture = await startRelay({ maxSessionsPerAddress: 2 })
    fixture.remote = '192.0.2.1'
    await RawClient.register(fixture)
    await RawClient.register(fixture)
    const third = await dialRelay(fixture)
    expect(await third.closed).toMatchObject({ closeCode: RelayCode.TOO_MANY_SESSIONS })
    fixture.remote = '192.0.2.2'
    await RawClient.register(fixture)
    fixture.remote = undefined
    for (let i = 0; i < 3; i++) await RawClient.register(fixture)
    expect(fixture.relay.clients).toBe(6)
  })

  it('rate-limits new sessions per address with a token bucket: RATE_LIMITED', async () => {
    const { clock, advance } = manualClock()
    const fixture = await startRelay({ sessionRate: { perSecond: 1, burst: 2 }, _clock: clock })
    fixture.remote = '198.51.100.7'
    const first = await RawClient.register(fixture)
    first.session.close({ closeCode: 0, reason: 'bye' })
    await RawClient.register(fixture)
    const third = await dialRelay(fixture)
    expect(await third.closed).toMatchObject({ closeCode: RelayCode.RATE_LIMITED })
    // Another address has its own bucket; a second later this one has a token again.
    fixture.remote = '198.51.100.8'
    await RawClient.register(fixture)
    fixture.remote = '198.51.100.7'
    advance(1000)
    await RawClient.register(fixture)
    expect(fixture.relay.metrics().refusals.RATE_LIMITED).toBe(1)
  })

  it('closes a registered session idle for idleTimeoutMs with IDLE_TIMEOUT', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout'] })
    const fixture = await startRelay({ idleTimeoutMs: 1000 })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const idle = await RawClient.register(fixture)
    await connect(a, b, 0)
    vi.advanceTimersByTime(999)
    // A control message restarts the clock.
    await idle.send({ type: 'resolve', request: 1, id: idle.id })
    await idle.next('resolved')
    vi.advanceTimersByTime(999)
    expect(fixture.relay.clients).toBe(3)
    vi.advanceTimersByTime(1)
    expect(await idle.session.closed).toMatchObject({ closeCode: RelayCode.IDLE_TIMEOUT })
    // a and b have a connection: no clock runs for them, until it closes.
    vi.advanceTimersByTime(5000)
    expect(fixture.relay.clients).toBe(2)
    await a.send({ type: 'close', conn: 0, code: 0, reason: 'done' })
    await b.next('close')
    vi.advanceTimersByTime(999)
    expect(fixture.relay.clients).toBe(2)
    vi.advanceTimersByTime(1)
    expect(await a.session.closed).toMatchObject({ closeCode: RelayCode.IDLE_TIMEOUT })
    expect(await b.session.closed).toMatchObject({ closeCode: RelayCode.IDLE_TIMEOUT })
    expect(fixture.relay.metrics().refusals.IDLE_TIMEOUT).toBe(3)
  })
})

describe('Relay limits: connections and ALPNs', () => {
  it('refuses a CONNECT past maxConnectionsPerClient, of the dialer or the target', async () => {
    const fixture = await startRelay({ maxConnectionsPerClient: 2 })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const c = await RawClient.register(fixture)
    await connect(a, b, 0)
    await connect(a, b, 2)
    const over = await a.openBidi({ kind: 'connect', conn: 4, peer: c.id, offer: ['x/1'] })
    expect(await a.next('close')).toMatchObject({
      conn: 4,
      code: RelayCode.TOO_MANY_CONNECTIONS,
    })
    expect(await readError(over.readable)).toMatchObject({ streamErrorCode: 0 })
    // The target at its limit: the dialer hears it.
    await c.openBidi({ kind: 'connect', conn: 0, peer: b.id, offer: ['x/1'] })
    expect(await c.next('close')).toMatchObject({ conn: 0, code: RelayCode.TOO_MANY_CONNECTIONS })
    expect(fixture.relay.metrics()).toMatchObject({ connections: 2 })
    // One closed, one more fits.
    await a.send({ type: 'close', conn: 0, code: 0, reason: 'done' })
    await b.next('close')
    await connect(a, c, 6)
    expect(fixture.relay.metrics().refusals.TOO_MANY_CONNECTIONS).toBe(2)
  })

  it('allows only the listed ALPNs and forwards only those of an offer', async () => {
    const fixture = await startRelay({ alpns: { allow: ['x/1', 'z/1'] } })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    await a.openBidi({ kind: 'connect', conn: 0, peer: b.id, offer: ['y/1'] })
    expect(await a.next('close')).toMatchObject({ conn: 0, code: RelayCode.ALPN_NOT_ALLOWED })
    await a.openBidi({ kind: 'connect', conn: 2, peer: b.id, offer: ['y/1', 'z/1', 'w', 'x/1'] })
    expect((await b.acceptBidi()).header).toMatchObject({ conn: 1, offer: ['z/1', 'x/1'] })
    expect(fixture.relay.metrics().refusals.ALPN_NOT_ALLOWED).toBe(1)
  })

  it('holds an ALPN to its connection quota, charged to the first allowed ALPN', async () => {
    const fixture = await startRelay({ alpnQuotas: { 'x/1': { maxConnections: 1 } } })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    await connect(a, b, 0, ['x/1'])
    await a.openBidi({ kind: 'connect', conn: 2, peer: b.id, offer: ['x/1', 'y/1'] })
    expect(await a.next('close')).toMatchObject({ conn: 2, code: RelayCode.TOO_MANY_CONNECTIONS })
    await connect(a, b, 4, ['y/1', 'x/1'])
    await a.send({ type: 'close', conn: 0, code: 0, reason: 'done' })
    await b.next('close')
    await connect(a, b, 6, ['x/1'])
  })

  it('shares an ALPN byte quota between all its connections (datagrams over it dropped)', async () => {
    const { clock, advance } = manualClock()
    // 1000 bytes a second for x/1, so a burst of 2000, whoever sends.
    const fixture = await startRelay({
      alpnQuotas: { 'x/1': { bytesPerSecond: 1000 } },
      _clock: clock,
    })
    const [a, b, c, d] = [
      await RawClient.register(fixture),
      await RawClient.register(fixture),
      await RawClient.register(fixture),
      await RawClient.register(fixture),
    ]
    await connect(a, b, 0, ['x/1'])
    await connect(c, d, 0, ['x/1'])
    await connect(c, d, 2, ['y/1'])
    const payload = new Uint8Array(600)
    for (const sender of [a, a, c, c]) await sender.sendDatagram(encodeDatagram(0, payload))
    await c.sendDatagram(encodeDatagram(2, payload))
    await fixture.network.settle()
    let metrics = fixture.relay.metrics()
    expect(metrics.datagrams).toEqual({ forwarded: 4, dropped: 1 })
    expect(metrics.bytesByAlpn).toEqual({ 'x/1': 1800, 'y/1': 600 })
    advance(600)
    await c.sendDatagram(encodeDatagram(0, payload))
    await fixture.network.settle()
    metrics = fixture.relay.metrics()
    expect(metrics.datagrams).toEqual({ forwarded: 5, dropped: 1 })
    const conns = [await d.nextDatagram(), await d.nextDatagram(), await d.nextDatagram()]
    // Datagrams may be reordered: which connections they came on is what counts.
    expect(conns.map((bytes) => decodeDatagram(bytes).conn).sort()).toEqual([1, 1, 3])
  })
})

describe('Relay limits: streams and bytes', () => {
  it('cancels a stream past maxStreamsPerClient; its connection goes on', async () => {
    const fixture = await startRelay({ maxStreamsPerClient: 2 })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const c = await RawClient.register(fixture)
    await connect(a, b, 0)
    const second = await a.openBidi({ kind: 'stream', conn: 0 })
    const secondAtB = await b.acceptBidi()
    expect(fixture.relay.metrics().streams).toBe(2)
    const third = await a.openUni({ kind: 'stream', conn: 0 })
    await expect(third.closed).rejects.toMatchObject({ streamErrorCode: 0 })
    // A new connection needs a stream too: refused as a whole.
    await c.openBidi({ kind: 'connect', conn: 0, peer: a.id, offer: ['x/1'] })
    expect(await c.next('close')).toMatchObject({ conn: 0, code: RelayCode.TOO_MANY_STREAMS })
    // A stream that ends frees its place; the connection still carries streams.
    await second.writer.close()
    await secondAtB.writable!.getWriter().close()
    expect(await readError(second.readable)).toBeUndefined()
    await fixture.network.settle()
    expect(fixture.relay.metrics().streams).toBe(1)
    const fourth = await a.openUni({ kind: 'stream', conn: 0 }, utf8.encode('ok'))
    await fourth.close()
    expect((await b.acceptUni()).header).toEqual({ kind: 'stream', conn: 1 })
    expect(fixture.relay.metrics().refusals.TOO_MANY_STREAMS).toBe(2)
  })

  it('keeps a pair working while another floods streams past its limit', async () => {
    const fixture = await startRelay({ maxStreamsPerClient: 8 })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    await connect(a, b, 0)
    for (let i = 0; i < 40; i++) await a.openUni({ kind: 'stream', conn: 0 })
    await fixture.network.settle()
    // The CONNECT stream and 7 of the 40; the other 33 cancelled.
    const metrics = fixture.relay.metrics()
    expect(metrics.streams).toBe(8)
    expect(metrics.refusals.TOO_MANY_STREAMS).toBe(33)
    await checkPairWorks(fixture)
  })

  it('throttles a client above its byte rate without dropping, while another pair flows', async () => {
    const { clock, advance } = manualClock()
    // A high rate on a frozen clock: the relay's waits are short, and only advance() pays.
    const rate = { bytesPerSecond: 1_000_000, bytesBurst: 4096, _clock: clock }
    const fixture = await startRelay(rate)
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const { stream, delivered } = await connect(a, b, 0)
    const chunk = new Uint8Array(1024).fill(7)
    const writes = Array.from({ length: 64 }, () => stream.writer.write(chunk))
    for (const write of writes) write.catch(() => {})
    const closing = stream.writer.close()
    const atB = delivered.readable.getReader()
    // The burst, then nothing more while the clock stands still.
    expect(await readExactly(atB, 4096)).toEqual(new Uint8Array(4096).fill(7))
    await fixture.network.settle()
    const burst = fixture.relay.metrics().bytes.fromClients
    expect(burst).toBeGreaterThanOrEqual(4096)
    expect(burst).toBeLessThan(4096 + 1024)

    // Another pair, under the same limits, is not held up by a's backlog.
    const c = await RawClient.register(fixture)
    const d = await RawClient.register(fixture)
    const other = await connect(c, d, 0)
    await other.stream.writer.write(new Uint8Array(3000).fill(1))
    expect(await readExactly(other.delivered.readable.getReader(), 3000)).toHaveLength(3000)
    await fixture.network.settle()
    expect(fixture.relay.metrics().bytes.fromClients).toBe(burst + 3000)

    // A millisecond buys 1000 bytes: the relay reads once more (what has piled up in the
    // stream may come as one larger chunk), then waits until that debt is paid.
    advance(1)
    await fixture.network.settle()
    const paced = fixture.relay.metrics().bytes.fromClients - 3000 - burst
    expect(paced).toBeGreaterThan(0)
    const debt = burst + paced - (4096 + 1000)
    expect(debt).toBeGreaterThanOrEqual(0)
    advance(Math.floor(debt / 1000))
    await fixture.network.settle()
    expect(fixture.relay.metrics().bytes.fromClients).toBe(burst + paced + 3000)

    // Nothing was dropped: as time passes, the whole stream arrives.
    let received = 4096
    for (;;) {
      advance(10)
      const { done, value } = await atB.read()
      if (done) break
      received += value.length
    }
    expect(received).toBe(64 * 1024)
    await closing
    expect(fixture.relay.metrics().bytes).toMatchObject({ fromClients: 64 * 1024 + 3000 })
  })

  it('paces a client above its stream rate: later streams wait (none refused), then go through', async () => {
    const { clock, advance } = manualClock()
    const fixture = await startRelay({ streamRate: { perSecond: 1000, burst: 3 }, _clock: clock })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    // The CONNECT takes one token; two STREAMs take the rest of the burst.
    await connect(a, b, 0)
    const opened = await Promise.all(
      Array.from({ length: 5 }, () => a.openUni({ kind: 'stream', conn: 0 }, utf8.encode('x'))),
    )
    expect(opened).toHaveLength(5)
    for (let i = 0; i < 2; i++) await b.acceptUni()
    await fixture.network.settle()
    expect(fixture.relay.metrics().streams).toBe(3)
    // Each millisecond is one more stream; none was refused.
    advance(1)
    await b.acceptUni()
    await fixture.network.settle()
    expect(fixture.relay.metrics().streams).toBe(4)
    advance(2)
    for (let i = 0; i < 2; i++) await b.acceptUni()
    expect(fixture.relay.metrics().refusals.TOO_MANY_STREAMS).toBe(0)
    // Another client's streams are its own affair.
    await checkPairWorks(fixture, 0)
  })

  it('drops datagrams above a client byte rate and counts them', async () => {
    const { clock } = manualClock()
    const fixture = await startRelay({ bytesPerSecond: 1000, bytesBurst: 2500, _clock: clock })
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    await connect(a, b, 0)
    for (let i = 0; i < 4; i++) await a.sendDatagram(encodeDatagram(0, new Uint8Array(1000)))
    await fixture.network.settle()
    expect(fixture.relay.metrics().datagrams).toEqual({ forwarded: 2, dropped: 2 })
    expect(fixture.relay.droppedDatagrams).toBe(2)
    // b's own bucket is full.
    await b.sendDatagram(encodeDatagram(1, new Uint8Array(1000)))
    expect(decodeDatagram(await a.nextDatagram()).payload).toHaveLength(1000)
  })
})

describe('Relay limits: options', () => {
  it('checks every limit', async () => {
    const secretKey = await SecretKey.generate()
    const bad: [object, ErrorConstructor][] = [
      [{ maxSessions: 0 }, RangeError],
      [{ maxSessions: 1.5 }, RangeError],
      [{ maxSessionsPerAddress: '3' }, TypeError],
      [{ sessionRate: { perSecond: -1 } }, RangeError],
      [{ sessionRate: 5 }, TypeError],
      [{ maxConnectionsPerClient: Number.NaN }, RangeError],
      [{ maxStreamsPerClient: -2 }, RangeError],
      [{ bytesPerSecond: 0 }, RangeError],
      [{ bytesBurst: Number.NaN }, RangeError],
      [{ idleTimeoutMs: 2 ** 32 }, RangeError],
      [{ alpns: { allow: [''] } }, RangeError],
      [{ alpns: { allow: 'x/1' } }, TypeError],
      [{ alpnQuotas: { 'x/1': { maxConnections: 0 } } }, RangeError],
      [{ alpnQuotas: { 'x/1': 3 } }, TypeError],
      [{ access: { mode: 'nobody' } }, TypeError],
      [{ access: { mode: 'allow' } }, TypeError],
      [{ access: { mode: 'token', token: '' } }, RangeError],
      [{ access: { mode: 'token', token: 'x'.repeat(257) } }, RangeError],
      [{ _clock: 5 }, TypeError],
    ]
    for (const [options, type] of bad) {
      expect(() => new Relay({ secretKey, ...options }), JSON.stringify(options)).toThrow(type)
    }
    const relay = new Relay({
      secretKey,
      maxSessions: Infinity,
      idleTimeoutMs: Infinity,
      alpns: { allow: [] },
      alpnQuotas: { 'x/1': { maxConnections: 3, bytesPerSecond: 1e6 } },
      access: { mode: 'token', token: 't' },
    })
    expect(relay.metrics()).toMatchObject({ sessions: 0, clients: 0, connections: 0 })
  })
})
