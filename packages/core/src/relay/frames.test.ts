import { describe, expect, it } from 'vitest'
import { DecodeError } from '../errors.js'
import { PublicKey, SecretKey } from '../identity.js'
import { concat, fromHex, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { signAuth, verifyAuth } from './auth.js'
import {
  type ControlMessage,
  decodeControl,
  decodeDatagram,
  decodeHeader,
  encodeControl,
  encodeDatagram,
  encodeHeader,
  maxHeaderBytes,
  RelayCode,
  relayCodeName,
  type StreamHeader,
} from './frames.js'

const key = (fill: number): PublicKey => {
  // Valid Ed25519 points: the public keys of fixed seeds.
  return keys[fill]!
}
const keys = await Promise.all(
  [0, 1, 2].map(async (i) => (await SecretKey.fromBytes(new Uint8Array(32).fill(i + 1))).publicKey),
)
const hexOf = (k: PublicKey): string => toHex(k.toBytes())

function expectDecodeError(fn: () => unknown, code: DecodeError['code']): void {
  let thrown: unknown
  try {
    fn()
  } catch (error) {
    thrown = error
  }
  expect(thrown).toBeInstanceOf(DecodeError)
  expect((thrown as DecodeError).code).toBe(code)
}

describe('relay stream headers', () => {
  it('encode in the documented layout, byte for byte', () => {
    expect(toHex(encodeHeader({ kind: 'control' }))).toBe('00')
    expect(toHex(encodeHeader({ kind: 'stream', conn: 5 }))).toBe('0205')
    // 300 is the two-byte varint 41 2c.
    expect(toHex(encodeHeader({ kind: 'stream', conn: 300 }))).toBe('02412c')
    const connect = encodeHeader({ kind: 'connect', conn: 2, peer: key(0), offer: ['a/1', 'bc'] })
    expect(toHex(connect)).toBe(
      `0102${hexOf(key(0))}02` +
        `03${toHex(new TextEncoder().encode('a/1'))}` +
        `02${toHex(new TextEncoder().encode('bc'))}`,
    )
  })

  it('decode what they encode, from any prefix on: undefined until the header is whole', () => {
    const headers: StreamHeader[] = [
      { kind: 'control' },
      { kind: 'stream', conn: 2 ** 40 },
      { kind: 'connect', conn: 7, peer: key(1), offer: ['x'.repeat(255), 'chat/1'] },
    ]
    for (const header of headers) {
      const bytes = concat(encodeHeader(header), Uint8Array.of(9, 9, 9))
      const length = bytes.length - 3
      for (let n = 0; n < length; n++) expect(decodeHeader(bytes.subarray(0, n))).toBeUndefined()
      const decoded = decodeHeader(bytes)!
      expect(decoded.length).toBe(length)
      expect(toHex(encodeHeader(decoded.header))).toBe(toHex(bytes.subarray(0, length)))
    }
  })

  it('refuse unknown kinds, bad offers, non-minimal varints and headers past the limit', () => {
    expectDecodeError(() => decodeHeader(Uint8Array.of(3)), 'INVALID')
    expectDecodeError(() => decodeHeader(Uint8Array.of(2, 0x40, 0x05)), 'NON_CANONICAL')
    const peer = key(0).toBytes()
    expectDecodeError(
      () => decodeHeader(concat(Uint8Array.of(1, 0), peer, Uint8Array.of(0))),
      'INVALID',
    )
    expectDecodeError(
      () => decodeHeader(concat(Uint8Array.of(1, 0), peer, Uint8Array.of(17))),
      'INVALID',
    )
    expectDecodeError(
      () => decodeHeader(concat(Uint8Array.of(1, 0), peer, Uint8Array.of(1, 0))),
      'INVALID',
    )
    expectDecodeError(
      () => decodeHeader(concat(Uint8Array.of(1, 0), peer, Uint8Array.of(1, 1, 0xff))),
      'INVALID',
    )
    // 16 ALPNs of 255 bytes cannot fit in a header: its first 1024 bytes are not a header.
    const alpn = concat(Uint8Array.of(255), new Uint8Array(255).fill(0x61))
    const long = concat(
      Uint8Array.of(1, 0),
      peer,
      Uint8Array.of(16),
      ...Array.from({ length: 16 }, () => alpn),
    )
    expectDecodeError(() => decodeHeader(long.subarray(0, maxHeaderBytes)), 'TOO_LARGE')
    expect(decodeHeader(long.subarray(0, maxHeaderBytes - 1))).toBeUndefined()
    expect(() =>
      encodeHeader({
        kind: 'connect',
        conn: 0,
        peer: key(0),
        offer: Array.from({ length: 16 }, () => 'y'.repeat(255)),
      }),
    ).toThrow(RangeError)
    expect(() => encodeHeader({ kind: 'stream', conn: -1 })).toThrow(RangeError)
  })

  it('give only DecodeError or a header for seeded garbage', () => {
    const prng = new Prng(11)
    for (let i = 0; i < 5000; i++) {
      const bytes = prng.bytes(prng.int(80))
      if (i % 3 === 0 && bytes.length > 0) bytes[0] = prng.int(3)
      try {
        const decoded = decodeHeader(bytes)
        if (decoded) expect(decoded.length).toBeLessThanOrEqual(bytes.length)
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError)
      }
    }
  })
})

