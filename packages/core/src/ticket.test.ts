import { describe, expect, it } from 'vitest'
import type { EndpointAddr } from './addr.js'
import { base32Encode } from './codec/base32.js'
import { DecodeError } from './errors.js'
import { PublicKey } from './identity.js'
import { fromHex, toHex } from './internal/bytes.js'
import { Prng } from './internal/prng.js'
import { EndpointTicket, maxTicketChars, parseTicket } from './ticket.js'
import { decodeError } from './errors-fixtures.js'

const id = PublicKey.fromBytes(
  fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
)
const hash = (byte: number) => new Uint8Array(32).fill(byte)

/** A comparable plain form of an address. */
const plain = (addr: EndpointAddr) => ({
  id: addr.id.toString(),
  relay: addr.relay,
  direct: addr.direct.map((d) => ({ url: d.url, certHashes: d.certHashes.map(toHex) })),
})

const fixedAddr: EndpointAddr = {
  id,
  direct: [{ url: 'https://127.0.0.1:4433/ferry', certHashes: [hash(0xab)] }],
}
// Checked independently: Python's base64.b32encode of the bytes below, lowercased, unpadded.
const fixedBytes =
  '01' +
  'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a' +
  '00' +
  '01' +
  '1c68747470733a2f2f3132372e302e302e313a343433332f6665727279' +
  '01' +
  'ab'.repeat(32)
const fixedText =
  'endpointahlvvgabqkyqvn6vjp7nhslea45a5yls6pnkmizfv4bbu2hxa5iruaabdruhi5dqom5c6lzrgi3s4mbogaxd' +
  'corugqztgl3gmvzhe6ibvov2xk5lvov2xk5lvov2xk5lvov2xk5lvov2xk5lvov2xk5lvovq'

describe('EndpointTicket', () => {
  it('matches the fixed vector', () => {
    const ticket = new EndpointTicket(fixedAddr)
    expect(toHex(ticket.toBytes())).toBe(fixedBytes)
    expect(ticket.toString()).toBe(fixedText)
    expect(JSON.stringify(ticket)).toBe(`"${fixedText}"`)
    expect(plain(EndpointTicket.parse(fixedText).addr)).toEqual(plain(fixedAddr))
    expect(plain(parseTicket(fixedText).addr)).toEqual(plain(fixedAddr))
    expect(plain(EndpointTicket.fromBytes(fromHex(fixedBytes)).addr)).toEqual(plain(fixedAddr))
  })

  it('round trips addresses with and without relay, with several direct addresses and hashes', () => {
    const addrs: EndpointAddr[] = [
      { id, direct: [] },
      { id, relay: 'https://relay.example/', direct: [] },
      {
        id,
        relay: 'https://relay.example:8443/eu',
        direct: [
          { url: 'https://192.168.1.20:4433/ferry', certHashes: [hash(1), hash(2)] },
          { url: 'https://[2001:db8::1]:4433/ferry', certHashes: [hash(3)] },
          { url: 'https://ferry.example.com/', certHashes: [] },
        ],
      },
    ]
    for (const addr of addrs) {
      const text = new EndpointTicket(addr).toString()
      expect(text).toMatch(/^endpoint[a-z2-7]+$/)
      expect(plain(parseTicket(text).addr)).toEqual(plain(addr))
      expect(plain(EndpointTicket.fromBytes(new EndpointTicket(addr).toBytes()).addr)).toEqual(
        plain(addr),
      )
    }
  })

  it('keeps its own copy of the address', () => {
    const certHash = hash(7)
    const addr: EndpointAddr = {
      id,
      direct: [{ url: 'https://a.example', certHashes: [certHash] }],
    }
    const ticket = new EndpointTicket(addr)
    const text = ticket.toString()
    certHash.fill(0)
    addr.direct.push({ url: 'https://b.example', certHashes: [] })
    expect(ticket.toString()).toBe(text)
  })

  it('refuses an invalid address with the validation error', () => {
    expect(() => new EndpointTicket({ id, relay: 'http://x', direct: [] })).toThrow(RangeError)
    expect(() => new EndpointTicket({ id, direct: [{ url: 'nope', certHashes: [] }] })).toThrow(
      TypeError,
    )
  })

  it('exposes its kind', () => {
    expect(EndpointTicket.kind).toBe('endpoint')
  })
})

