import { describe, expect, it } from 'vitest'
import { addrLimits, decodeAddr, encodeAddr, validateAddr, type EndpointAddr } from './addr.js'
import { ByteReader, ByteWriter } from './codec/varint.js'
import { DecodeError } from './errors.js'
import { PublicKey } from './identity.js'
import { fromHex, toHex, utf8 } from './internal/bytes.js'
import { Prng } from './internal/prng.js'
import { decodeError } from './errors-fixtures.js'

const id = PublicKey.fromBytes(
  fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'),
)
const hash = (byte: number) => new Uint8Array(32).fill(byte)

function encode(addr: EndpointAddr): Uint8Array {
  const writer = new ByteWriter()
  encodeAddr(writer, addr)
  return writer.finish()
}

function decode(bytes: Uint8Array): EndpointAddr {
  const reader = new ByteReader(bytes)
  const addr = decodeAddr(reader)
  reader.end()
  return addr
}

/** A comparable plain form of an address. */
const plain = (addr: EndpointAddr) => ({
  id: addr.id.toString(),
  relay: addr.relay,
  direct: addr.direct.map((d) => ({ url: d.url, certHashes: d.certHashes.map(toHex) })),
})

/**
 * Bytes in the documented layout, written field by field: the id, flags, the relay, then
 * `direct` as [url, hashes] pairs.
 */
function layout(options: {
  id?: Uint8Array
  flags?: number
  relay?: string
  direct?: [string, Uint8Array[]][]
}): Uint8Array {
  const writer = new ByteWriter()
  writer.bytes(options.id ?? id.toBytes())
  writer.u8(options.flags ?? (options.relay !== undefined ? 1 : 0))
  if (options.relay !== undefined) writer.string(options.relay)
  const direct = options.direct ?? []
  writer.varint(direct.length)
  for (const [url, hashes] of direct) {
    writer.string(url)
    writer.varint(hashes.length)
    for (const h of hashes) writer.bytes(h)
  }
  return writer.finish()
}

describe('EndpointAddr encoding', () => {
  it('writes the documented layout', () => {
    const addr: EndpointAddr = {
      id,
      relay: 'https://relay.example/',
      direct: [{ url: 'https://127.0.0.1:4433/ferry', certHashes: [hash(0xab)] }],
    }
    const bytes = encode(addr)
    expect(toHex(bytes)).toBe(
      toHex(id.toBytes()) +
        '01' +
        '16' +
        toHex(utf8('https://relay.example/')) +
        '01' +
        '1c' +
        toHex(utf8('https://127.0.0.1:4433/ferry')) +
        '01' +
        'ab'.repeat(32),
    )
    expect(toHex(encode({ id, direct: [] }))).toBe(toHex(id.toBytes()) + '0000')
  })

  it('round trips addresses with and without relay, empty and full', () => {
    const full: EndpointAddr = {
      id,
      relay: 'https://relay.example:8443/ferry?region=eu',
      direct: Array.from({ length: addrLimits.maxDirect }, (_, i) => ({
        url: `https://[::1]:${4000 + i}/ferry`,
        certHashes: Array.from({ length: i % (addrLimits.maxCertHashes + 1) }, (_, j) =>
          hash(i * 16 + j),
        ),
      })),
    }
    for (const addr of [
      full,
      { id, direct: [] },
      { id, relay: 'https://r.example', direct: [] },
      { id, direct: [{ url: 'https://example.com/ferry', certHashes: [] }] },
    ]) {
      expect(plain(decode(encode(addr)))).toEqual(plain(addr))
    }
  })

  it('copies every byte array it keeps', () => {
    const bytes = encode({ id, direct: [{ url: 'https://a.example', certHashes: [hash(1)] }] })
    const addr = decode(bytes)
    bytes.fill(0)
    expect(toHex(addr.id.toBytes())).toBe(toHex(id.toBytes()))
    expect(toHex(addr.direct[0]!.certHashes[0]!)).toBe(toHex(hash(1)))
  })

  it('reads only its own bytes, leaving the rest to the caller', () => {
    const writer = new ByteWriter()
    encodeAddr(writer, { id, direct: [] })
    writer.u8(0x99)
    const reader = new ByteReader(writer.finish())
    decodeAddr(reader)
    expect(reader.u8()).toBe(0x99)
  })
})

