import { afterAll, beforeAll, describe, it } from 'vitest'
import { SessionResponder, runSessionCheck, sessionChecks } from '@ferry/core/testing'
import type { WebTransportServer, WebTransportSession } from '../src/index.js'
import { dial, startServer } from './helpers.js'

/**
 * The Session suite over real QUIC on 127.0.0.1, both ways round: the Node client under test
 * with the server's sessions responding, and the server's session under test with a Node
 * client responding.
 */
let server: WebTransportServer
const responder = new SessionResponder()
/** Server sessions of `/under-test`, in the order their clients dialed. */
const accepted: ((session: WebTransportSession) => void)[] = []

beforeAll(async () => {
  server = await startServer({
    '/respond': { session: (session) => responder.serve(session) },
    '/under-test': { session: (session) => accepted.shift()?.(session) },
  })
})

afterAll(async () => {
  await server.close()
})

describe('the Session suite on the Node client', () => {
  for (const check of sessionChecks) {
    it(check.name, () => runSessionCheck(check, () => dial(server, '/respond')))
  }
})

describe('the Session suite on the server session', () => {
  /** Dials `/under-test` from a client that responds, and resolves with the server's side. */
  async function open(): Promise<WebTransportSession> {
    const session = new Promise<WebTransportSession>((resolve) => accepted.push(resolve))
    const client = await dial(server, '/under-test')
    responder.serve(client)
    // The client goes when the server's side closes, which every check ends with.
    void client.closed.catch(() => undefined)
    return session
  }

  for (const check of sessionChecks) {
    it(check.name, () => runSessionCheck(check, open))
  }
})
