/**
 * A relay that comes back with a new self-signed certificate (as `ferry relay --key-file`
 * renews its own): an endpoint that takes its hashes from a function follows it, asking again
 * before each connection.
 */
import { afterEach, describe, expect, it } from 'vitest'
import type { RelayState } from '@ferry/core'
import { Endpoint } from '../src/index.js'
import { RelayServer } from '../src/relay-server.js'

const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

describe('a relay with a new certificate', () => {
  it('is pinned again by an endpoint whose certHashes is a function', async () => {
    let relay = await RelayServer.start()
    cleanup.push(() => relay.close())
    const { url } = relay.info()
    let published = relay.info().certHashes
    const asked: string[][] = []
    let restarted = false
    let backOnline = (): void => {}
    const back = new Promise<void>((resolve) => (backOnline = resolve))
    const endpoint = await Endpoint.create({
      relay: {
        url,
        certHashes: () => {
          asked.push(published)
          return published
        },
      },
      onRelayState: (state: RelayState) => {
        if (restarted && state.state === 'online') backOnline()
      },
    })
    cleanup.push(() => endpoint.close())
    await endpoint.online()
    const first = published

    const port = relay.port
    await relay.close()
    relay = await RelayServer.start({ port })
    published = relay.info().certHashes
    expect(published).not.toEqual(first)
    restarted = true
    await back

    expect(asked[0]).toEqual(first)
    expect(asked.at(-1)).toEqual(published)
    // Registered with the new relay: another endpoint reaches this one by its id there (and
    // is refused the ALPN it serves none of, rather than told it is OFFLINE).
    const dialer = await Endpoint.create({ relay: relay.addr })
    cleanup.push(() => dialer.close())
    await expect(dialer.connect(endpoint.id, 'none/1')).rejects.toMatchObject({
      name: 'ConnectError',
      code: 'ALPN_REFUSED',
    })
  })
})
