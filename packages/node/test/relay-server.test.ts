/**
 * The relay server over real QUIC on loopback: Node endpoints that do not listen reach each
 * other through it by EndpointId; its HTTP port; and a restart that clients survive.
 */
import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { type Connection, EndpointTicket, RelayError, SecretKey } from '@ferry/core'
import { readText, writeText } from '@ferry/core/testing'
import { createCertificate } from '@ferry/webtransport-node'
import { Endpoint } from '../src/index.js'
import { serveEcho } from './fixtures/echo.js'
import { type RelayInfo, RelayServer, type RelayServerOptions } from '../src/relay-server.js'

const alpn = 'relay-test/1'
const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

async function relayServer(options: RelayServerOptions = {}): Promise<RelayServer> {
  const server = await RelayServer.start(options)
  cleanup.push(() => server.close())
  return server
}

/** An endpoint that does not listen: reachable only through `server`. */
async function relayed(server: RelayServer, alpns?: string[]): Promise<Endpoint> {
  const ep = await Endpoint.create({ relay: server.addr, alpns })
  cleanup.push(() => ep.close())
  await ep.online()
  return ep
}

/** Serves the `echo:` protocol on `ep` until the test ends. */
function echo(ep: Endpoint): void {
  cleanup.push(serveEcho(ep, alpn))
}

async function ask(conn: Connection, text: string): Promise<string> {
  const s = await conn.openBi()
  const [, answer] = await Promise.all([writeText(s.writable, text), readText(s.readable)])
  return answer
}

describe('the relay server', () => {
  it('carries a connection between two endpoints that know only each other’s id', async () => {
    const server = await relayServer()
    const a = await relayed(server)
    echo(a)
    const b = await relayed(server)
    const conn = await b.connect(a.id.toString(), alpn)
    expect(conn.path).toBe('relay')
    expect(conn.encrypted).toBe(true)
    expect(await ask(conn, 'over QUIC')).toBe('echo:over QUIC')
    const big = 'x'.repeat(3 * 1024 * 1024)
    expect((await ask(conn, big)).length).toBe(big.length + 5)
    await expect(b.connect((await SecretKey.generate()).publicKey, alpn)).rejects.toBeInstanceOf(
      RelayError,
    )
  })

  it('serves its health, its address and hashes, and metrics over HTTP', async () => {
    const server = await relayServer()
    await relayed(server)
    const base = server.httpUrl!
    const health = await fetch(`${base}/health`)
    expect(health.status).toBe(200)
    expect(await health.json()).toEqual({ status: 'ok', clients: 1 })
    const info = (await (await fetch(`${base}/relay`)).json()) as Record<string, unknown>
    expect(info).toEqual({
      url: server.addr.url,
      id: server.id.toString(),
      certHashes: server.addr.certHashes.map((h) => Buffer.from(h).toString('hex')),
      http: base,
    })
    const metrics = await (await fetch(`${base}/metrics`)).text()
    expect(metrics).toMatch(/^ferry_relay_clients 1$/m)
    expect((await fetch(`${base}/nothing`)).status).toBe(404)
  })

  it('finds a listening endpoint by its id alone, and heals a stale ticket, over the direct path', async () => {
    const server = await relayServer()
    // An endpoint that listens and publishes its address to the relay.
    const a = await Endpoint.create({ relay: server.addr, listen: { port: 0 } })
    cleanup.push(() => a.close())
    echo(a)
    await a.online()
    const b = await relayed(server)
    const byId = await b.connect(a.id, alpn)
    expect(byId.path).toBe('direct')
    expect(await ask(byId, 'found')).toBe('echo:found')
    // A ticket whose certificate hash is stale (a rotation since): the published record heals it.
    const [direct] = a.addr().direct
    const stale = new EndpointTicket({
      id: a.id,
      direct: [{ url: direct!.url, certHashes: [new Uint8Array(32).fill(9)] }],
    })
    const healed = await b.connect(stale, alpn)
    expect(healed.path).toBe('direct')
    expect(await ask(healed, 'healed')).toBe('echo:healed')
  })

  it('is survived by its clients when it restarts: they reconnect, and new connections work', async () => {
    const certificate = await createCertificate()
    const secretKey = await SecretKey.generate()
    const first = await RelayServer.start({ certificate, secretKey })
    const port = first.port
    const addr = first.addr
    // Resolves when `a` leaves the relay after having been online.
    let wasOnline = false
    let leftRelay!: (state: string) => void
    const offline = new Promise<string>((resolve) => (leftRelay = resolve))
    const a = await Endpoint.create({
      relay: addr,
      onRelayState: ({ state }) => {
        if (state === 'online') wasOnline = true
        else if (wasOnline) leftRelay(state)
      },
    })
    const b = await Endpoint.create({ relay: addr })
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    echo(a)
    await Promise.all([a.online(), b.online()])
    expect(await ask(await b.connect(a.id, alpn), 'before')).toBe('echo:before')
    await first.close()
    // Told it is going away, the client reconnects at once: connecting, not offline.
    expect(await offline).toBe('connecting')
    const second = await relayServer({ certificate, secretKey, port })
    expect(second.addr.url).toBe(addr.url)
    await Promise.all([a.online(), b.online()])
    expect(await ask(await b.connect(a.id, alpn), 'after')).toBe('echo:after')
  })
})

describe('`ferry relay`', () => {
  it('prints its address as one JSON line, admits only token holders, and stops cleanly on SIGTERM', async () => {
    const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
    const node = ['--conditions=@ferry/source', '--import', 'tsx']
    const args = ['relay', '--port', '0', '--http-port', '0', '--json', '--token', 'sesame']
    const child = spawn(process.execPath, [...node, bin, ...args], {
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
    cleanup.push(async () => {
      if (child.exitCode === null) child.kill('SIGKILL')
      await exited
    })
    const lines = createInterface({ input: child.stdout })
    const line = await new Promise<string>((resolve, reject) => {
      void exited.then((code) => reject(new Error(`ferry relay exited with ${code}`)))
      lines.once('line', resolve)
    })
    const info = JSON.parse(line) as RelayInfo
    expect(Object.keys(info).sort()).toEqual(['certHashes', 'http', 'id', 'url'])
    expect(info.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/ferry$/)
    expect(info.certHashes).toHaveLength(1)
    expect(info.certHashes[0]).toMatch(/^[0-9a-f]{64}$/)
    expect((await fetch(`${info.http}/health`)).status).toBe(200)
    const relay = { url: info.url, certHashes: info.certHashes.map((h) => Buffer.from(h, 'hex')) }

    // With the token: registered, and reachable by id.
    const a = await Endpoint.create({ relay: { ...relay, token: 'sesame' } })
    const b = await Endpoint.create({ relay: { ...relay, token: 'sesame' } })
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    echo(a)
    await Promise.all([a.online(), b.online()])
    expect(await ask(await b.connect(a.id, alpn), 'with the token')).toBe('echo:with the token')

    // Without it: refused, with the reason, again and again.
    let refused!: (error: unknown) => void
    const refusal = new Promise<unknown>((resolve) => (refused = resolve))
    const c = await Endpoint.create({
      relay,
      onRelayState: (state) => {
        if (state.state === 'offline') refused(state.error)
      },
    })
    cleanup.push(() => c.close())
    expect(await refusal).toMatchObject({ name: 'RelayError', code: 'ACCESS_DENIED' })

    child.kill('SIGTERM')
    expect(await exited).toBe(0)
  })
})
