/**
 * A hostile member of a chat room, for `e2e/chat.spec.ts`: it joins the room of the link in
 * `FERRY_CHAT_LINK` as a raw gossip peer, and broadcasts a message in the name of the room's
 * creator (signed with its own key, the creator's id put in its place), then a tampered copy of a
 * message of its own, then a genuine message of its own (`FERRY_CHAT_MARKER`). It prints
 * `{"sent":true}` and waits for SIGTERM.
 */
import { Router } from '@ferry/core'
import { parseLink, signStatement } from '@ferry/chat'
import { GOSSIP_ALPN, Gossip } from '@ferry/gossip'
import { Endpoint } from '@ferry/node'

const link = process.env.FERRY_CHAT_LINK!
const room = parseLink(link)!
const config = (await (await fetch(new URL('/config.json', link))).json()) as {
  relay: { url: string; certHashes: string[] }
}
const endpoint = await Endpoint.create({
  relay: {
    url: config.relay.url,
    certHashes: config.relay.certHashes.map((h) => Uint8Array.from(Buffer.from(h, 'hex'))),
  },
})
const gossip = Gossip.create(endpoint)
const router = Router.builder(endpoint).accept(GOSSIP_ALPN, gossip).spawn()
await endpoint.online()
const topic = gossip.subscribe(room.room, { bootstrap: [room.via] })
await topic.joined()

const key = endpoint.secretKey
const forged = await signStatement(key, room.room, { kind: 'message', text: 'FORGED in your name' })
forged.set(room.via.toBytes(), 1)
topic.broadcast(forged)
const tampered = await signStatement(key, room.room, { kind: 'message', text: 'TAMPERED text' })
tampered[tampered.length - 1]! ^= 0x01
topic.broadcast(tampered)
topic.broadcast(
  await signStatement(key, room.room, { kind: 'message', text: process.env.FERRY_CHAT_MARKER! }),
)
console.log(JSON.stringify({ sent: true }))
await new Promise((resolve) => process.once('SIGTERM', resolve))
await router.shutdown()
