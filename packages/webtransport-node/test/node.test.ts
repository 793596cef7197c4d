import { afterEach, describe, expect, it } from 'vitest'
import { readText } from '@ferry/core/testing'
import type { WebTransportServer } from '../src/index.js'
import { WebTransportError } from '../src/index.js'
import {
  dial,
  echoBidi,
  echoRoundTrip,
  hashAll,
  startServer,
  text,
  writePattern,
} from './helpers.js'

const servers: WebTransportServer[] = []
afterEach(async () => {
  await Promise.all(servers.splice(0).map((s) => s.close()))
})

async function serve(routes: Parameters<typeof startServer>[0]): Promise<WebTransportServer> {
  const server = await startServer(routes)
  servers.push(server)
  return server
}

/** A promise and its resolver, for handing a server-side session to the test. */
function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void } {
  let resolve!: (v: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

describe('Node client ↔ Node server over UDP', () => {
  it('negotiates the subprotocol the server picks, not the client first', async () => {
    const offered = deferred<string[]>()
    const server = await serve({
      '/p': {
        accept: (req) => {
          offered.resolve(req.protocols)
          return { accept: true, protocol: 'chat/1' }
        },
        session: () => {},
      },
    })
    const wt = await dial(server, '/p', { protocols: ['chat/2', 'chat/1'] })
    await wt.ready
    expect(await offered.promise).toEqual(['chat/2', 'chat/1'])
    expect(wt.protocol).toBe('chat/1')
    wt.close()
  })

  it('echoes datagrams', async () => {
    const server = await serve({
      '/dgram': {
        session: (s) => void s.datagrams.readable.pipeTo(s.datagrams.writable).catch(() => {}),
      },
    })
    const wt = await dial(server, '/dgram')
    await wt.ready
    expect(wt.datagrams.maxDatagramSize).toBeGreaterThan(1000)
    const reader = wt.datagrams.readable.getReader()
    const writer = wt.datagrams.writable.getWriter()
    // Datagrams may be lost; on loopback they are not, but keep sending until one returns.
    const sent = text.encode('datagram!')
    let echoed: Uint8Array | undefined
    const receiving = reader.read().then((r) => (echoed = r.value))
    while (!echoed) {
      await writer.write(sent)
      await Promise.race([receiving, new Promise((r) => setImmediate(r))])
    }
    expect(text.decode(echoed)).toBe('datagram!')
    wt.close()
  })

  it('delivers a close sent together with the response (accept hook, then an at-once close)', async () => {
    // The client reads the 200, the CLOSE capsule and the FIN in one go, before the session
    // attaches to the CONNECT stream; the close must still arrive.
    const server = await serve({
      '/c': {
        accept: () => Promise.resolve({ accept: true }),
        session: (s) => s.close({ closeCode: 18, reason: 'refused at once' }),
      },
    })
    for (let i = 0; i < 5; i++) {
      const wt = await dial(server, '/c')
      expect(await wt.closed).toEqual({ closeCode: 18, reason: 'refused at once' })
    }
  })

  it("runs 300 concurrent streams, past the peer's initial stream credit of 256", async () => {
    const server = await serve({ '/echo': { session: (s) => void echoBidi(s) } })
    const wt = await dial(server, '/echo')
    await wt.ready
    const results = await Promise.all(
      Array.from({ length: 300 }, async (_, i) => {
        const { readable, writable } = await wt.createBidirectionalStream()
        const w = writable.getWriter()
        await w.write(text.encode(`stream ${i} `.repeat(100)))
        await w.close()
        return await readText(readable)
      }),
    )
    results.forEach((r, i) => expect(r).toBe(`stream ${i} `.repeat(100)))
    const stats = await wt.getStats()
    // 300 streams of ~1 KiB went each way through this connection.
    expect(stats.bytesSent).toBeGreaterThan(300_000)
    expect(stats.bytesReceived).toBeGreaterThan(300_000)
    expect(stats.packetsReceived).toBeGreaterThan(0)
    wt.close()
  })

  it('moves 64 MiB each way with the bytes intact', async () => {
    const total = 64 * 1024 * 1024
    const upload = deferred<[number, string]>()
    const server = await serve({
      '/bulk': {
        session: (s) =>
          void (async () => {
            const { value: up } = await s.incomingUnidirectionalStreams.getReader().read()
            upload.resolve(await hashAll(up!))
            const down = await s.createUnidirectionalStream()
            await writePattern(down, total)
          })(),
      },
    })
    const wt = await dial(server, '/bulk')
    const sentHash = await writePattern(await wt.createUnidirectionalStream(), total)
    expect(await upload.promise).toEqual([total, sentHash])
    const { value: down } = await wt.incomingUnidirectionalStreams.getReader().read()
    const [n, hash] = await hashAll(down!)
    expect(n).toBe(total)
    // The server wrote the same pattern, so the hash must match the one we computed.
    expect(hash).toBe(sentHash)
    wt.close()
  })

  it('refuses sessions with the status the route chooses', async () => {
    const server = await serve({
      '/guarded': { origins: ['https://good.example'], session: () => {} },
      '/deny': { accept: () => ({ accept: false, status: 429 }), session: () => {} },
    })
    const cases: [string, string | undefined, RegExp][] = [
      ['/nowhere', undefined, /status 404/],
      ['/guarded', 'https://evil.example', /status 403/],
      ['/deny', undefined, /status 429/],
    ]
    for (const [path, origin, message] of cases) {
      const wt = await dial(server, path, origin ? { origin } : {})
      const error = await wt.ready.then(
        () => undefined,
        (e: unknown) => e,
      )
      expect(error).toBeInstanceOf(WebTransportError)
      expect((error as Error).message).toMatch(message)
    }
    const ok = await dial(server, '/guarded', { origin: 'https://good.example' })
    await ok.ready
    ok.close()
  })

  it('rejects a server whose certificate does not match the pinned hash', async () => {
    const server = await serve({ '/x': { session: () => {} } })
    const { WebTransport } = await import('../src/index.js')
    const wt = new WebTransport(`https://127.0.0.1:${server.port}/x`, {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: new Uint8Array(32) }],
    })
    await expect(wt.ready).rejects.toBeInstanceOf(WebTransportError)
  })
  it('shuts down gracefully: sessions see code 0 and the reason', async () => {
    const server = await startServer({ '/s': { session: () => {} } })
    const wt = await dial(server, '/s')
    await wt.ready
    await server.close()
    expect(await wt.closed).toEqual({ closeCode: 0, reason: 'server shutting down' })
  })

  it('rotates its certificate for new connections while live sessions continue', async () => {
    const { createCertificate, WebTransport } = await import('../src/index.js')
    const server = await serve({ '/echo': { session: (s) => void echoBidi(s) } })
    const before = await dial(server, '/echo')
    await before.ready
    const next = await createCertificate()
    server.setCertificate(next)
    const pinnedToNew = new WebTransport(`https://127.0.0.1:${server.port}/echo`, {
      serverCertificateHashes: [{ algorithm: 'sha-256', value: next.hash }],
    })
    await pinnedToNew.ready
    const pinnedToOld = await dial(server, '/echo')
    await expect(pinnedToOld.ready).rejects.toBeInstanceOf(WebTransportError)
    // The session made before the rotation still works.
    expect(await echoRoundTrip(before, 'old cert, still fine')).toBe('old cert, still fine')
    before.close()
    pinnedToNew.close()
  })
  it('forgets finished streams, so a long session does not grow its stream table', async () => {
    const server = await serve({ '/echo': { session: (s) => void echoBidi(s) } })
    const wt = await dial(server, '/echo')
    for (let i = 0; i < 200; i++) {
      expect(await echoRoundTrip(wt, `round ${i}`)).toBe(`round ${i}`)
    }
    // Internals on purpose: what is being checked is the absence of a leak.
    const h3 = (wt as unknown as { h3: { streams: Map<number, unknown> } }).h3
    // Control, QPACK and CONNECT streams remain; the 200 echo streams are gone.
    expect(h3.streams.size).toBeLessThan(10)
    wt.close()
  })
  it('survives a route hook that throws: 500 for that request, onError hears it', async () => {
    const errors: unknown[] = []
    const { WebTransportServer } = await import('../src/index.js')
    const { certificate } = await import('./helpers.js')
    const server = await WebTransportServer.listen({
      certificate: await certificate(),
      onError: (e) => errors.push(e),
    })
    servers.push(server)
    server.route('/broken', {
      accept: () => {
        throw new RangeError('hook bug')
      },
      session: () => {},
    })
    server.route('/echo', { session: (s) => void echoBidi(s) })
    const broken = await dial(server, '/broken')
    await expect(broken.ready).rejects.toThrow(/status 500/)
    expect(errors).toHaveLength(1)
    expect((errors[0] as Error).name).toBe('RangeError')
    const ok = await dial(server, '/echo')
    await ok.ready
    ok.close()
  })
})
