/**
 * Faults through a relay over real QUIC: a peer that vanishes mid-transfer (its process
 * killed, so it says nothing) is seen as closed, with the relay's reason, once the relay's
 * transport gives it up.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { CloseCode, RelayCode } from '@ferry/core'
import { Endpoint } from '../src/index.js'
import { RelayServer } from '../src/relay-server.js'

const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

describe('faults through the relay', () => {
  it('a peer that vanishes mid-transfer is seen as closed, with PEER_GONE as the reason', async () => {
    const server = await RelayServer.start()
    cleanup.push(() => server.close())
    const { url, certHashes } = server.info()
    const entry = fileURLToPath(new URL('./fixtures/relayed-peer.ts', import.meta.url))
    const child = spawn(
      process.execPath,
      ['--conditions=@ferry/source', '--import', 'tsx', entry],
      {
        env: { ...process.env, FERRY_RELAY: JSON.stringify({ url, certHashes }) },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const exited = new Promise((resolve) => child.once('exit', resolve))
    cleanup.push(async () => {
      child.kill('SIGKILL')
      await exited
    })
    const id = await new Promise<string>((resolve, reject) => {
      void exited.then(() => reject(new Error('the peer exited early')))
      createInterface({ input: child.stdout }).on('line', (line) => {
        if (line.startsWith('id ')) resolve(line.slice(3))
      })
    })

    const client = await Endpoint.create({ relay: server.addr })
    cleanup.push(() => client.close())
    const conn = await client.connect(id, 'sink/1')
    const stream = await conn.openBi()
    const writer = stream.writable.getWriter()
    // Mid-transfer: some bytes are through when the peer's process dies without a word.
    const chunk = new Uint8Array(64 * 1024)
    for (let i = 0; i < 16; i++) await writer.write(chunk)
    child.kill('SIGKILL')
    await exited
    const writing = (async () => {
      for (;;) await writer.write(chunk)
    })()
    writing.catch(() => undefined)
    const closed = await conn.closed
    expect(closed.code).toBe(CloseCode.UNAUTHENTICATED_CLOSE)
    expect(closed.remote).toBe(false)
    expect(closed.transport).toEqual({
      code: RelayCode.PEER_GONE,
      reason: 'the peer left the relay',
    })
    await expect(writing).rejects.toBeDefined()
  }, 90_000)
})
