import { spawn } from 'node:child_process'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it, vi } from 'vitest'
import {
  CloseCode,
  ConnectError,
  type Connection,
  EndpointTicket,
  HandshakeError,
  type ProtocolHandler,
  Router,
  SecretKey,
} from '@ferry/core'
import { ECHO_ALPN, EchoProtocol } from '@ferry/echo'
import { withAlpnOffer } from '@ferry/core/internal'
import { next, Prng, readText, TestEndpoint, writeText } from '@ferry/core/testing'
import { type Route, WebTransport, WebTransportServer } from '@ferry/webtransport-node'
import { Endpoint, KeyFileError } from '../src/index.js'
import { NodeTransport } from '../src/transport.js'

const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((f) => f()))
})

async function listening(alpns?: string[]): Promise<Endpoint> {
  const ep = await Endpoint.create({ listen: { port: 0 }, alpns })
  cleanup.push(() => ep.close())
  return ep
}

async function dialer(): Promise<Endpoint> {
  const ep = await Endpoint.create()
  cleanup.push(() => ep.close())
  return ep
}

function serve(ep: Endpoint, handlers: Record<string, ProtocolHandler>): Router {
  let builder = Router.builder(ep)
  for (const [alpn, handler] of Object.entries(handlers)) builder = builder.accept(alpn, handler)
  const router = builder.spawn()
  cleanup.push(() => router.shutdown())
  return router
}

async function ask(conn: Connection, text: string): Promise<string> {
  const s = await conn.openBi()
  const [, answer] = await Promise.all([writeText(s.writable, text), readText(s.readable)])
  return answer
}

/** Answers each bidi stream with `name:` and what it read; remembers who connected. */
function named(name: string): ProtocolHandler & { peers: string[] } {
  const handler = {
    peers: [] as string[],
    async accept(conn: Connection): Promise<void> {
      handler.peers.push(conn.remoteId.toString())
      for await (const s of conn.bidiStreams()) {
        void readText(s.readable).then((t) => writeText(s.writable, `${name}:${t}`))
      }
    },
  }
  return handler
}

