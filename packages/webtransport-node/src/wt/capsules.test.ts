import { describe, it, expect } from 'vitest'
import { concat, encodeVarint, fromHex as hex, toHex } from '@ferry/wire'
import { codeOf } from '../../test/errors.js'
import { H3 } from '../errors.js'
import { Prng } from '@ferry/core/testing'
import {
  CapsuleReader,
  CapsuleType,
  decodeCloseSession,
  encodeCloseSession,
  encodeDrainSession,
  MAX_CLOSE_REASON_BYTES,
  type Capsule,
} from './capsules.js'

const capsule = (type: number, value: Uint8Array): Uint8Array =>
  concat(encodeVarint(type), encodeVarint(value.length), value)
const drain = (reader: CapsuleReader): Capsule[] => {
  const out: Capsule[] = []
  for (let c = reader.next(); c; c = reader.next()) out.push(c)
  return out
}

describe('capsule encoding', () => {
  it('encodes CLOSE_WEBTRANSPORT_SESSION (code 7, "bye")', () => {
    // 0x2843 is a 2-byte varint: 0x40 | 0x28, 0x43. Length 4 + 3 = 7.
    expect(toHex(encodeCloseSession(7, 'bye'))).toBe('6843' + '07' + '00000007' + '627965')
    expect(toHex(encodeCloseSession(0xffffffff, ''))).toBe('684304ffffffff')
  })

  it('encodes DRAIN_WEBTRANSPORT_SESSION', () => {
    // 0x78ae needs a 4-byte varint.
    expect(toHex(encodeDrainSession())).toBe('800078ae00')
  })

  it('rejects codes outside 32 bits', () => {
    for (const code of [-1, 2 ** 32, 1.5, NaN]) {
      expect(() => encodeCloseSession(code, '')).toThrow(RangeError)
    }
  })

  it('cuts a long reason at a character boundary', () => {
    const reader = new CapsuleReader({ maxCapsuleBytes: 2000 })
    // 'é' is 2 bytes and '€' 3, so 1024 falls inside a character for these.
    for (const reason of [
      'a'.repeat(2000),
      'a' + 'é'.repeat(600),
      '€'.repeat(400),
      'ab€'.repeat(300),
    ]) {
      reader.push(encodeCloseSession(1, reason))
      const c = reader.next()!
      expect(c.type).toBe(CapsuleType.CLOSE_WEBTRANSPORT_SESSION)
      const decoded = decodeCloseSession(c.value)
      expect(new TextEncoder().encode(decoded.reason).length).toBeLessThanOrEqual(
        MAX_CLOSE_REASON_BYTES,
      )
      expect(new TextEncoder().encode(decoded.reason).length).toBeGreaterThan(
        MAX_CLOSE_REASON_BYTES - 4,
      )
      expect(reason.startsWith(decoded.reason)).toBe(true)
    }
    const exact = 'x'.repeat(1024)
    expect(decodeCloseSession(encodeCloseSession(1, exact).subarray(4)).reason).toBe(exact)
  })
})

describe('decodeCloseSession', () => {
  it('decodes fixed vectors', () => {
    expect(decodeCloseSession(hex('00000007627965'))).toEqual({ code: 7, reason: 'bye' })
    expect(decodeCloseSession(hex('ffffffff'))).toEqual({ code: 0xffffffff, reason: '' })
    expect(decodeCloseSession(hex('0000000ae282ac'))).toEqual({ code: 10, reason: '€' })
    // A view at an offset into a larger buffer.
    expect(decodeCloseSession(hex('ff0000000161').subarray(1))).toEqual({ code: 1, reason: 'a' })
  })

  it('rejects short values, long reasons and invalid UTF-8', () => {
    for (const bad of [
      hex(''),
      hex('000000'),
      hex('00000000ff'),
      hex('00000000e282'),
      hex('00000000c0af'),
      hex('00000000eda080'),
      concat(hex('00000000'), new Uint8Array(1025).fill(0x61)),
    ]) {
      expect(codeOf(() => decodeCloseSession(bad))).toBe(H3.MESSAGE_ERROR)
    }
  })
})

