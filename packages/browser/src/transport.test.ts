import { afterEach, describe, expect, it } from 'vitest'
import { BrowserTransport } from './transport.js'

const hash = new Uint8Array(32).fill(7)
const addr = { url: 'https://127.0.0.1:4433/ferry', certHashes: [hash] }

/**
 * A stand-in for the browser's WebTransport that converts its options the way WebIDL does:
 * it reads exactly the members it knows.
 */
function fakeWebTransport(known: string[]): { seen: Record<string, unknown> } {
  const record = { seen: {} as Record<string, unknown> }
  globalThis.WebTransport = class {
    readonly ready = Promise.resolve()
    readonly closed = new Promise(() => {})
    constructor(_url: URL, options: Record<string, unknown>) {
      for (const member of known) record.seen[member] = options[member]
    }
    close(): void {}
  } as unknown as typeof WebTransport
  return record
}

afterEach(() => {
  delete (globalThis as { WebTransport?: unknown }).WebTransport
})

describe('BrowserTransport', () => {
  it('binds TLS to the pinned hash when the browser honours serverCertificateHashes', async () => {
    const { seen } = fakeWebTransport(['protocols', 'serverCertificateHashes'])
    const dialed = await new BrowserTransport().dial(addr, ['chat/1'], {})
    expect(seen.serverCertificateHashes).toEqual([{ algorithm: 'sha-256', value: hash }])
    expect(seen.protocols).toEqual(['chat/1'])
    expect(dialed.tlsCertHash).toEqual(hash)
  })

  it('leaves TLS unbound (so ferry encrypts end to end) when the browser ignores the option', async () => {
    fakeWebTransport(['protocols'])
    const dialed = await new BrowserTransport().dial(addr, ['chat/1'], {})
    expect(dialed.tlsCertHash).toBeUndefined()
  })
})