describe('Node endpoints over real UDP', () => {
  it('connect by ticket, route two ALPNs, authenticate both ids', async () => {
    const server = await listening()
    const chat = named('chat')
    const files = named('files')
    serve(server, { 'chat/1': chat, 'files/1': files })
    const client = await dialer()
    const ticket = server.ticket().toString()
    expect(ticket.startsWith('endpoint')).toBe(true)

    const a = await client.connect(ticket, 'chat/1')
    const b = await client.connect(EndpointTicket.parse(ticket), 'files/1')
    expect(await ask(a, 'hello')).toBe('chat:hello')
    expect(await ask(b, 'report.pdf')).toBe('files:report.pdf')
    expect(a.remoteId.equals(server.id)).toBe(true)
    expect(chat.peers).toEqual([client.id.toString()])
    expect(files.peers).toEqual([client.id.toString()])
    // The client pinned the certificate the server's identity signed: TLS is bound.
    expect(a.encrypted).toBe(false)
    expect(a.path).toBe('direct')
  })

  it('picks the best common version from a preference-ordered offer', async () => {
    const server = await listening()
    serve(server, { 'chat/1': named('v1'), 'chat/2': named('v2') })
    const client = await dialer()
    const conn = await client.connect(server.addr(), ['chat/3', 'chat/2', 'chat/1'])
    expect(conn.alpn).toBe('chat/2')
    expect(await ask(conn, 'x')).toBe('v2:x')
    const old = await client.connect(server.addr(), ['chat/1'])
    expect(await ask(old, 'y')).toBe('v1:y')
  })

  it('refuses an unknown ALPN with its close code', async () => {
    const server = await listening()
    serve(server, { 'chat/1': named('chat') })
    const client = await dialer()
    const e = await client.connect(server.addr(), 'video/1').catch((x: unknown) => x)
    expect(e).toBeInstanceOf(ConnectError)
    expect((e as ConnectError).code).toBe('ALPN_REFUSED')
  })

  it('refuses a peer that is not the endpoint the dialer expects', async () => {
    const server = await listening(['chat/1'])
    const client = await dialer()
    const other = (await SecretKey.generate()).publicKey
    const e = await client
      .connect({ id: other, direct: server.addr().direct }, 'chat/1')
      .catch((x: unknown) => x)
    expect(e).toBeInstanceOf(HandshakeError)
    expect((e as HandshakeError).code).toBe('WRONG_ENDPOINT')
  })

  it('refuses an impostor serving the right certificate with the wrong key', async () => {
    const genuine = await listening(['chat/1'])
    const impostor = await Endpoint.create({
      listen: { port: 0, certificate: genuine.certificate },
      alpns: ['chat/1'],
    })
    cleanup.push(() => impostor.close())
    const client = await dialer()
    const e = await client
      .connect({ id: genuine.id, direct: impostor.addr().direct }, 'chat/1')
      .catch((x: unknown) => x)
    expect((e as HandshakeError).code).toBe('WRONG_ENDPOINT')
  })

  it('encrypts end to end on request, with the same API', async () => {
    const server = await listening()
    serve(server, { [ECHO_ALPN]: new EchoProtocol() })
    const client = await dialer()
    const conn = await client.connect(server.addr(), ECHO_ALPN, { encrypt: true })
    expect(conn.encrypted).toBe(true)
    const big = 'x'.repeat(300_000)
    expect(await ask(conn, big)).toBe(big)
    const uni = await conn.openUni()
    await writeText(uni, 'uni')
    expect(await readText(await next(conn.uniStreams()))).toBe('uni')
    expect(conn.maxDatagramSize).toBeGreaterThan(1000)
  })

  it('carries close codes both ways', async () => {
    const server = await listening()
    let acceptedConn!: (c: Connection) => void
    const accepted = new Promise<Connection>((resolve) => (acceptedConn = resolve))
    serve(server, { 'chat/1': { accept: (c) => acceptedConn(c) } })
    const client = await dialer()
    const conn = await client.connect(server.addr(), 'chat/1')
    const far = await accepted
    conn.close(7, 'done here')
    expect(await conn.closed).toEqual({ code: 7, reason: 'done here', remote: false })
    expect(await far.closed).toEqual({ code: 7, reason: 'done here', remote: true })
  })

  it('rotates its certificate: old connections live on, new tickets carry the new hash', async () => {
    const server = await listening()
    serve(server, { [ECHO_ALPN]: new EchoProtocol() })
    const client = await dialer()
    const oldTicket = server.ticket()
    const before = await client.connect(oldTicket, ECHO_ALPN)
    await server.rotateCertificate()
    const newTicket = server.ticket()
    expect(newTicket.toString()).not.toBe(oldTicket.toString())
    expect(await ask(before, 'still here')).toBe('still here')
    const after = await client.connect(newTicket, ECHO_ALPN)
    expect(after.encrypted).toBe(false)
    expect(await ask(after, 'new cert')).toBe('new cert')
    const stale = await client.connect(oldTicket, ECHO_ALPN).catch((x: unknown) => x)
    expect((stale as ConnectError).code).toBe('TRANSPORT')
  })

  it('signs the certificate a connection was served with when a rotation lands mid-handshake', async () => {
    // Runs between the TLS handshake and the session: the endpoint's route accept hook
    // answers only once this resolves.
    let beforeAnswer: (() => Promise<void>) | undefined
    // Called with the server as `this` below.
    // eslint-disable-next-line @typescript-eslint/unbound-method
    const route = WebTransportServer.prototype.route
    const spy = vi.spyOn(WebTransportServer.prototype, 'route').mockImplementation(function (
      this: WebTransportServer,
      path: string,
      given: Route,
    ) {
      return route.call(this, path, {
        ...given,
        accept: async (request) => {
          const decision = await given.accept!(request)
          await beforeAnswer?.()
          return decision
        },
      })
    })
    cleanup.push(() => Promise.resolve(spy.mockRestore()))
    const server = await listening()
    serve(server, { [ECHO_ALPN]: new EchoProtocol() })
    const client = await dialer()
    const oldTicket = server.ticket()
    const oldHash = server.certificate!.hash
    beforeAnswer = async () => {
      beforeAnswer = undefined
      await server.rotateCertificate()
    }
    const conn = await client.connect(oldTicket, ECHO_ALPN)
    expect(beforeAnswer).toBeUndefined()
    expect(server.certificate!.hash).not.toEqual(oldHash)
    // Bound to the old certificate's TLS session, not downgraded to encryption.
    expect(conn.encrypted).toBe(false)
    expect(await ask(conn, 'served with the old one')).toBe('served with the old one')
  })

  it('shuts a router down in order: handlers, then connections, then the endpoint', async () => {
    const server = await listening()
    const order: string[] = []
    const router = Router.builder(server)
      .accept('chat/1', {
        accept: () => {},
        shutdown: () => void order.push('handler'),
      })
      .spawn()
    const client = await dialer()
    const conn = await client.connect(server.addr(), 'chat/1')
    void conn.closed.then((info) => order.push(`connection ${info.code}`))
    await router.shutdown()
    await conn.closed
    order.push(server.isClosed ? 'endpoint closed' : 'endpoint open')
    expect(order).toEqual([
      'handler',
      `connection ${CloseCode.ENDPOINT_CLOSING}`,
      'endpoint closed',
    ])
  })
})