describe('CapsuleReader', () => {
  it('parses capsules delivered whole, byte by byte, and in random pieces', () => {
    const stream = concat(
      encodeCloseSession(7, 'bye'),
      capsule(0x00, hex('00ab')), // DATAGRAM: unknown here, returned for the caller to ignore
      encodeDrainSession(),
      capsule(0x1f * 99 + 0x21, new Uint8Array(0)),
    )
    const expected = [
      { type: CapsuleType.CLOSE_WEBTRANSPORT_SESSION, value: hex('00000007627965') },
      { type: 0, value: hex('00ab') },
      { type: CapsuleType.DRAIN_WEBTRANSPORT_SESSION, value: new Uint8Array(0) },
      { type: 0x1f * 99 + 0x21, value: new Uint8Array(0) },
    ]
    const whole = new CapsuleReader({ maxCapsuleBytes: 100 })
    whole.push(stream)
    expect(drain(whole)).toEqual(expected)
    whole.end()

    const prng = new Prng(40)
    for (const size of [() => 1, () => 1 + prng.int(6)]) {
      const reader = new CapsuleReader({ maxCapsuleBytes: 100 })
      const got: Capsule[] = []
      for (let i = 0; i < stream.length;) {
        const n = size()
        reader.push(stream.subarray(i, i + n))
        i += n
        got.push(...drain(reader))
      }
      expect(got).toEqual(expected)
      reader.end()
    }
  })

  it('returns a copy the caller may keep', () => {
    const reader = new CapsuleReader({ maxCapsuleBytes: 100 })
    const chunk = encodeCloseSession(7, 'bye')
    reader.push(chunk)
    const c = reader.next()!
    chunk.fill(0)
    expect(decodeCloseSession(c.value)).toEqual({ code: 7, reason: 'bye' })
  })

  it('rejects a known capsule over the limit from its header', () => {
    const reader = new CapsuleReader({ maxCapsuleBytes: 100 })
    reader.push(concat(encodeVarint(CapsuleType.CLOSE_WEBTRANSPORT_SESSION), encodeVarint(101)))
    expect(codeOf(() => reader.next())).toBe(H3.MESSAGE_ERROR)
    const drainTooLong = new CapsuleReader({ maxCapsuleBytes: 0 })
    drainTooLong.push(capsule(CapsuleType.DRAIN_WEBTRANSPORT_SESSION, hex('00')))
    expect(codeOf(() => drainTooLong.next())).toBe(H3.MESSAGE_ERROR)
  })

  it('skips an unknown capsule over the limit without buffering it', () => {
    const reader = new CapsuleReader({ maxCapsuleBytes: 100 })
    reader.push(concat(encodeVarint(0x1f * 5 + 0x21), encodeVarint(1_000_000), new Uint8Array(10)))
    expect(reader.next()).toBeUndefined()
    expect(reader.buffered).toBe(0)
    for (let i = 0; i < 999; i++) {
      reader.push(new Uint8Array(1000))
      expect(reader.buffered).toBe(0)
      expect(reader.next()).toBeUndefined()
    }
    expect(() => reader.end()).toThrow(expect.objectContaining({ code: H3.MESSAGE_ERROR }))
    // The last 990 bytes of the skipped capsule, then a real one in the same chunk.
    reader.push(concat(new Uint8Array(990), encodeDrainSession()))
    expect(drain(reader)).toEqual([
      { type: CapsuleType.DRAIN_WEBTRANSPORT_SESSION, value: new Uint8Array(0) },
    ])
    reader.end()
  })

  it('end() rejects a truncated capsule', () => {
    for (const partial of ['68', '6843', '684307', '68430700']) {
      const reader = new CapsuleReader({ maxCapsuleBytes: 100 })
      reader.push(hex(partial))
      expect(reader.next()).toBeUndefined()
      expect(() => reader.end()).toThrow(expect.objectContaining({ code: H3.MESSAGE_ERROR }))
    }
  })

  it('rejects a bad maxCapsuleBytes', () => {
    expect(() => new CapsuleReader({ maxCapsuleBytes: -1 })).toThrow(RangeError)
  })
})

describe('capsule fuzz', () => {
  it('random and corrupted input only gives clean results or H3_MESSAGE_ERROR (seeded)', () => {
    const prng = new Prng(41)
    for (let i = 0; i < 3000; i++) {
      let bytes: Uint8Array
      if (i % 2 === 0) {
        bytes = prng.bytes(prng.int(60))
      } else {
        bytes = concat(
          encodeCloseSession(prng.u32(), 'reason'.repeat(prng.int(4))),
          capsule(prng.int(100), prng.bytes(prng.int(50))),
          encodeDrainSession(),
        )
        bytes = bytes.slice(0, prng.int(bytes.length + 1))
        if (bytes.length > 0 && prng.int(2) === 0) bytes[prng.int(bytes.length)] = prng.u32() & 0xff
      }
      const reader = new CapsuleReader({ maxCapsuleBytes: 32 })
      const code = codeOf(() => {
        let results = 0
        for (let offset = 0; offset < bytes.length;) {
          const n = 1 + prng.int(8)
          reader.push(bytes.subarray(offset, offset + n))
          offset += n
          for (let c = reader.next(); c; c = reader.next()) {
            if (++results > bytes.length) throw new Error('no progress')
            if (c.type === CapsuleType.CLOSE_WEBTRANSPORT_SESSION) decodeCloseSession(c.value)
          }
        }
        reader.end()
      })
      if (code !== undefined) expect(code).toBe(H3.MESSAGE_ERROR)
    }
  })

  it('close capsules round-trip (seeded)', () => {
    const prng = new Prng(42)
    const alphabet = ['a', 'Z', ' ', 'é', '€', '😀', '\u0000']
    for (let i = 0; i < 1000; i++) {
      const code = prng.u32()
      let reason = ''
      for (let k = prng.int(40); k > 0; k--) reason += alphabet[prng.int(alphabet.length)]!
      const reader = new CapsuleReader({ maxCapsuleBytes: 2000 })
      reader.push(encodeCloseSession(code, reason))
      expect(decodeCloseSession(reader.next()!.value)).toEqual({ code, reason })
    }
  })
})
