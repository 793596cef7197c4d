import { Router } from '@ferry/core'
import { MemoryNetwork, MemoryTransport, TestEndpoint } from '@ferry/core/testing'
import { GOSSIP_ALPN, Gossip, topicId } from '@ferry/gossip'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeBroadcast, encodeHistory, openEnvelope, signStatement } from './protocol.js'
import { ChatRoom } from './room.js'

const routers: Router[] = []
afterEach(async () => {
  await Promise.all(routers.splice(0).map((r) => r.shutdown()))
})

async function member(network: MemoryNetwork) {
  const endpoint = await TestEndpoint.create({ transport: new MemoryTransport(network) })
  const gossip = Gossip.create(endpoint)
  routers.push(Router.builder(endpoint).accept(GOSSIP_ALPN, gossip).spawn())
  return { endpoint, gossip, key: endpoint.secretKey }
}

const texts = (room: ChatRoom) => room.messages.map((m) => m.text)

describe('a chat room', () => {
  it('delivers every message to every member once, in time order, with presence', async () => {
    const network = new MemoryNetwork({ seed: 31 })
    const [a, b, c] = await Promise.all([member(network), member(network), member(network)])
    const room = topicId('chat test')
    const ra = ChatRoom.open(a.gossip, a.key, { room, bootstrap: [], nickname: 'ada' })
    const rb = ChatRoom.open(b.gossip, b.key, {
      room,
      bootstrap: [a.endpoint.ticket()],
      nickname: 'bo',
    })
    const rc = ChatRoom.open(c.gossip, c.key, {
      room,
      bootstrap: [a.endpoint.ticket()],
      nickname: 'cy',
    })
    await Promise.all([ra.joined(), rb.joined(), rc.joined()])
    await vi.waitFor(() => {
      for (const r of [ra, rb, rc])
        expect(r.members().map((m) => m.nickname)).toEqual(['ada', 'bo', 'cy'])
    })

    await ra.send('hello from ada')
    await rb.send('hi, bo here')
    await rc.send('cy too')
    await vi.waitFor(() => {
      for (const r of [ra, rb, rc]) expect(r.messages.length).toBe(3)
    })
    for (const r of [ra, rb, rc]) {
      expect(new Set(texts(r))).toEqual(new Set(['hello from ada', 'hi, bo here', 'cy too']))
      expect(r.messages.filter((m) => m.mine).length).toBe(1)
    }
    expect(rb.nameOf(a.key.publicKey)).toBe('ada')

    await rc.close()
    await vi.waitFor(() => {
      expect(ra.members().map((m) => m.nickname)).toEqual(['ada', 'bo'])
    })
    await ra.close()
    await rb.close()
  })

  it('offers recent history to a newcomer', async () => {
    const network = new MemoryNetwork({ seed: 32 })
    const [a, b] = await Promise.all([member(network), member(network)])
    const room = topicId('history')
    const ra = ChatRoom.open(a.gossip, a.key, { room, bootstrap: [], nickname: 'ada' })
    await ra.send('before you came')
    await ra.send('and this')
    const rb = ChatRoom.open(b.gossip, b.key, {
      room,
      bootstrap: [a.endpoint.ticket()],
      nickname: 'bo',
    })
    await vi.waitFor(() => expect(texts(rb)).toEqual(['before you came', 'and this']))
    expect(rb.messages.every((m) => m.author.equals(a.key.publicKey))).toBe(true)
    await Promise.all([ra.close(), rb.close()])
  })

  it('drops forged, tampered, other-room and malformed statements', async () => {
    const a = await member(new MemoryNetwork({ seed: 33 }))
    const b = await member(new MemoryNetwork({ seed: 34 }))
    const room = topicId('forgery')
    const good = await signStatement(a.key, room, { kind: 'message', text: 'genuine' })
    const envelope = decodeBroadcast(good)[0]!
    expect((await openEnvelope(envelope, room))?.kind).toBe('message')

    // Another key's signature under a's name.
    const forged = Uint8Array.from(envelope)
    forged.set(
      (await signStatement(b.key, room, { kind: 'message', text: 'genuine' })).subarray(33, 97),
      32,
    )
    expect(await openEnvelope(forged, room)).toBeUndefined()
    // A changed byte of the text.
    const tampered = Uint8Array.from(envelope)
    tampered[tampered.length - 1]! ^= 1
    expect(await openEnvelope(tampered, room)).toBeUndefined()
    // The same statement replayed in another room.
    expect(await openEnvelope(envelope, topicId('elsewhere'))).toBeUndefined()
    // Garbage.
    await expect(openEnvelope(envelope.subarray(0, 40), room)).rejects.toMatchObject({
      name: 'DecodeError',
    })
    expect(() => decodeBroadcast(Uint8Array.of(9))).toThrow(
      expect.objectContaining({ name: 'DecodeError' }),
    )
    expect(decodeBroadcast(encodeHistory([envelope, envelope]))).toHaveLength(2)
  })

  it('shows a forged message to nobody', async () => {
    const network = new MemoryNetwork({ seed: 35 })
    const [a, b, mallory] = await Promise.all([member(network), member(network), member(network)])
    const room = topicId('forged broadcast')
    const ra = ChatRoom.open(a.gossip, a.key, { room, bootstrap: [], nickname: 'ada' })
    const rb = ChatRoom.open(b.gossip, b.key, {
      room,
      bootstrap: [a.endpoint.ticket()],
      nickname: 'bo',
    })
    // Mallory is in the swarm but speaks raw gossip: a message in ada's name, signed by itself.
    const topic = mallory.gossip.subscribe(room, { bootstrap: [a.endpoint.ticket()] })
    await Promise.all([ra.joined(), rb.joined(), topic.joined()])
    const real = await signStatement(mallory.key, room, {
      kind: 'message',
      text: 'send me your keys',
    })
    const fake = Uint8Array.from(real)
    fake.set(a.key.publicKey.toBytes(), 1)
    topic.broadcast(fake)
    // Then a genuine one of its own: it travels the same links after the forgery, so once it
    // is shown the forgery has been seen and dropped.
    topic.broadcast(await signStatement(mallory.key, room, { kind: 'message', text: 'marker' }))
    await vi.waitFor(() => {
      expect(texts(ra)).toEqual(['marker'])
      expect(texts(rb)).toEqual(['marker'])
    })
    await topic.close()
    await Promise.all([ra.close(), rb.close()])
  })
})
