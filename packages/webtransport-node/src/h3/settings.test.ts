import { describe, it, expect } from 'vitest'
import { fromHex as hex, readVarintBig, toHex } from '@ferry/wire'
import { codeOf } from '../../test/errors.js'
import { H3 } from '../errors.js'
import { Prng } from '@ferry/core/testing'
import { isReservedType } from './frames.js'
import { decodeSettings, encodeSettings, Setting } from './settings.js'
import { h3Varint } from './varint.js'

const opts = { maxEntries: 32 }

describe('Setting', () => {
  it('has the registered codepoints', () => {
    expect(Setting).toEqual({
      QPACK_MAX_TABLE_CAPACITY: 0x1,
      MAX_FIELD_SECTION_SIZE: 0x6,
      QPACK_BLOCKED_STREAMS: 0x7,
      ENABLE_CONNECT_PROTOCOL: 0x8,
      H3_DATAGRAM: 0x33,
      H3_DATAGRAM_DRAFT04: 0xffd277,
      ENABLE_WEBTRANSPORT_DRAFT02: 0x2b603742,
      WT_MAX_SESSIONS: 0xc671706a,
      WT_MAX_SESSIONS_DRAFT13: 0x14e9cd29,
      WT_ENABLED: 0x2c7cf000,
    })
  })
})

describe('encodeSettings', () => {
  it('encodes fixed vectors in iteration order', () => {
    expect(toHex(encodeSettings([]))).toBe('')
    expect(
      toHex(
        encodeSettings([
          [Setting.QPACK_MAX_TABLE_CAPACITY, 0],
          [Setting.MAX_FIELD_SECTION_SIZE, 16384],
          [Setting.ENABLE_CONNECT_PROTOCOL, 1],
          [Setting.H3_DATAGRAM, 1],
          [Setting.H3_DATAGRAM_DRAFT04, 1],
          [Setting.ENABLE_WEBTRANSPORT_DRAFT02, 1],
          [Setting.WT_MAX_SESSIONS, 16],
          [Setting.WT_ENABLED, 1],
        ]),
      ),
    ).toBe(
      [
        '0100',
        '0680004000',
        '0801',
        '3301',
        '80ffd27701',
        'ab60374201',
        'c0000000c671706a10',
        'ac7cf00001',
      ].join(''),
    )
    expect(toHex(encodeSettings(new Map([[Setting.WT_MAX_SESSIONS_DRAFT13, 1]])))).toBe(
      '94e9cd2901',
    )
  })

  it('refuses what a peer would reject', () => {
    expect(() => encodeSettings([[0x2, 0]])).toThrow(RangeError)
    expect(() =>
      encodeSettings([
        [0x1, 0],
        [0x1, 1],
      ]),
    ).toThrow(RangeError)
    expect(() => encodeSettings([[-1, 0]])).toThrow(RangeError)
    expect(() => encodeSettings([[0x6, 2 ** 53]])).toThrow(RangeError)
  })
})

