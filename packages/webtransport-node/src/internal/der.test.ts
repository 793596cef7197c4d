import { Prng } from '@ferry/core/testing'
import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '@ferry/wire'
import { children, integerValue, oidText, readOne } from '../../test/der-reader.js'
import {
  bitString,
  boolean,
  ecdsaSigValue,
  encodeLength,
  explicit,
  generalizedTime,
  ia5String,
  implicit,
  integer,
  nullValue,
  octetString,
  oid,
  printableString,
  sequence,
  set,
  tlv,
  unsignedInteger,
  utcTime,
  utf8String,
  x509Time,
} from './der.js'

function ascii(text: string): string {
  return Buffer.from(text, 'latin1').toString('hex')
}

describe('DER lengths', () => {
  it('switches to the long form at 128 and grows a byte at 256 and 65536', () => {
    const vectors: [number, string][] = [
      [0, '00'],
      [1, '01'],
      [127, '7f'],
      [128, '8180'],
      [255, '81ff'],
      [256, '820100'],
      [65535, '82ffff'],
      [65536, '83010000'],
      [2 ** 32, '850100000000'],
    ]
    for (const [length, hex] of vectors) expect(toHex(encodeLength(length)), `${length}`).toBe(hex)
  })

  it('writes the header of a TLV around 127, 128, 255 and 256 content bytes', () => {
    const headers: [number, string][] = [
      [127, '047f'],
      [128, '048180'],
      [255, '0481ff'],
      [256, '04820100'],
    ]
    for (const [n, header] of headers) {
      const encoded = octetString(new Uint8Array(n).fill(0xab))
      expect(toHex(encoded.subarray(0, header.length / 2)), `${n}`).toBe(header)
      expect(encoded.length).toBe(header.length / 2 + n)
      expect(readOne(encoded).content).toEqual(new Uint8Array(n).fill(0xab))
    }
  })

  it('refuses negative, fractional and unsafe lengths', () => {
    expect(() => encodeLength(-1)).toThrow(RangeError)
    expect(() => encodeLength(1.5)).toThrow(RangeError)
    expect(() => encodeLength(2 ** 53)).toThrow(RangeError)
  })

  it('round-trips seeded random lengths through a strict reader', () => {
    const prng = new Prng(0xde7)
    for (let i = 0; i < 200; i++) {
      const n = i < 100 ? prng.int(300) : prng.int(70_000)
      const content = prng.bytes(n)
      const tag = [0x04, 0x0c, 0x30, 0xa3][prng.int(4)] ?? 0x04
      const read = readOne(tlv(tag, content))
      expect(read.tag).toBe(tag)
      // Buffer.compare rather than toEqual: vitest's deep equality walks 70 kB byte by byte.
      expect(Buffer.compare(read.content, content)).toBe(0)
    }
  })
})

describe('DER INTEGER', () => {
  it('adds a sign byte exactly when the top bit is set', () => {
    const vectors: [bigint | number, string][] = [
      [0, '020100'],
      [1, '020101'],
      [127, '02017f'],
      [128, '02020080'],
      [255, '020200ff'],
      [256, '02020100'],
      [32767, '02027fff'],
      [32768, '0203008000'],
      [-1, '0201ff'],
      [-128, '020180'],
      [-129, '0202ff7f'],
      [-256, '0202ff00'],
      [2n ** 64n, '0209010000000000000000'],
      [2, '020102'],
    ]
    for (const [value, hex] of vectors) expect(toHex(integer(value)), `${value}`).toBe(hex)
  })

  it('refuses numbers that are not safe integers', () => {
    expect(() => integer(0.5)).toThrow(RangeError)
    expect(() => integer(2 ** 53)).toThrow(RangeError)
    expect(() => integer(Number.NaN)).toThrow(RangeError)
  })

  it('writes unsigned magnitudes positive and minimal', () => {
    const vectors: [string, string][] = [
      ['', '020100'],
      ['00', '020100'],
      ['000000', '020100'],
      ['05', '020105'],
      ['000005', '020105'],
      ['7f', '02017f'],
      ['80', '02020080'],
      ['0080', '02020080'],
      ['000080', '02020080'],
      ['ff' + '00'.repeat(31), '022100ff' + '00'.repeat(31)],
    ]
    for (const [magnitude, hex] of vectors) {
      expect(toHex(unsignedInteger(fromHex(magnitude))), magnitude).toBe(hex)
    }
  })

  it('round-trips seeded random values through a strict reader', () => {
    const prng = new Prng(0x1a7)
    for (let i = 0; i < 500; i++) {
      let value = 0n
      for (let j = prng.int(40); j > 0; j--) value = (value << 8n) | BigInt(prng.int(256))
      if (prng.int(2) === 1) value = -value
      const read = readOne(integer(value))
      expect(read.tag).toBe(0x02)
      expect(integerValue(read.content)).toBe(value)

      const magnitude = prng.bytes(prng.int(34))
      let expected = 0n
      for (const byte of magnitude) expected = (expected << 8n) | BigInt(byte)
      expect(integerValue(readOne(unsignedInteger(magnitude)).content)).toBe(expected)
    }
  })
})

