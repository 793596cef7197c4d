import { PublicKey } from '@ferry/core'
import { describe, expect, it } from 'vitest'
import { Topic, type TopicEvent, type TopicHost } from './topic.js'

const host: TopicHost = {
  broadcast: () => {},
  joinPeers: () => {},
  neighbors: () => [],
  leave: () => Promise.resolve(),
}
// The Ed25519 base point: a valid public key.
const from = PublicKey.fromBytes(Uint8Array.of(0x58, ...new Array<number>(31).fill(0x66)))
const received = (i: number): TopicEvent => ({
  type: 'received',
  content: Uint8Array.of(i),
  from,
  scope: 'swarm',
})

describe('a topic handle', () => {
  it('keeps at most its bound of events for a slow reader, and says how many it dropped', async () => {
    const topic = new Topic(new Uint8Array(32), host, 16)
    for (let i = 0; i < 100; i++) topic.push(received(i))
    topic.end()
    const events: TopicEvent[] = []
    for await (const e of topic) events.push(e)
    expect(events[0]).toEqual({ type: 'lagged', missed: 84 })
    // The newest 16 are kept, in order.
    expect(events.slice(1).map((e) => (e.type === 'received' ? e.content[0] : -1))).toEqual(
      Array.from({ length: 16 }, (_, i) => 84 + i),
    )
  })

  it('hands events to a waiting reader as they come, and ends when closed', async () => {
    const topic = new Topic(new Uint8Array(32), host, 16)
    const reading = (async () => {
      const got: number[] = []
      for await (const e of topic) if (e.type === 'received') got.push(e.content[0]!)
      return got
    })()
    topic.push(received(1))
    topic.push(received(2))
    await topic.close()
    expect(await reading).toEqual([1, 2])
    await expect(topic.joined()).rejects.toThrow('topic closed')
  })
})
