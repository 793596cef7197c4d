/**
 * Encrypted connections over real QUIC survive streams the application gives up on: an index
 * whose stream never reaches the peer must not break later streams of its class.
 */
import { afterEach, describe, expect, it } from 'vitest'
import { type Connection, Router } from '@ferry/core'
import { ECHO_ALPN, EchoProtocol } from '@ferry/echo'
import { readText, writeText } from '@ferry/core/testing'
import { Endpoint } from '../src/index.js'

const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((f) => f()))
})

async function ask(conn: Connection, text: string): Promise<string> {
  const s = await conn.openBi()
  const [, answer] = await Promise.all([writeText(s.writable, text), readText(s.readable)])
  return answer
}

describe('aborted streams over real QUIC, encrypted', () => {
  it('keeps working after more than 4096 streams aborted right after openBi()', async () => {
    const server = await Endpoint.create({ listen: { port: 0 } })
    cleanup.push(() => server.close())
    const router = Router.builder(server).accept(ECHO_ALPN, new EchoProtocol()).spawn()
    cleanup.push(() => router.shutdown())
    const client = await Endpoint.create()
    cleanup.push(() => client.close())
    const conn = await client.connect(server.addr(), ECHO_ALPN, { encrypt: true })
    expect(conn.encrypted).toBe(true)
    const reason = new Error('changed my mind')
    // Each aborted stream that never reaches the acceptor leaves a gap in the indexes of its
    // class; the aborted streams that do reach it move the acceptor past the gap.
    // Streams aborted while others carry requests: the acceptor sees some of them reset before
    // their first bytes.
    for (let batch = 0; batch < 50; batch++) {
      const aborted = Array.from({ length: 100 }, async () => {
        const s = await conn.openBi()
        await Promise.all([s.writable.abort(reason), s.readable.cancel(reason)])
      })
      const asked = Array.from({ length: 10 }, (_, i) => ask(conn, `q${batch}.${i}`))
      const [answers] = await Promise.all([Promise.all(asked), Promise.all(aborted)])
      expect(answers).toEqual(Array.from({ length: 10 }, (_, i) => `q${batch}.${i}`))
    }
    expect(await ask(conn, 'still here')).toBe('still here')
  }, 120_000)
})