describe('key files', () => {
  it('creates the key with mode 0600 and keeps the identity across restarts', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-key-'))
    cleanup.push(() => rm(dir, { recursive: true }))
    const keyFile = join(dir, 'ferry.key')
    const first = await Endpoint.create({ keyFile })
    await first.close()
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
    expect(await readFile(keyFile, 'utf8')).toMatch(/^ferry-secret-key-1:[a-z2-7]{52}\n$/)
    const second = await Endpoint.create({ keyFile })
    await second.close()
    expect(second.id.equals(first.id)).toBe(true)
  })

  it('refuses a key file others can read, and one that holds no key', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ferry-key-'))
    cleanup.push(() => rm(dir, { recursive: true }))
    const open = join(dir, 'open.key')
    await Endpoint.create({ keyFile: open }).then((e) => e.close())
    await chmod(open, 0o644)
    await expect(Endpoint.create({ keyFile: open })).rejects.toMatchObject({
      name: 'KeyFileError',
      code: 'UNPROTECTED',
    })
    const junk = join(dir, 'junk.key')
    await writeFile(junk, 'ferry-secret-key-1:not base32!\n', { mode: 0o600 })
    const e = await Endpoint.create({ keyFile: junk }).catch((x: unknown) => x)
    expect(e).toBeInstanceOf(KeyFileError)
    expect((e as KeyFileError).code).toBe('MALFORMED')
  })
})

describe('the ferry command', () => {
  it('`ferry echo` serves the echo protocol and prints a ticket that works', async () => {
    // The sources, as the workspace runs them; the packed-package test runs the built bin.
    const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
    const node = ['--conditions=@ferry/source', '--import', 'tsx']
    const child = spawn(process.execPath, [...node, bin, 'echo', '--port', '0'], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    cleanup.push(
      () =>
        new Promise((resolve) => {
          if (child.exitCode !== null) return resolve(undefined)
          child.once('exit', resolve)
          child.kill('SIGTERM')
        }),
    )
    const lines = createInterface({ input: child.stdout })
    const ticket = await new Promise<string>((resolve, reject) => {
      child.once('exit', (code) => reject(new Error(`ferry exited with ${code}`)))
      lines.on('line', (line) => {
        if (line.startsWith('ticket ')) resolve(line.slice('ticket '.length))
      })
    })
    const client = await dialer()
    const conn = await client.connect(ticket, ECHO_ALPN)
    expect(await ask(conn, 'hello ferry')).toBe('hello ferry')
    expect(conn.remoteId.equals(EndpointTicket.parse(ticket).addr.id)).toBe(true)
  })
})

describe('browsers without the WebTransport protocols option', () => {
  it('the ALPN offer in the URL query is served and confirmed by the handshake', async () => {
    const server = await listening()
    serve(server, { 'chat/1': named('v1'), 'chat/2': named('v2') })
    // A dialer like Firefox 153: no `protocols`, so no wt-available-protocols header.
    const queryOnly = new NodeTransport(undefined, () => {})
    queryOnly.dial = async (addr, alpns, options) => {
      const wt = new WebTransport(withAlpnOffer(addr.url, alpns).toString(), {
        serverCertificateHashes: addr.certHashes.map((value) => ({ algorithm: 'sha-256', value })),
        signal: options.signal,
      })
      await wt.ready
      expect(wt.protocol).toBe('')
      return { session: wt, tlsCertHash: wt.serverCertificateHash }
    }
    const client = await TestEndpoint.create({ transport: queryOnly })
    cleanup.push(() => client.close())
    const conn = await client.connect(server.addr(), ['chat/3', 'chat/2', 'chat/1'])
    expect(conn.alpn).toBe('chat/2')
    expect(await ask(conn, 'via query')).toBe('v2:via query')
  })
})

describe('hostile dialers', () => {
  it('a session that sends garbage instead of a handshake is closed, and the endpoint serves on', async () => {
    const errors: unknown[] = []
    const server = await Endpoint.create({
      listen: { port: 0 },
      onError: (e) => errors.push(e),
    })
    cleanup.push(() => server.close())
    serve(server, { [ECHO_ALPN]: new EchoProtocol() })
    const [direct] = server.addr().direct
    for (let seed = 1; seed <= 6; seed++) {
      const prng = new Prng(seed)
      const wt = new WebTransport(withAlpnOffer(direct!.url, [ECHO_ALPN]).toString(), {
        serverCertificateHashes: [{ algorithm: 'sha-256', value: direct!.certHashes[0]! }],
        protocols: [ECHO_ALPN],
      })
      await wt.ready
      const stream = await wt.createBidirectionalStream()
      const writer = stream.writable.getWriter()
      // Garbage that may even look like a length prefix; then the stream ends.
      await writer.write(prng.bytes(1 + prng.int(3000))).catch(() => {})
      await writer.close().catch(() => {})
      const closed = await wt.closed
      expect(closed.closeCode).toBe(CloseCode.HANDSHAKE_FAILED)
      expect(['MALFORMED', 'TRUNCATED', 'UNSUPPORTED_VERSION']).toContain(closed.reason)
    }
    expect(errors).toHaveLength(6)
    for (const e of errors) expect(e).toBeInstanceOf(HandshakeError)
    const client = await dialer()
    const conn = await client.connect(server.addr(), ECHO_ALPN)
    expect(await ask(conn, 'still serving')).toBe('still serving')
    const stats = await conn.stats()
    expect(stats.streamsOpened).toBe(1)
    expect(stats.bytesSent).toBeGreaterThan(0)
    expect(stats.bytesReceived).toBeGreaterThan(0)
  })
})