describe('DER ECDSA-Sig-Value', () => {
  it('turns r || s into two minimal positive INTEGERs', () => {
    // r with its top bit set gains a zero byte; s with a leading zero loses it.
    const r = '80' + '11'.repeat(31)
    const s = '00' + '7f' + '22'.repeat(30)
    expect(toHex(ecdsaSigValue(fromHex(r + s)))).toBe(
      '3044' + '022100' + r + '021f' + '7f' + '22'.repeat(30),
    )
    expect(toHex(ecdsaSigValue(fromHex('01'.repeat(64))))).toBe(
      '3044' + '0220' + '01'.repeat(32) + '0220' + '01'.repeat(32),
    )
  })

  it('refuses an empty or odd-length input', () => {
    expect(() => ecdsaSigValue(new Uint8Array(0))).toThrow(RangeError)
    expect(() => ecdsaSigValue(new Uint8Array(63))).toThrow(RangeError)
  })
})

describe('DER OBJECT IDENTIFIER', () => {
  it('encodes the OIDs of a P-256 certificate and the X.690 example', () => {
    const vectors: [string, string][] = [
      ['1.2.840.10045.4.3.2', '06082a8648ce3d040302'], // ecdsa-with-SHA256
      ['1.2.840.10045.2.1', '06072a8648ce3d0201'], // id-ecPublicKey
      ['1.2.840.10045.3.1.7', '06082a8648ce3d030107'], // prime256v1
      ['2.5.4.3', '0603550403'], // commonName
      ['2.5.29.17', '0603551d11'], // subjectAltName
      ['1.3.6.1.5.5.7.3.1', '06082b06010505070301'], // serverAuth
      ['2.999.3', '0603883703'], // X.690 §8.19.5
      ['0.0', '060100'],
      ['1.2.127.128', '0604 2a 7f 8100'.replace(/ /g, '')],
    ]
    for (const [dotted, hex] of vectors) {
      expect(toHex(oid(dotted)), dotted).toBe(hex)
      expect(oidText(readOne(oid(dotted)).content)).toBe(dotted)
    }
  })

  it('refuses text that is not an OID', () => {
    expect(() => oid('1')).toThrow(TypeError)
    expect(() => oid('1..2')).toThrow(TypeError)
    expect(() => oid('1.2.')).toThrow(TypeError)
    expect(() => oid('1.-2')).toThrow(TypeError)
    expect(() => oid('3.1')).toThrow(RangeError)
    expect(() => oid('1.40')).toThrow(RangeError)
  })

  it('round-trips seeded random OIDs, arcs beyond 2^53 included', () => {
    const prng = new Prng(0x01d)
    for (let i = 0; i < 300; i++) {
      const first = prng.int(3)
      const second = first < 2 ? prng.int(40) : prng.int(1000)
      const rest = Array.from({ length: prng.int(8) }, () =>
        prng.int(4) === 0 ? (BigInt(prng.u32()) << 32n) | BigInt(prng.u32()) : prng.int(70_000),
      )
      const dotted = [first, second, ...rest].join('.')
      expect(oidText(readOne(oid(dotted)).content)).toBe(dotted)
    }
  })
})

