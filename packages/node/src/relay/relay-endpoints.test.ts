/**
 * The relay's limits and access control as real endpoints see them: `TestEndpoint`s that
 * reach each other only through the relay, over the memory network.
 */
import { type RelayState, RelayError, SecretKey } from '@ferry/core'
import { MemoryNetwork, MemoryTransport, TestEndpoint } from '@ferry/core/testing'
import { afterEach, describe, expect, it } from 'vitest'
import { Relay, type RelayOptions } from './relay.js'

const alpn = 'relayed/1'
const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

/** A relay with `options`, and a maker of endpoints that reach each other only through it. */
async function world(options: Partial<RelayOptions>) {
  const network = new MemoryNetwork({ seed: 7 })
  const relay = new Relay({ secretKey: await SecretKey.generate(), ...options })
  const relayTransport = new MemoryTransport(network)
  relayTransport.listen(relay.listener())
  cleanup.push(
    () => relay.close(),
    () => relayTransport.close(),
  )
  const relayAddr = relayTransport.directAddrs()[0]!
  const endpoint = async (
    opts: {
      alpns?: string[]
      token?: string
      online?: boolean
      handshakeTimeoutMs?: number
      secretKey?: SecretKey
    } = {},
    onRelayState?: (state: RelayState) => void,
  ): Promise<TestEndpoint> => {
    const inner = new MemoryTransport(network)
    const ep = await TestEndpoint.create({
      transport: {
        dial: (addr, offer, dialOptions) => inner.dial(addr, offer, dialOptions),
        directAddrs: () => [],
        close: () => inner.close(),
      },
      alpns: opts.alpns ?? [],
      relay: { ...relayAddr, token: opts.token },
      handshakeTimeoutMs: opts.handshakeTimeoutMs,
      secretKey: opts.secretKey,
      onRelayState,
    })
    cleanup.push(() => ep.close())
    if (opts.online ?? true) await ep.online()
    return ep
  }
  return { relay, endpoint }
}

describe('Relay limits seen by endpoints', () => {
  it('an endpoint without the access token hears ACCESS_DENIED; one with it connects', async () => {
    const { relay, endpoint } = await world({ access: { mode: 'token', token: 'sesame' } })
    const server = await endpoint({ alpns: [alpn], token: 'sesame' })
    let denied: (error: unknown) => void
    const deniedError = new Promise<unknown>((resolve) => (denied = resolve))
    const stranger = await endpoint({ token: 'guess', online: false }, (s) => {
      if (s.state === 'offline') denied(s.error)
    })
    const error = await deniedError
    expect(error).toBeInstanceOf(RelayError)
    expect(error).toMatchObject({ name: 'RelayError', code: 'ACCESS_DENIED' })
    // A connect (or online()) hears the relay's refusal at once, while the endpoint retries.
    await expect(stranger.online()).rejects.toMatchObject({
      name: 'RelayError',
      code: 'ACCESS_DENIED',
    })
    const refused = await stranger.connect(server.id, alpn).then(
      () => expect.fail('connected without access'),
      (e: unknown) => e,
    )
    expect(refused).toBeInstanceOf(RelayError)
    expect(refused).toMatchObject({ code: 'ACCESS_DENIED' })

    const friend = await endpoint({ token: 'sesame' })
    const conn = await friend.connect(server.id, alpn)
    expect(conn.path).toBe('relay')
    expect(relay.metrics().refusals.ACCESS_DENIED).toBeGreaterThanOrEqual(1)
  })

  it('a connect offering no allowed ALPN rejects with RelayError ALPN_NOT_ALLOWED', async () => {
    const { endpoint } = await world({ alpns: { allow: ['other/1'] } })
    const server = await endpoint({ alpns: [alpn, 'other/1'] })
    const client = await endpoint()
    const error = await client.connect(server.id, alpn).then(
      () => expect.fail('connected with a refused ALPN'),
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(RelayError)
    expect((error as RelayError).code).toBe('ALPN_NOT_ALLOWED')
    const conn = await client.connect(server.id, 'other/1')
    expect(conn.alpn).toBe('other/1')
  })

  it('a connect past the connection limit rejects with RelayError TOO_MANY_CONNECTIONS', async () => {
    const { endpoint } = await world({ maxConnectionsPerClient: 1 })
    const server = await endpoint({ alpns: [alpn] })
    const client = await endpoint()
    const first = await client.connect(server.id, alpn)
    const error = await client.connect(server.id, alpn).then(
      () => expect.fail('a second connection past the limit'),
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(RelayError)
    expect((error as RelayError).code).toBe('TOO_MANY_CONNECTIONS')
    expect(first.path).toBe('relay')
  })
})

describe('one identity in two places, as two tabs of an origin share one', () => {
  it('the newer session takes the connections, the older stands by and takes them back when the newer leaves', async () => {
    const { endpoint } = await world({})
    const secretKey = await SecretKey.generate()
    /** The states an endpoint went through, and a wait for the n-th. */
    const watch = () => {
      const seen: string[] = []
      const waiters: (() => void)[] = []
      return {
        seen,
        onState: (state: RelayState) => {
          seen.push(state.state)
          for (const wake of waiters.splice(0)) wake()
        },
        async reached(n: number) {
          while (seen.length < n) await new Promise<void>((resolve) => waiters.push(resolve))
        },
      }
    }
    const states = { older: watch(), newer: watch() }
    const older = await endpoint({ alpns: [alpn], secretKey }, states.older.onState)
    const newer = await endpoint({ alpns: [alpn], secretKey }, states.newer.onState)
    const dialer = await endpoint({ alpns: [alpn] })
    const incoming = (ep: TestEndpoint) => ep.incoming()[Symbol.asyncIterator]()
    const [atOlder, atNewer] = [incoming(older), incoming(newer)]

    await states.older.reached(3)
    expect(states.older.seen).toEqual(['connecting', 'online', 'standby'])
    const toNewer = atNewer.next()
    await dialer.connect(secretKey.publicKey, alpn)
    expect((await toNewer).value?.remoteId.equals(dialer.id)).toBe(true)
    // On standby it still dials, and keeps what it has.
    const out = await older.connect(dialer.id, alpn)
    expect(out.path).toBe('relay')

    await newer.close()
    await states.older.reached(4)
    const toOlder = atOlder.next()
    await dialer.connect(secretKey.publicKey, alpn)
    expect((await toOlder).value?.remoteId.equals(dialer.id)).toBe(true)
    // Neither ever went offline: they stood by instead of fighting over the id.
    expect(states.older.seen).toEqual(['connecting', 'online', 'standby', 'online'])
    expect(states.newer.seen).toEqual(['connecting', 'online', 'closed'])
    expect(older.relayState?.state).toBe('online')
  })
})
