import { describe, expect, it } from 'vitest'
import { SecretKey } from '../identity.js'
import { MemoryNetwork } from '../memory/network.js'
import { MemoryTransport } from '../memory/transport.js'
import { TestEndpoint } from '../testing/endpoint.js'
import { relayConfigOf } from './config.js'

const bytes = Uint8Array.from({ length: 32 }, (_, i) => i * 7)
const hex = Array.from(bytes, (b) => b.toString(16).padStart(2, '0')).join('')
const url = 'https://relay.example:4433/ferry'

describe('relayConfigOf', () => {
  it('takes a bare URL', async () => {
    const relay = relayConfigOf(url)
    expect(relay.url).toBe(url)
    expect(relay.token).toBeUndefined()
    expect(await relay.certHashes()).toEqual([])
  })

  it('takes hashes as bytes, as hex in either case, and as colon-separated hex', async () => {
    const colons = hex.toUpperCase().match(/../g)!.join(':')
    const { certHashes, token } = relayConfigOf({
      url,
      certHashes: [bytes, hex, colons],
      token: 't',
    })
    expect(await certHashes()).toEqual([bytes, bytes, bytes])
    expect(token).toBe('t')
  })

  it('copies hash bytes, so a later change to the caller’s array does not reach the relay', async () => {
    const mine = bytes.slice()
    const { certHashes } = relayConfigOf({ url, certHashes: [mine] })
    mine.fill(0)
    expect(await certHashes()).toEqual([bytes])
  })

  it.each([
    ['a URL that is not https:', { url: 'http://relay.example/' }, RangeError, 'relay.url'],
    ['no URL', { url: 'relay.example' }, TypeError, 'relay.url'],
    [
      'a hash of 31 bytes',
      { url, certHashes: [bytes.subarray(1)] },
      RangeError,
      'relay.certHashes[0]',
    ],
    ['hex of 31 bytes', { url, certHashes: [hex.slice(2)] }, RangeError, 'relay.certHashes[0]'],
    [
      'hex with a stray digit',
      { url, certHashes: [bytes, `${hex.slice(1)}g`] },
      RangeError,
      'relay.certHashes[1]',
    ],
    [
      'colons in the wrong places',
      { url, certHashes: [`${hex.slice(0, 3)}:${hex.slice(3)}`] },
      RangeError,
      'relay.certHashes[0]',
    ],
    ['a hash that is a number', { url, certHashes: [42] }, TypeError, 'relay.certHashes[0]'],
    ['hashes that are no array', { url, certHashes: hex }, TypeError, 'relay.certHashes'],
    ['a token of 257 bytes', { url, token: 'é'.repeat(129) }, RangeError, 'relay.token'],
  ])('refuses %s, naming the field', (_, relay, type, field) => {
    expect(() => relayConfigOf(relay as never)).toThrow(type)
    expect(() => relayConfigOf(relay as never)).toThrow(field)
  })

  it('asks a function for the hashes on each call, and checks what it gives', async () => {
    let calls = 0
    const given: unknown[] = [[hex], [bytes, hex], ['beef']]
    const { certHashes } = relayConfigOf({ url, certHashes: () => given[calls++] as string[] })
    expect(calls).toBe(0)
    expect(await certHashes()).toEqual([bytes])
    expect(await certHashes()).toEqual([bytes, bytes])
    await expect(certHashes()).rejects.toThrow(/relay\.certHashes\(\)\[0\]/)
    expect(calls).toBe(3)
  })

  it('refuses what is neither a URL nor an object', () => {
    expect(() => relayConfigOf(null as never)).toThrow(TypeError)
  })
})

describe('Endpoint.create with a relay', () => {
  it('rejects a bad hash at once, naming it, instead of going offline', async () => {
    const creating = TestEndpoint.create({
      secretKey: await SecretKey.generate(),
      transport: new MemoryTransport(new MemoryNetwork({ seed: 1 })),
      relay: { url, certHashes: ['not hex'] },
    })
    await expect(creating).rejects.toThrow(/relay\.certHashes\[0\]/)
  })
})
