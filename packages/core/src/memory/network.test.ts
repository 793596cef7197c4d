import { describe, expect, it } from 'vitest'
import type { Session } from '../session.js'
import { MemoryNetwork } from './network.js'
import { connect, echo, str, text } from './network-fixtures.js'
import { readBytes } from '../testing.js'

describe('MemoryNetwork dialing and listening', () => {
  it('rejects closed on both sides of every session on a partition', async () => {
    const { network, url, client, server } = await connect()
    const other = await network.dial(url, [])
    const stream = await client.createBidirectionalStream()
    network.partition()
    const lost = { name: 'WebTransportError', source: 'session' }
    await expect(client.closed).rejects.toMatchObject(lost)
    await expect(server.closed).rejects.toMatchObject(lost)
    await expect(other.closed).rejects.toMatchObject(lost)
    await expect(stream.readable.getReader().read()).rejects.toMatchObject(lost)
    await expect(client.incomingBidirectionalStreams.getReader().read()).rejects.toMatchObject(lost)
    // The listener stays: a new dial after the outage works.
    const again = await network.dial(url, [])
    await expect(again.ready).resolves.toBeUndefined()
  })

  it('fails a dial in flight on a partition', async () => {
    const network = new MemoryNetwork()
    const url = network.listen({ choose: () => undefined, session: () => {} })
    const dialing = network.dial(url, [])
    network.partition()
    await expect(dialing).rejects.toMatchObject({ name: 'WebTransportError', source: 'session' })
  })

  it('negotiates the subprotocol the listener chooses', async () => {
    const network = new MemoryNetwork()
    const infos: { protocol: string | undefined; offer: string[] }[] = []
    const servers: Session[] = []
    const url = network.listen({
      choose: (offer) => (offer.includes('b/1') ? 'b/1' : undefined),
      session: (s, info) => {
        servers.push(s)
        infos.push(info)
      },
    })
    const client = await network.dial(url, ['b/2', 'b/1'])
    expect(client.protocol).toBe('b/1')
    expect(servers[0]!.protocol).toBe('b/1')
    expect(infos[0]).toEqual({ protocol: 'b/1', offer: ['b/2', 'b/1'] })

    const none = await network.dial(url, ['c/1'])
    expect(none.protocol).toBe('')
    expect(servers[1]!.protocol).toBe('')
    expect(infos[1]).toEqual({ protocol: undefined, offer: ['c/1'] })
  })

  it('refuses a protocol the dialer did not offer', async () => {
    const network = new MemoryNetwork()
    const url = network.listen({ choose: () => 'x', session: () => {} })
    await expect(network.dial(url, ['y'])).rejects.toMatchObject({ name: 'WebTransportError' })
  })

  it('rejects a dial to nowhere, and a bad url with a TypeError', async () => {
    const network = new MemoryNetwork()
    await expect(network.dial('memory://99', [])).rejects.toBeInstanceOf(Error)
    await expect(network.dial('memory://99', [])).rejects.toMatchObject({
      name: 'WebTransportError',
      source: 'session',
    })
    await expect(network.dial('https://example.com', [])).rejects.toBeInstanceOf(TypeError)
    await expect(network.dial('not a url', [])).rejects.toBeInstanceOf(TypeError)
  })

  it('stops accepting after unlisten while established sessions stay', async () => {
    const { network, url, client, server } = await connect()
    echo(server)
    network.unlisten(url)
    await expect(network.dial(url, [])).rejects.toMatchObject({ name: 'WebTransportError' })
    const stream = await client.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(text('still here'))
    await writer.close()
    expect(str(await readBytes(stream.readable))).toBe('still here')
  })

  it('rejects a dial when its signal aborts', async () => {
    const network = new MemoryNetwork()
    let sessions = 0
    const url = network.listen({ choose: () => undefined, session: () => void sessions++ })
    const reason = new Error('stop')
    await expect(network.dial(url, [], { signal: AbortSignal.abort(reason) })).rejects.toBe(reason)
    const controller = new AbortController()
    const dialing = network.dial(url, [], { signal: controller.signal })
    controller.abort()
    await expect(dialing).rejects.toMatchObject({ name: 'AbortError' })
    await network.settle()
    expect(sessions).toBe(0)
  })
})