describe('relay control messages', () => {
  const messages: ControlMessage[] = [
    { type: 'challenge', version: 1, relayId: key(0), nonce: new Prng(1).bytes(32) },
    { type: 'auth', id: key(1), signature: new Prng(2).bytes(64), token: 'let me in' },
    { type: 'ready' },
    { type: 'close', conn: 4, code: RelayCode.OFFLINE, reason: 'not here ✈' },
    { type: 'goaway', code: RelayCode.SHUTTING_DOWN, reason: '' },
    { type: 'publish', record: new Prng(3).bytes(1024) },
    { type: 'resolve', request: 9, id: key(2) },
    { type: 'resolved', request: 9, record: new Uint8Array(0) },
    { type: 'ping' },
    { type: 'standby' },
  ]

  it('round-trip every type, and encode a close in the documented layout', () => {
    for (const message of messages) {
      const bytes = encodeControl(message)
      expect(toHex(encodeControl(decodeControl(bytes)))).toBe(toHex(bytes))
    }
    expect(toHex(encodeControl({ type: 'standby' }))).toBe('0a')
    // type 4, conn 4, code 0xffffff21 as an 8-byte varint, reason.
    expect(toHex(encodeControl({ type: 'close', conn: 4, code: 0xffff_ff21, reason: 'x' }))).toBe(
      '0404c0000000ffffff2178',
    )
  })

  it('refuse trailing bytes, oversize reasons and records, bad UTF-8 and unknown types', () => {
    expectDecodeError(() => decodeControl(Uint8Array.of(3, 0)), 'TRAILING_BYTES')
    expectDecodeError(() => decodeControl(Uint8Array.of(10, 0)), 'TRAILING_BYTES')
    expectDecodeError(() => decodeControl(Uint8Array.of(0)), 'INVALID')
    expectDecodeError(() => decodeControl(Uint8Array.of(99)), 'INVALID')
    expectDecodeError(() => decodeControl(new Uint8Array(0)), 'TRUNCATED')
    expectDecodeError(
      () => decodeControl(concat(Uint8Array.of(4, 0, 0), new Uint8Array(1025))),
      'TOO_LARGE',
    )
    expectDecodeError(() => decodeControl(Uint8Array.of(4, 0, 0, 0xff)), 'INVALID')
    expectDecodeError(
      () => decodeControl(concat(Uint8Array.of(6), new Uint8Array(4001))),
      'TOO_LARGE',
    )
    expectDecodeError(() => decodeControl(new Uint8Array(4097)), 'TOO_LARGE')
    // A code above 2^32 - 1.
    expectDecodeError(() => decodeControl(fromHex('0400c000000100000000')), 'INVALID')
    expect(() => encodeControl({ type: 'close', conn: 0, code: 2 ** 32, reason: '' })).toThrow(
      RangeError,
    )
    expect(() => encodeControl({ type: 'goaway', code: 0, reason: 'z'.repeat(1025) })).toThrow(
      RangeError,
    )
  })

  it('give only DecodeError or a message for seeded garbage', () => {
    const prng = new Prng(12)
    for (let i = 0; i < 5000; i++) {
      const bytes = prng.bytes(prng.int(120))
      if (bytes.length > 0) bytes[0] = 1 + prng.int(9)
      try {
        const message = decodeControl(bytes)
        expect(toHex(encodeControl(message))).toBe(toHex(bytes))
      } catch (error) {
        expect(error).toBeInstanceOf(DecodeError)
      }
    }
  })
})

describe('relay datagrams, codes and AUTH', () => {
  it('prefix a datagram with its connection id', () => {
    const payload = Uint8Array.of(1, 2, 3)
    const bytes = encodeDatagram(70, payload)
    expect(toHex(bytes)).toBe('4046010203')
    const decoded = decodeDatagram(bytes)
    expect(decoded.conn).toBe(70)
    expect(toHex(decoded.payload)).toBe('010203')
    expectDecodeError(() => decodeDatagram(new Uint8Array(0)), 'TRUNCATED')
    expectDecodeError(() => decodeDatagram(Uint8Array.of(0x40, 1)), 'NON_CANONICAL')
  })

  it('name every relay code, in ferry’s reserved range, and no other code', () => {
    const values = Object.values(RelayCode)
    expect(new Set(values).size).toBe(values.length)
    for (const [name, value] of Object.entries(RelayCode)) {
      expect(value).toBeGreaterThanOrEqual(0xffff_ff00)
      expect(relayCodeName(value)).toBe(name)
    }
    expect(relayCodeName(0)).toBeUndefined()
    expect(relayCodeName(0xffff_ff01)).toBeUndefined()
  })

  it('binds the AUTH signature to the nonce and the relay, under its own context', async () => {
    const client = await SecretKey.generate()
    const nonce = new Prng(4).bytes(32)
    const signature = await signAuth(client, nonce, key(0))
    expect(await verifyAuth(client.publicKey, nonce, key(0), signature)).toBe(true)
    expect(await verifyAuth(client.publicKey, nonce, key(1), signature)).toBe(false)
    expect(await verifyAuth(client.publicKey, new Prng(5).bytes(32), key(0), signature)).toBe(false)
    expect(await verifyAuth(key(2), nonce, key(0), signature)).toBe(false)
    // Not a handshake signature, nor one an application could make.
    await expect(client.sign('ferry/relay/1/auth', nonce)).rejects.toThrow(RangeError)
  })
})