describe('DER strings, bits and times', () => {
  it('encodes BIT STRING with its unused-bits byte', () => {
    expect(toHex(bitString(Uint8Array.of(0x80), 7))).toBe('03020780') // keyUsage digitalSignature
    expect(toHex(bitString(fromHex('04abcd')))).toBe('03040004abcd')
    expect(toHex(bitString(new Uint8Array(0)))).toBe('030100')
    expect(() => bitString(Uint8Array.of(0), 8)).toThrow(RangeError)
    expect(() => bitString(new Uint8Array(0), 1)).toThrow(RangeError)
  })

  it('encodes BOOLEAN, NULL and OCTET STRING', () => {
    expect(toHex(boolean(true))).toBe('0101ff')
    expect(toHex(boolean(false))).toBe('010100')
    expect(toHex(nullValue())).toBe('0500')
    expect(toHex(octetString(fromHex('7f000001')))).toBe('04047f000001')
  })

  it('encodes UTF8String, PrintableString and IA5String', () => {
    expect(toHex(utf8String('ferry'))).toBe('0c05' + ascii('ferry'))
    expect(toHex(utf8String('é'))).toBe('0c02c3a9')
    expect(toHex(printableString('localhost'))).toBe('1309' + ascii('localhost'))
    expect(toHex(printableString("A-z 0'()+,./:=?"))).toBe('130f' + ascii("A-z 0'()+,./:=?"))
    expect(() => printableString('*.ferry.test')).toThrow(TypeError)
    expect(() => printableString('a_b')).toThrow(TypeError)
    expect(toHex(ia5String('*.ferry.test'))).toBe('160c' + ascii('*.ferry.test'))
    expect(() => ia5String('münchen.de')).toThrow(TypeError)
  })

  it('writes UTCTime through 2049 and GeneralizedTime outside 1950..2049, in whole seconds', () => {
    expect(toHex(utcTime(new Date('2030-01-02T03:04:05.999Z')))).toBe(
      '170d' + ascii('300102030405Z'),
    )
    expect(toHex(utcTime(new Date('1950-01-01T00:00:00Z')))).toBe('170d' + ascii('500101000000Z'))
    expect(toHex(utcTime(new Date('2049-12-31T23:59:59Z')))).toBe('170d' + ascii('491231235959Z'))
    expect(() => utcTime(new Date('2050-01-01T00:00:00Z'))).toThrow(RangeError)
    expect(() => utcTime(new Date('1949-12-31T23:59:59Z'))).toThrow(RangeError)
    expect(toHex(generalizedTime(new Date('2050-01-01T00:00:00Z')))).toBe(
      '180f' + ascii('20500101000000Z'),
    )
    expect(toHex(x509Time(new Date('2049-12-31T23:59:59Z'))).slice(0, 2)).toBe('17')
    expect(toHex(x509Time(new Date('2050-01-01T00:00:00Z'))).slice(0, 2)).toBe('18')
    expect(toHex(x509Time(new Date('1949-12-31T23:59:59Z')))).toBe(
      '180f' + ascii('19491231235959Z'),
    )
    expect(() => x509Time(new Date(Number.NaN))).toThrow(RangeError)
    expect(() => x509Time(new Date('+010000-01-01T00:00:00Z'))).toThrow(RangeError)
  })
})

describe('DER constructed values and tags', () => {
  it('encodes SEQUENCE and SET around their elements', () => {
    expect(toHex(sequence())).toBe('3000')
    expect(toHex(sequence(integer(1), boolean(true)))).toBe('3006' + '020101' + '0101ff')
    expect(toHex(set(sequence()))).toBe('31023000')
    const read = readOne(sequence(integer(1), nullValue(), oid('2.5.4.3')))
    expect(children(read.content).map((c) => c.tag)).toEqual([0x02, 0x05, 0x06])
  })

  it('writes EXPLICIT tags constructed around complete encodings', () => {
    expect(toHex(explicit(0, integer(2)))).toBe('a003020102') // certificate version v3
    expect(toHex(explicit(3, sequence()))).toBe('a3023000')
    expect(() => explicit(31, sequence())).toThrow(RangeError)
  })

  it('writes IMPLICIT tags over the inner identifier, keeping its constructed bit', () => {
    expect(toHex(implicit(2, ia5String('a')))).toBe('820161') // dNSName
    expect(toHex(implicit(7, octetString(fromHex('7f000001'))))).toBe('87047f000001') // iPAddress
    expect(toHex(implicit(1, sequence()))).toBe('a100')
    expect(() => implicit(2, new Uint8Array(0))).toThrow(RangeError)
    expect(() => implicit(-1, nullValue())).toThrow(RangeError)
  })

  it('refuses identifiers that need more than one byte', () => {
    expect(() => tlv(0x1f, new Uint8Array(0))).toThrow(RangeError)
    expect(() => tlv(256, new Uint8Array(0))).toThrow(RangeError)
  })
})