describe('validateAddr', () => {
  const good = (): EndpointAddr => ({
    id,
    relay: 'https://relay.example',
    direct: [{ url: 'https://a.example/ferry', certHashes: [hash(1)] }],
  })

  it('accepts a good address', () => {
    validateAddr(good())
  })

  const cases: [string, (a: EndpointAddr) => void, typeof TypeError | typeof RangeError, RegExp][] =
    [
      ['id', (a) => (a.id = 'x' as unknown as PublicKey), TypeError, /addr\.id/],
      ['relay type', (a) => (a.relay = 5 as unknown as string), TypeError, /addr\.relay/],
      ['relay URL', (a) => (a.relay = 'not a url'), TypeError, /addr\.relay/],
      ['relay scheme', (a) => (a.relay = 'http://relay.example'), RangeError, /addr\.relay/],
      ['direct', (a) => (a.direct = {} as unknown as []), TypeError, /addr\.direct/],
      [
        'direct count',
        (a) => (a.direct = Array.from({ length: 9 }, () => a.direct[0]!)),
        RangeError,
        /addr\.direct/,
      ],
      ['url', (a) => (a.direct[0]!.url = '/relative'), TypeError, /addr\.direct\[0\]\.url/],
      [
        'url scheme',
        (a) => (a.direct[0]!.url = 'wss://a.example'),
        RangeError,
        /addr\.direct\[0\]\.url/,
      ],
      [
        'url length',
        (a) => (a.direct[0]!.url = 'https://a.example/' + 'x'.repeat(2048)),
        RangeError,
        /addr\.direct\[0\]\.url/,
      ],
      [
        'hash count',
        (a) => (a.direct[0]!.certHashes = Array.from({ length: 5 }, () => hash(1))),
        RangeError,
        /certHashes/,
      ],
      [
        'hash size',
        (a) => (a.direct[0]!.certHashes = [new Uint8Array(31)]),
        RangeError,
        /certHashes\[0\]/,
      ],
      [
        'hash type',
        (a) => (a.direct[0]!.certHashes = ['ab' as unknown as Uint8Array]),
        TypeError,
        /certHashes\[0\]/,
      ],
    ]

  it.each(cases)('refuses a bad %s, naming the field', (_, spoil, type, field) => {
    const addr = good()
    spoil(addr)
    expect(() => validateAddr(addr)).toThrow(type)
    expect(() => validateAddr(addr)).toThrow(field)
    expect(() => encodeAddr(new ByteWriter(), addr)).toThrow(type)
  })
})

describe('decodeAddr', () => {
  it('reports every way an address can be cut short as TRUNCATED', () => {
    const bytes = encode({
      id,
      relay: 'https://relay.example',
      direct: [{ url: 'https://a.example', certHashes: [hash(1), hash(2)] }],
    })
    for (let cut = 0; cut < bytes.length; cut++) {
      expect(decodeError(() => decode(bytes.subarray(0, cut))).code, String(cut)).toBe('TRUNCATED')
    }
  })

  it('refuses unknown flags, a bad id and unusable URLs as INVALID', () => {
    const cases: [string, Uint8Array][] = [
      ['flags', layout({ flags: 2 })],
      ['flags', layout({ flags: 0x81 })],
      ['id', layout({ id: new Uint8Array(32) })],
      ['relay', layout({ relay: 'http://relay.example' })],
      ['relay', layout({ relay: '' })],
      ['url', layout({ direct: [['ftp://a.example', []]] })],
      ['url', layout({ direct: [['https//missing-colon', []]] })],
    ]
    for (const [what, bytes] of cases) {
      expect(decodeError(() => decode(bytes)).code, what).toBe('INVALID')
    }
    const notUtf8 = fromHex(toHex(id.toBytes()) + '00 01 02 c328 00')
    expect(decodeError(() => decode(notUtf8)).code).toBe('INVALID')
  })

  it('refuses counts and URLs beyond the limits as TOO_LARGE, before reading them', () => {
    const many = layout({ direct: Array.from({ length: 9 }, () => ['https://a.example', []]) })
    expect(decodeError(() => decode(many)).code).toBe('TOO_LARGE')
    // Claimed counts with nothing behind them: the limit is checked first.
    expect(
      decodeError(() => decode(fromHex(toHex(id.toBytes()) + '00 c000000100000000'))).code,
    ).toBe('TOO_LARGE')
    const hashes = layout({
      direct: [['https://a.example', Array.from({ length: 5 }, () => hash(1))]],
    })
    expect(decodeError(() => decode(hashes)).code).toBe('TOO_LARGE')
    const longUrl = layout({ relay: 'https://a.example/' + 'x'.repeat(2048) })
    expect(decodeError(() => decode(longUrl)).code).toBe('TOO_LARGE')
    const edge = 'https://a.example/' + 'x'.repeat(2048 - 'https://a.example/'.length)
    expect(decode(layout({ relay: edge })).relay).toBe(edge)
  })

  it('refuses a non-minimal count as NON_CANONICAL', () => {
    expect(decodeError(() => decode(fromHex(toHex(id.toBytes()) + '00 4000'))).code).toBe(
      'NON_CANONICAL',
    )
  })

  it('gives only DecodeError for seeded garbage, and re-encodes whatever it accepts', () => {
    const prng = new Prng(0xadd7)
    const base = encode({
      id,
      relay: 'https://r.example',
      direct: [{ url: 'https://a.example', certHashes: [hash(3)] }],
    })
    let accepted = 0
    for (let i = 0; i < 3000; i++) {
      // Valid bytes with a few seeded changes, and plain noise.
      const noise = prng.int(3) === 0
      const bytes = noise ? prng.bytes(prng.int(120)) : base.slice()
      if (!noise) {
        for (let j = prng.int(3); j >= 0; j--) bytes[prng.int(bytes.length)] = prng.u32() & 0xff
      }
      let addr: EndpointAddr
      try {
        addr = decodeAddr(new ByteReader(bytes))
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
        continue
      }
      accepted++
      validateAddr(addr)
      expect(plain(decode(encode(addr)))).toEqual(plain(addr))
    }
    expect(accepted).toBeGreaterThan(100)
  })
})
