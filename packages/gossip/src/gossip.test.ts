import { Router, type Endpoint } from '@ferry/core'
import { MemoryNetwork, MemoryTransport, Prng, TestEndpoint } from '@ferry/core/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { GOSSIP_ALPN, Gossip } from './gossip.js'
import type { Topic } from './topic.js'
import { topicId } from './topic-id.js'

const enc = new TextEncoder()
const dec = new TextDecoder()

interface Peer {
  endpoint: Endpoint
  gossip: Gossip
  router: Router
}

const routers: Router[] = []
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.shutdown()))
})

async function peer(network: MemoryNetwork, seed: number): Promise<Peer> {
  const endpoint = await TestEndpoint.create({ transport: new MemoryTransport(network) })
  const gossip = Gossip.create(endpoint, { rng: new Prng(seed) })
  const router = Router.builder(endpoint).accept(GOSSIP_ALPN, gossip).spawn()
  routers.push(router)
  return { endpoint, gossip, router }
}

/** Collects `count` received messages as text, failing on anything received twice. */
async function receive(topic: Topic, count: number): Promise<string[]> {
  const got: string[] = []
  for await (const event of topic) {
    if (event.type !== 'received') continue
    const text = dec.decode(event.content)
    if (got.includes(text)) throw new Error(`received twice: ${text}`)
    got.push(text)
    if (got.length === count) break
  }
  return got.sort()
}

describe('gossip over ferry connections', () => {
  it('forms a swarm from one bootstrap peer and delivers every broadcast to every peer once', async () => {
    const network = new MemoryNetwork({ seed: 21 })
    const peers = await Promise.all(Array.from({ length: 8 }, (_, i) => peer(network, i + 1)))
    const room = topicId('room')
    const first = peers[0]!
    const topics = peers.map((p, i) =>
      p.gossip.subscribe(room, { bootstrap: i === 0 ? [] : [first.endpoint.ticket()] }),
    )
    await Promise.all(topics.map((t) => t.joined()))
    // Joins evict random neighbors while the swarm forms: wait until it has settled.
    await vi.waitFor(() => {
      for (const t of topics) expect(t.neighbors.length).toBeGreaterThanOrEqual(2)
    })

    const expected = peers.map((_, i) => `message ${i}`)
    const receiving = topics.map((t, i) => receive(t, peers.length - 1).then((got) => ({ i, got })))
    topics.forEach((t, i) => t.broadcast(enc.encode(`message ${i}`)))
    for (const { i, got } of await Promise.all(receiving)) {
      expect(got).toEqual(expected.filter((_, j) => j !== i).sort())
    }
  })

  it('tells neighbors when a peer leaves, and delivery goes on among the rest', async () => {
    const network = new MemoryNetwork({ seed: 22 })
    const [a, b, c] = await Promise.all([peer(network, 1), peer(network, 2), peer(network, 3)])
    const room = topicId('leave')
    const ta = a.gossip.subscribe(room)
    const tb = b.gossip.subscribe(room, { bootstrap: [a.endpoint.ticket()] })
    const tc = c.gossip.subscribe(room, { bootstrap: [a.endpoint.ticket()] })
    await Promise.all([ta.joined(), tb.joined(), tc.joined()])

    const down = (async () => {
      for await (const e of ta)
        if (e.type === 'neighbor-down' && e.peer.equals(c.endpoint.id)) return e
    })()
    await tc.close()
    expect((await down)?.type).toBe('neighbor-down')
    const got = receive(ta, 1)
    tb.broadcast(enc.encode('still here'))
    expect(await got).toEqual(['still here'])
  })

  it('keeps trying its bootstrap peer when the first join fails, and joins once it answers', async () => {
    const network = new MemoryNetwork({ seed: 25 })
    // a is up but serves no gossip yet: b's first join is refused.
    const aEndpoint = await TestEndpoint.create({ transport: new MemoryTransport(network) })
    const b = await peer(network, 2)
    const attempts: Promise<unknown>[] = []
    const connect = b.endpoint.connect.bind(b.endpoint)
    vi.spyOn(b.endpoint, 'connect').mockImplementation((...args) => {
      const attempt = connect(...args)
      attempts.push(attempt)
      return attempt
    })
    const room = topicId('late host')
    const tb = b.gossip.subscribe(room, { bootstrap: [aEndpoint.ticket()] })
    await vi.waitFor(() => expect(attempts).toHaveLength(1))
    await expect(attempts[0]).rejects.toMatchObject({ code: 'ALPN_REFUSED' })

    const aGossip = Gossip.create(aEndpoint, { rng: new Prng(1) })
    routers.push(Router.builder(aEndpoint).accept(GOSSIP_ALPN, aGossip).spawn())
    const ta = aGossip.subscribe(room)
    await Promise.all([ta.joined(), tb.joined()])
    expect(attempts.length).toBeGreaterThan(1)
    const got = receive(ta, 1)
    tb.broadcast(enc.encode('made it'))
    expect(await got).toEqual(['made it'])
  })

  it('refuses a broadcast above the size limit and a topic id of the wrong size', async () => {
    const network = new MemoryNetwork({ seed: 24 })
    const a = await peer(network, 1)
    expect(() => a.gossip.subscribe(new Uint8Array(31))).toThrow(RangeError)
    const t = a.gossip.subscribe(topicId('big'))
    expect(() => t.broadcast(new Uint8Array(4097))).toThrow(RangeError)
    t.broadcast(new Uint8Array(4096))
    await t.close()
    expect(() => t.broadcast(new Uint8Array(1))).toThrow('topic closed')
  })
})