describe('decodeSettings', () => {
  it('decodes what Chromium sends, GREASE entry with an 8-byte id included', () => {
    // 0x23456789abcdf012 = 0x1f * 0x0123456789abcdef + 0x21, a reserved id above 2^53.
    const grease = 'e3456789abcdf012 9d7f3e7d'
    const payload = hex(
      `0100 0700 0801 3301 80ffd27701 ab60374201 c0000000c671706a 10 ac7cf00001 ${grease}`,
    )
    const settings = decodeSettings(payload, opts)
    expect(settings.get(Setting.QPACK_MAX_TABLE_CAPACITY)).toBe(0)
    expect(settings.get(Setting.QPACK_BLOCKED_STREAMS)).toBe(0)
    expect(settings.get(Setting.ENABLE_CONNECT_PROTOCOL)).toBe(1)
    expect(settings.get(Setting.H3_DATAGRAM)).toBe(1)
    expect(settings.get(Setting.H3_DATAGRAM_DRAFT04)).toBe(1)
    expect(settings.get(Setting.ENABLE_WEBTRANSPORT_DRAFT02)).toBe(1)
    expect(settings.get(Setting.WT_MAX_SESSIONS)).toBe(16)
    expect(settings.get(Setting.WT_ENABLED)).toBe(1)
    expect(settings.size).toBe(9)
    const greaseId = readVarintBig(hex('e3456789abcdf012'), 0, h3Varint)![0]
    expect((greaseId - 0x21n) % 0x1fn).toBe(0n)
    expect(settings.get(Number(greaseId))).toBe(494878333)
    expect(isReservedType(0x1f * 7 + 0x21)).toBe(true)
  })

  it('decodes an empty payload', () => {
    expect(decodeSettings(new Uint8Array(0), opts).size).toBe(0)
  })

  it('round-trips', () => {
    const entries: [number, number][] = [
      [Setting.QPACK_MAX_TABLE_CAPACITY, 4096],
      [Setting.WT_ENABLED, 1],
      [0x1f * 3 + 0x21, 2 ** 53 - 1],
    ]
    expect([...decodeSettings(encodeSettings(entries), opts)]).toEqual(entries)
  })

  it('rejects a repeated id', () => {
    expect(codeOf(() => decodeSettings(hex('0100 0101'), opts))).toBe(H3.SETTINGS_ERROR)
    // The same id in two encodings is still the same id.
    expect(codeOf(() => decodeSettings(hex('0100 400101'), opts))).toBe(H3.SETTINGS_ERROR)
    // Big ids are compared exactly: these two round to the same double but differ...
    expect(codeOf(() => decodeSettings(hex('c0ffffffffffff00 00 c0ffffffffffff01 00'), opts))).toBe(
      undefined,
    )
    // ...and these are equal.
    expect(codeOf(() => decodeSettings(hex('c0ffffffffffff00 00 c0ffffffffffff00 01'), opts))).toBe(
      H3.SETTINGS_ERROR,
    )
  })

  it('rejects HTTP/2-only ids', () => {
    for (const id of ['00', '02', '03', '04', '05', '4002']) {
      expect(codeOf(() => decodeSettings(hex(`${id}00`), opts))).toBe(H3.SETTINGS_ERROR)
    }
  })

  it('rejects a truncated entry', () => {
    for (const bad of ['01', '4001', '0140', '0100 33', 'c000000000']) {
      expect(codeOf(() => decodeSettings(hex(bad), opts))).toBe(H3.FRAME_ERROR)
    }
  })

  it('limits the number of entries', () => {
    const four = hex('0100 0600 0700 0800')
    expect(decodeSettings(four, { maxEntries: 4 }).size).toBe(4)
    expect(codeOf(() => decodeSettings(four, { maxEntries: 3 }))).toBe(H3.EXCESSIVE_LOAD)
  })

  it('random and truncated payloads only give clean results or Http3Error (seeded)', () => {
    const prng = new Prng(30)
    const valid = encodeSettings([
      [Setting.QPACK_MAX_TABLE_CAPACITY, 0],
      [Setting.H3_DATAGRAM, 1],
      [Setting.WT_MAX_SESSIONS, 1],
      [0x1f * 1234567 + 0x21, 99],
    ])
    const codes = [H3.SETTINGS_ERROR, H3.FRAME_ERROR, H3.EXCESSIVE_LOAD] as number[]
    for (let i = 0; i < 4000; i++) {
      let payload: Uint8Array
      if (i % 2 === 0) {
        payload = prng.bytes(prng.int(40))
      } else {
        payload = valid.slice(0, prng.int(valid.length + 1))
        if (payload.length > 0 && prng.int(2) === 0) {
          payload[prng.int(payload.length)] = prng.u32() & 0xff
        }
      }
      const code = codeOf(() => decodeSettings(payload, { maxEntries: 1 + prng.int(8) }))
      if (code !== undefined) expect(codes).toContain(code)
    }
  })
})
