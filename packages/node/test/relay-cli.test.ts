/**
 * `ferry relay --key-file`: the relay keeps its identity and its self-signed certificate
 * across restarts, so clients that pinned the certificate's hash reconnect by themselves; a
 * kept certificate that is about to expire is replaced.
 */
import { type ChildProcess, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { readText, writeText } from '@ferry/core/testing'
import { createCertificate } from '@ferry/webtransport-node'
import { Endpoint } from '../src/index.js'
import { serveEcho } from './fixtures/echo.js'
import type { RelayInfo } from '../src/relay-server.js'

const alpn = 'relay-cli-test/1'
const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-relay-cli-'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

interface Relay {
  child: ChildProcess
  exited: Promise<number | null>
  /** What it printed with `--json`; undefined if it exited first. */
  info: RelayInfo | undefined
  /** The next JSON line it prints (it prints one each time it starts); undefined on exit. */
  next(): Promise<RelayInfo | undefined>
}

/** Runs `ferry relay ...args --json`; resolves once it printed its JSON line, or exited. */
async function ferryRelay(...args: string[]): Promise<Relay> {
  const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
  const node = ['--conditions=@ferry/source', '--import', 'tsx']
  const child = spawn(process.execPath, [...node, bin, 'relay', ...args, '--json'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  child.stderr.on('data', (chunk: Uint8Array) => process.stderr.write(chunk))
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const next = async (): Promise<RelayInfo | undefined> => {
    const line = await lines.next()
    return line.done ? undefined : (JSON.parse(line.value) as RelayInfo)
  }
  return { child, exited, info: await next(), next }
}

async function stop(relay: Relay): Promise<void> {
  relay.child.kill('SIGTERM')
  expect(await relay.exited).toBe(0)
}

/** SHA-256 (hex) of the DER of the first certificate in a PEM text. */
function pemHash(pem: string): string {
  const body = /-----BEGIN CERTIFICATE-----([^-]*)-----END CERTIFICATE-----/.exec(pem)![1]!
  return createHash('sha256')
    .update(Buffer.from(body.replace(/\s+/g, ''), 'base64'))
    .digest('hex')
}

function port(url: string): string {
  return new URL(url).port
}

/** Serves the `echo:` protocol on `ep` until the test ends. */
function echo(ep: Endpoint): void {
  cleanup.push(serveEcho(ep, alpn))
}

describe('`ferry relay --key-file`', () => {
  it('keeps its certificate beside the key file: a restart presents the same id and hash, and pinned clients come back', async () => {
    const keyFile = join(await tempDir(), 'relay.key')
    const first = await ferryRelay('--key-file', keyFile, '--port', '0', '--http-port', '0')
    const info = first.info!
    expect(info.certHashes).toHaveLength(1)

    const kept = await readFile(`${keyFile}.cert.pem`, 'utf8')
    expect((await stat(`${keyFile}.cert.pem`)).mode & 0o777).toBe(0o600)
    expect(kept).toContain('-----BEGIN PRIVATE KEY-----')
    expect(pemHash(kept)).toBe(info.certHashes[0])

    // Two clients that pinned the first run's hash.
    const relay = { url: info.url, certHashes: info.certHashes.map((h) => Buffer.from(h, 'hex')) }
    const a = await Endpoint.create({ relay })
    const b = await Endpoint.create({ relay })
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    echo(a)
    await Promise.all([a.online(), b.online()])
    await stop(first)

    const second = await ferryRelay(
      '--key-file',
      keyFile,
      '--port',
      port(info.url),
      '--http-port',
      '0',
    )
    expect(second.info!.id).toBe(info.id)
    expect(second.info!.url).toBe(info.url)
    expect(second.info!.certHashes).toEqual(info.certHashes)
    expect(await readFile(`${keyFile}.cert.pem`, 'utf8')).toBe(kept)

    await Promise.all([a.online(), b.online()])
    const conn = await b.connect(a.id, alpn)
    const s = await conn.openBi()
    const [, answer] = await Promise.all([writeText(s.writable, 'again'), readText(s.readable)])
    expect(answer).toBe('echo:again')
    conn.close(0, 'done')
    await stop(second)
  })

  it('replaces a kept certificate that expires within a day', async () => {
    const keyFile = join(await tempDir(), 'relay.key')
    const old = await createCertificate({ validityDays: 0.5 })
    await writeFile(`${keyFile}.cert.pem`, old.certPem + old.keyPem, { mode: 0o600 })

    const relay = await ferryRelay('--key-file', keyFile, '--port', '0', '--http-port', '0')
    const [hash] = relay.info!.certHashes
    expect(hash).toMatch(/^[0-9a-f]{64}$/)
    expect(hash).not.toBe(old.hashHex)
    const kept = await readFile(`${keyFile}.cert.pem`, 'utf8')
    expect(pemHash(kept)).toBe(hash)
    expect((await stat(`${keyFile}.cert.pem`)).mode & 0o777).toBe(0o600)
    await stop(relay)
  })

  it('renews its kept certificate a day before it expires, on the same ports, and keeps the new one', async () => {
    const keyFile = join(await tempDir(), 'relay.key')
    // A day and 15 s: kept at start (a day is left), renewed some 15 s later.
    const old = await createCertificate({ validityDays: 1 + 15 / 86_400 })
    await writeFile(`${keyFile}.cert.pem`, old.certPem + old.keyPem, { mode: 0o600 })

    const relay = await ferryRelay('--key-file', keyFile, '--port', '0', '--http-port', '0')
    expect(relay.info!.certHashes).toEqual([old.hashHex])
    const renewed = await relay.next()
    expect(renewed).toBeDefined()
    expect(renewed!.certHashes).toHaveLength(1)
    expect(renewed!.certHashes[0]).not.toBe(old.hashHex)
    expect(renewed!.url).toBe(relay.info!.url)
    expect(renewed!.http).toBe(relay.info!.http)
    expect(renewed!.id).toBe(relay.info!.id)
    expect(pemHash(await readFile(`${keyFile}.cert.pem`, 'utf8'))).toBe(renewed!.certHashes[0])
    await stop(relay)
  })

  it('refuses a certificate file that others can read, as it refuses such a key file', async () => {
    const keyFile = join(await tempDir(), 'relay.key')
    const old = await createCertificate()
    await writeFile(`${keyFile}.cert.pem`, old.certPem + old.keyPem)
    await chmod(`${keyFile}.cert.pem`, 0o644)

    const relay = await ferryRelay('--key-file', keyFile, '--port', '0', '--http-port', '0')
    expect(relay.info).toBeUndefined()
    expect(await relay.exited).toBe(1)
    // Left as it was: the operator decides.
    expect(await readFile(`${keyFile}.cert.pem`, 'utf8')).toBe(old.certPem + old.keyPem)
  })
})

describe('`ferry relay --client-rate`', () => {
  it('holds each client to its byte rate: a burst of datagrams past the bucket is dropped, and counted', async () => {
    const relay = await ferryRelay(
      '--port',
      '0',
      '--http-port',
      '0',
      '--client-rate',
      '2KiB',
      '--client-burst',
      '4KiB',
    )
    const info = relay.info!
    const config = {
      relay: { url: info.url, certHashes: info.certHashes.map((h) => Buffer.from(h, 'hex')) },
    }
    const a = await Endpoint.create(config)
    const b = await Endpoint.create(config)
    cleanup.push(
      () => a.close(),
      () => b.close(),
    )
    echo(a)
    await Promise.all([a.online(), b.online()])
    const conn = await b.connect(a.id, alpn)
    const counts = async (): Promise<{ forwarded: number; dropped: number }> => {
      const text = await (await fetch(`${info.http}/metrics`)).text()
      const value = (name: string): number =>
        Number(new RegExp(`^ferry_relay_${name} (\\d+)$`, 'm').exec(text)?.[1] ?? NaN)
      return {
        forwarded: value('datagrams_forwarded_total'),
        dropped: value('datagrams_dropped_total'),
      }
    }
    const sent = 40
    for (let i = 0; i < sent; i++) {
      await conn.sendDatagram(new Uint8Array(1000).fill(i))
      // One at a time: each reaches the relay and is counted before the next goes, so none
      // is dropped for a full queue (without the rate, all 40 are forwarded).
      await expect
        .poll(
          async () => {
            const c = await counts()
            return c.forwarded + c.dropped
          },
          { interval: 5 },
        )
        .toBe(i + 1)
    }
    const { forwarded } = await counts()
    // 4 KiB of burst and 2 KiB a second of refill: a handful of the 1000-byte datagrams.
    expect(forwarded).toBeGreaterThan(0)
    expect(forwarded).toBeLessThan(10)
    conn.close(0, 'done')
    await stop(relay)
  })
})