describe('ticket parsing failures', () => {
  const bytes = fromHex(fixedBytes)
  const withBytes = (b: Uint8Array) => 'endpoint' + base32Encode(b)

  it('refuses an unknown version as UNKNOWN_VERSION', () => {
    for (const version of [0, 2, 255]) {
      const other = bytes.slice()
      other[0] = version
      expect(decodeError(() => parseTicket(withBytes(other))).code).toBe('UNKNOWN_VERSION')
      expect(decodeError(() => EndpointTicket.fromBytes(other)).code).toBe('UNKNOWN_VERSION')
    }
  })

  it('refuses the reserved kinds as UNKNOWN_VERSION, saying they are not supported yet', () => {
    for (const kind of ['blob', 'doc']) {
      const error = decodeError(() => parseTicket(kind + fixedText.slice('endpoint'.length)))
      expect(error.code).toBe('UNKNOWN_VERSION')
      expect(error.message).toContain(kind)
      expect(error.message).toContain('not supported yet')
    }
  })

  it('refuses unknown kinds and other prefixes as INVALID', () => {
    for (const text of [
      '',
      'node' + fixedText.slice(8),
      fixedText.toUpperCase(),
      'Endpoint' + fixedText.slice(8),
      ' ' + fixedText,
      'endpoin',
    ]) {
      expect(decodeError(() => parseTicket(text)).code, text).toBe('INVALID')
    }
    expect(decodeError(() => EndpointTicket.parse('blob' + fixedText.slice(8))).code).toBe(
      'INVALID',
    )
  })

  it('refuses a body that is not strict base32 as INVALID or NON_CANONICAL', () => {
    expect(decodeError(() => parseTicket(fixedText + '=')).code).toBe('INVALID')
    expect(decodeError(() => parseTicket(fixedText + 'aa')).code).toBe('INVALID')
    expect(decodeError(() => parseTicket(fixedText.slice(0, -1) + '7')).code).toBe('NON_CANONICAL')
  })

  it('refuses text longer than maxTicketChars as TOO_LARGE', () => {
    const long = 'endpoint' + 'a'.repeat(maxTicketChars)
    expect(decodeError(() => parseTicket(long)).code).toBe('TOO_LARGE')
    expect(decodeError(() => EndpointTicket.parse(long)).code).toBe('TOO_LARGE')
    expect(decodeError(() => parseTicket('x'.repeat(maxTicketChars + 1))).code).toBe('TOO_LARGE')
  })

  it('refuses trailing bytes as TRAILING_BYTES and every truncation as TRUNCATED', () => {
    expect(decodeError(() => parseTicket(withBytes(Uint8Array.of(...bytes, 0)))).code).toBe(
      'TRAILING_BYTES',
    )
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(decodeError(() => EndpointTicket.fromBytes(bytes.subarray(0, cut))).code).toBe(
        'TRUNCATED',
      )
    }
  })

  it('refuses non-strings with TypeError', () => {
    expect(() => parseTicket(1 as unknown as string)).toThrow(TypeError)
    expect(() => EndpointTicket.parse(null as unknown as string)).toThrow(TypeError)
  })

  it('gives only DecodeError for seeded truncations and garbage', () => {
    const prng = new Prng(0x71c4e7)
    const alphabet = 'abcdefghijklmnopqrstuvwxyz234567'
    const ticket = new EndpointTicket({
      id,
      relay: 'https://relay.example',
      direct: [
        { url: 'https://127.0.0.1:4433/ferry', certHashes: [hash(1), hash(2)] },
        { url: 'https://[::1]:4433/ferry', certHashes: [] },
      ],
    }).toString()
    let parsed = 0
    for (let i = 0; i < 2000; i++) {
      let text: string
      switch (prng.int(4)) {
        case 0: // a truncation
          text = ticket.slice(0, prng.int(ticket.length))
          break
        case 1: {
          // a few characters replaced by base32 characters
          const chars = [...ticket]
          for (let j = prng.int(3); j >= 0; j--) {
            chars[prng.int(chars.length)] = alphabet[prng.int(32)]!
          }
          text = chars.join('')
          break
        }
        case 2: // random base32 behind a kind
          text =
            ['endpoint', 'blob', 'doc', 'x'][prng.int(4)]! + base32Encode(prng.bytes(prng.int(200)))
          break
        default: // random characters
          text = String.fromCharCode(...prng.bytes(prng.int(100)))
      }
      try {
        parseTicket(text)
        parsed++
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
      }
    }
    expect(parsed).toBeGreaterThan(0)
  })
})
