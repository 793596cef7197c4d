/**
 * The Session acceptance suite on relayed virtual sessions: a relay on the in-memory network
 * (a quarter of the datagrams lost), a responder registered as one client, and each check's
 * sessions dialed through the relay by another.
 */
import { afterAll, beforeAll, describe, it } from 'vitest'
import { type PublicKey, SecretKey } from '@ferry/core'
import { RelayClient, type TransportListener } from '@ferry/core/internal'
import {
  MemoryNetwork,
  MemoryTransport,
  SessionResponder,
  runSessionCheck,
  sessionChecks,
} from '@ferry/core/testing'
import { Relay } from '../src/relay/relay.js'

const alpn = 'suite/1'

describe('the Session suite on relayed sessions', () => {
  const network = new MemoryNetwork({ seed: 5, datagramLoss: 0.25 })
  const responder = new SessionResponder()
  let relay: Relay
  let server: RelayClient
  let client: RelayClient
  let serverId: PublicKey

  beforeAll(async () => {
    relay = new Relay({ secretKey: await SecretKey.generate() })
    const relayTransport = new MemoryTransport(network)
    relayTransport.listen(relay.listener())
    const addr = relayTransport.directAddrs()[0]!
    const relayClient = (secretKey: SecretKey, listener: TransportListener): RelayClient =>
      new RelayClient({
        transport: new MemoryTransport(network),
        relay: { url: addr.url, certHashes: () => Promise.resolve(addr.certHashes) },
        secretKey,
        listener,
      })
    const serverKey = await SecretKey.generate()
    serverId = serverKey.publicKey
    server = relayClient(serverKey, { choose: () => alpn, session: (s) => responder.serve(s) })
    client = relayClient(await SecretKey.generate(), {
      choose: () => undefined,
      session: (s) => s.close(),
    })
    server.start()
    client.start()
    await Promise.all([server.online(), client.online()])
  })

  afterAll(async () => {
    await Promise.all([client.close(), server.close()])
    await relay.close()
  })

  for (const check of sessionChecks) {
    it(check.name, () => runSessionCheck(check, () => client.connect(serverId, [alpn])))
  }
})
