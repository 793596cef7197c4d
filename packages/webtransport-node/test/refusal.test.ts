import { afterEach, describe, expect, it, vi } from 'vitest'
import { ConnectionClosedError, H3, WebTransportError, WebTransportServer } from '../src/index.js'
import { FrameType, encodeFrame } from '../src/h3/frames.js'
import { encodeFieldSection } from '../src/h3/qpack.js'
import { timers } from '../src/internal/timers.js'
import { StreamResetError, StreamStoppedError } from '../src/quic/connection.js'
import { CONNECTION_REFUSED } from '../src/quic/refuse.js'
import { certificate, dial } from './helpers.js'
import { RawClient, connectRequest, responseHeaders } from './raw.js'

const servers: WebTransportServer[] = []
afterEach(async () => {
  vi.restoreAllMocks()
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function listen(
  options: Partial<Parameters<typeof WebTransportServer.listen>[0]>,
): Promise<WebTransportServer> {
  const server = await WebTransportServer.listen({ certificate: await certificate(), ...options })
  server.route('/hold', { session: () => {} })
  servers.push(server)
  return server
}

/** How `ready` failed: the error, which must be a session WebTransportError. */
async function readyFailure(wt: { ready: Promise<void> }): Promise<WebTransportError> {
  const error = await wt.ready.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(WebTransportError)
  expect((error as WebTransportError).source).toBe('session')
  return error as WebTransportError
}

describe('connection limits', () => {
  it('refuses a client past maxConnections with CONNECTION_REFUSED instead of ignoring it', async () => {
    const server = await listen({ maxConnections: 1 })
    const first = await dial(server, '/hold')
    await first.ready
    const second = await dial(server, '/hold')
    const error = await readyFailure(second)
    // The refusal itself, from the server, not a timeout (which would be `by: 'idle'`, code 0).
    expect(error.cause).toBeInstanceOf(ConnectionClosedError)
    expect(error.cause).toMatchObject({ app: false, code: CONNECTION_REFUSED, by: 'peer' })
    await expect(second.closed).rejects.toBe(error)
    // The connection within the limit is untouched.
    expect(first.state).toBe('connected')
    first.close()
  })

  it('refuses a client past maxConnectionsPerAddress the same way', async () => {
    const server = await listen({ maxConnectionsPerAddress: 2 })
    const within = [await dial(server, '/hold'), await dial(server, '/hold')]
    await Promise.all(within.map((wt) => wt.ready))
    const third = await dial(server, '/hold')
    const error = await readyFailure(third)
    expect(error.cause).toMatchObject({ app: false, code: CONNECTION_REFUSED, by: 'peer' })
    for (const wt of within) wt.close()
  })
})

describe('the header deadline', () => {
  it('resets a request stream holding half a HEADERS frame with H3_REQUEST_INCOMPLETE', async () => {
    // The server's header deadlines run on `timers`: take them over and fire them here.
    const deadlines: { fire: () => void; ms: number; cleared: boolean }[] = []
    const armed: (() => void)[] = []
    vi.spyOn(timers, 'set').mockImplementation((fire, ms) => {
      deadlines.push({ fire, ms, cleared: false })
      for (const w of armed.splice(0)) w()
      return deadlines.length - 1
    })
    vi.spyOn(timers, 'clear').mockImplementation((handle) => {
      deadlines[handle as number]!.cleared = true
    })
    /** Resolves once the server has started `n` deadlines. */
    const deadlineCount = (n: number): Promise<void> =>
      deadlines.length >= n
        ? Promise.resolve()
        : new Promise<void>((r) => armed.push(r)).then(() => deadlineCount(n))

    const server = await listen({ limits: { headerTimeoutMs: 250 } })
    const raw = await RawClient.connect(server.port)
    await raw.control()
    const connect = encodeFrame(FrameType.HEADERS, encodeFieldSection(connectRequest('/hold')))
    await raw.quic.write(0, connect.subarray(0, connect.length >> 1))
    await deadlineCount(1)
    const [deadline] = deadlines
    expect(deadline!.ms).toBe(250)
    expect(deadline!.cleared).toBe(false)
    deadline!.fire()

    // Reset (RESET_STREAM) and no longer read (STOP_SENDING), both with H3_REQUEST_INCOMPLETE.
    const reset = await raw.readAll(0).then(
      () => undefined,
      (e: unknown) => e,
    )
    expect(reset).toBeInstanceOf(StreamResetError)
    expect((reset as StreamResetError).code).toBe(H3.REQUEST_INCOMPLETE)
    const stopped = await (async () => {
      for (;;) await raw.quic.write(0, connect.subarray(connect.length >> 1))
    })().catch((e: unknown) => e)
    expect(stopped).toBeInstanceOf(StreamStoppedError)
    expect((stopped as StreamStoppedError).code).toBe(H3.REQUEST_INCOMPLETE)

    // The connection goes on serving: a whole CONNECT is answered, and its deadline stopped.
    await raw.quic.write(4, connect)
    expect(await responseHeaders(raw, 4)).toContainEqual([':status', '200'])
    expect(deadlines).toHaveLength(2)
    expect(deadlines[1]!.cleared).toBe(true)
    raw.close()
  })

  it('rejects a header deadline that is not a positive integer', async () => {
    for (const headerTimeoutMs of [0, -1, 1.5, Number.NaN]) {
      await expect(listen({ limits: { headerTimeoutMs } })).rejects.toBeInstanceOf(RangeError)
    }
  })
})
