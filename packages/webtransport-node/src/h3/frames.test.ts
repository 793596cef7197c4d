import { describe, it, expect } from 'vitest'
import { concat, encodeVarint, fromHex as hex, toHex } from '@ferry/wire'
import { H3, Http3Error } from '../errors.js'
import { Prng } from '@ferry/core/testing'
import {
  decodeGoaway,
  encodeFrame,
  encodeFrameHeader,
  encodeGoaway,
  FrameReader,
  FrameType,
  isReservedType,
  StreamType,
  type Frame,
} from './frames.js'

/** Everything `next()` yields now, with DATA pieces of each frame joined. */
function drain(reader: FrameReader): { type: number; payload: string }[] {
  const out: { type: number; payload: string }[] = []
  for (let f = reader.next(); f; f = reader.next()) out.push(summary(f))
  return out
}
const summary = (f: Frame): { type: number; payload: string } => ({
  type: f.type,
  payload: toHex(f.payload),
})

/** Feeds `bytes` in the given chunk sizes and joins DATA pieces into whole frames. */
function parse(bytes: Uint8Array, chunkSizes: () => number, maxFrameBytes = 1024) {
  const reader = new FrameReader({ maxFrameBytes })
  const frames: { type: number; payload: string }[] = []
  let data = ''
  for (let offset = 0; offset < bytes.length;) {
    const n = Math.max(1, chunkSizes())
    reader.push(bytes.subarray(offset, offset + n))
    offset += n
    for (let f = reader.next(); f; f = reader.next()) {
      if (f.type === FrameType.DATA) {
        data += toHex(f.payload)
        if (f.end) {
          frames.push({ type: 0, payload: data })
          data = ''
        }
      } else {
        frames.push(summary(f))
      }
    }
  }
  reader.end()
  return frames
}

describe('frame constants', () => {
  it('has the RFC 9114 and WebTransport codepoints', () => {
    expect(FrameType).toEqual({
      DATA: 0,
      HEADERS: 1,
      CANCEL_PUSH: 3,
      SETTINGS: 4,
      PUSH_PROMISE: 5,
      GOAWAY: 7,
      MAX_PUSH_ID: 0xd,
      WEBTRANSPORT_STREAM: 0x41,
    })
    expect(StreamType).toEqual({
      CONTROL: 0,
      PUSH: 1,
      QPACK_ENCODER: 2,
      QPACK_DECODER: 3,
      WEBTRANSPORT_UNI: 0x54,
    })
  })

  it('recognises reserved (GREASE) codepoints', () => {
    for (const t of [0x21, 0x40, 0x5f, 0x1f * 1000 + 0x21, 0x1f * 2 ** 40 + 0x21]) {
      expect(isReservedType(t)).toBe(true)
    }
    for (const t of [0, 1, 0x20, 0x22, 0x41, 0x54, 0x2, 0x1f]) expect(isReservedType(t)).toBe(false)
  })
})

describe('frame encoding', () => {
  it('encodes fixed vectors', () => {
    expect(toHex(encodeFrame(FrameType.DATA, hex('616263')))).toBe('0003616263')
    expect(toHex(encodeFrameHeader(FrameType.DATA, 1_000_000))).toBe('00800f4240')
    expect(toHex(encodeFrame(FrameType.SETTINGS, hex('0100 0640 64')))).toBe('04050100064064')
    expect(toHex(encodeFrame(FrameType.HEADERS, new Uint8Array(0)))).toBe('0100')
    expect(toHex(encodeGoaway(0))).toBe('070100')
    expect(toHex(encodeGoaway(16384))).toBe('070480004000')
    expect(() => encodeFrameHeader(-1, 0)).toThrow(RangeError)
  })

  it('decodes GOAWAY payloads', () => {
    expect(decodeGoaway(hex('00'))).toBe(0)
    expect(decodeGoaway(hex('7bbd'))).toBe(15293)
    for (const bad of ['', '7b', '0000', '25ff']) {
      expect(() => decodeGoaway(hex(bad))).toThrow(
        expect.objectContaining({ name: 'Http3Error', code: H3.FRAME_ERROR }),
      )
    }
  })
})

describe('FrameReader', () => {
  it('parses fixed vectors', () => {
    const reader = new FrameReader({ maxFrameBytes: 100 })
    reader.push(hex('04 05 0100064064  00 03 616263  07 01 00  01 00'))
    expect(drain(reader)).toEqual([
      { type: FrameType.SETTINGS, payload: '0100064064' },
      { type: FrameType.DATA, payload: '616263' },
      { type: FrameType.GOAWAY, payload: '00' },
      { type: FrameType.HEADERS, payload: '' },
    ])
    expect(reader.buffered).toBe(0)
    reader.end()
  })

  it('marks the last DATA piece, and gives one empty piece for an empty DATA frame', () => {
    const reader = new FrameReader({ maxFrameBytes: 100 })
    reader.push(hex('0000 0003 61'))
    expect(reader.next()).toEqual({ type: 0, payload: new Uint8Array(0), end: true })
    expect(reader.next()).toEqual({ type: 0, payload: hex('61'), end: false })
    expect(reader.next()).toBeUndefined()
    expect(() => reader.end()).toThrow(expect.objectContaining({ code: H3.FRAME_ERROR }))
    reader.push(hex('6263'))
    expect(reader.next()).toEqual({ type: 0, payload: hex('6263'), end: true })
    reader.end()
  })

  it('hands out DATA as views of the pushed chunks', () => {
    const reader = new FrameReader({ maxFrameBytes: 100 })
    const chunk = hex('0003616263')
    reader.push(chunk)
    const piece = reader.next()
    expect(piece?.payload.buffer).toBe(chunk.buffer)
  })

  it('copies non-DATA payloads', () => {
    const reader = new FrameReader({ maxFrameBytes: 100 })
    const chunk = hex('0103616263')
    reader.push(chunk)
    const frame = reader.next()!
    chunk.fill(0)
    expect(toHex(frame.payload)).toBe('616263')
  })

  it('gives the same frames byte by byte as all at once', () => {
    const stream = concat(
      encodeFrame(FrameType.SETTINGS, hex('0100 0640 64 c000000000000021 00')),
      encodeFrame(FrameType.HEADERS, new Uint8Array(300).fill(7)),
      encodeFrame(FrameType.DATA, new Uint8Array(20000).fill(9)),
      encodeFrame(0x21, hex('ff')),
      encodeFrame(FrameType.DATA, new Uint8Array(0)),
      encodeGoaway(4),
    )
    const whole = parse(stream, () => stream.length)
    expect(whole.map((f) => f.type)).toEqual([4, 1, 0, 0x21, 0, 7])
    expect(parse(stream, () => 1)).toEqual(whole)
    const prng = new Prng(10)
    expect(parse(stream, () => prng.int(40))).toEqual(whole)
  })

  it('streams a 1 MiB DATA frame in 1000-byte chunks intact', () => {
    const prng = new Prng(11)
    const payload = prng.bytes(1 << 20)
    const stream = concat(encodeFrame(FrameType.DATA, payload), encodeGoaway(8))
    const reader = new FrameReader({ maxFrameBytes: 1024 })
    const received = new Uint8Array(payload.length)
    let offset = 0
    let ended = false
    const others: number[] = []
    for (let i = 0; i < stream.length; i += 1000) {
      reader.push(stream.subarray(i, i + 1000))
      for (let f = reader.next(); f; f = reader.next()) {
        if (f.type !== FrameType.DATA) {
          others.push(f.type)
          continue
        }
        expect(ended).toBe(false)
        received.set(f.payload, offset)
        offset += f.payload.length
        ended = f.end
      }
      // Nothing accumulates: at most the tail of the current chunk stays buffered.
      expect(reader.buffered).toBeLessThan(1000)
    }
    expect(ended).toBe(true)
    expect(offset).toBe(payload.length)
    // A plain loop: deep equality on 1 MiB is slow in the test runner.
    let firstMismatch = -1
    for (let i = 0; i < payload.length && firstMismatch < 0; i++) {
      if (received[i] !== payload[i]) firstMismatch = i
    }
    expect(firstMismatch).toBe(-1)
    expect(others).toEqual([FrameType.GOAWAY])
  })

  it('rejects an oversized known frame from its header, before the payload arrives', () => {
    for (const type of [FrameType.HEADERS, FrameType.SETTINGS, FrameType.PUSH_PROMISE]) {
      const reader = new FrameReader({ maxFrameBytes: 1000 })
      reader.push(encodeFrameHeader(type, 1001))
      expect(() => reader.next()).toThrow(
        expect.objectContaining({ name: 'Http3Error', code: H3.EXCESSIVE_LOAD }),
      )
    }
    const atLimit = new FrameReader({ maxFrameBytes: 1000 })
    atLimit.push(encodeFrameHeader(FrameType.HEADERS, 1000))
    expect(atLimit.next()).toBeUndefined()
    atLimit.push(new Uint8Array(1000))
    expect(atLimit.next()?.payload.length).toBe(1000)
    // A huge 8-byte length is rejected just the same.
    const huge = new FrameReader({ maxFrameBytes: 1000 })
    huge.push(hex('01 ffffffffffffffff'))
    expect(() => huge.next()).toThrow(expect.objectContaining({ code: H3.EXCESSIVE_LOAD }))
  })

  it('streams away oversized unknown frames without buffering them', () => {
    const reader = new FrameReader({ maxFrameBytes: 10 })
    reader.push(encodeFrameHeader(0x21, 5000))
    expect(reader.next()).toBeUndefined()
    for (let i = 0; i < 5; i++) {
      reader.push(new Uint8Array(1000))
      expect(reader.next()).toBeUndefined()
      expect(reader.buffered).toBe(0)
    }
    reader.push(encodeFrame(0x21, hex('01')))
    expect(drain(reader)).toEqual([{ type: 0x21, payload: '01' }])
  })

  it('rejects HTTP/2-only frame types', () => {
    for (const type of [0x2, 0x6, 0x8, 0x9]) {
      const reader = new FrameReader({ maxFrameBytes: 10 })
      reader.push(encodeFrame(type, new Uint8Array(0)))
      expect(() => reader.next()).toThrow(
        expect.objectContaining({ name: 'Http3Error', code: H3.FRAME_UNEXPECTED }),
      )
    }
  })

  it('parses the WebTransport stream signal and stops', () => {
    const reader = new FrameReader({ maxFrameBytes: 10, allowWebTransportStream: true })
    reader.push(hex('40'))
    expect(reader.next()).toBeUndefined()
    reader.push(hex('41 40'))
    expect(reader.next()).toBeUndefined()
    reader.push(hex('04 0003 6162'))
    expect(reader.next()).toEqual({
      type: FrameType.WEBTRANSPORT_STREAM,
      payload: new Uint8Array(0),
      end: true,
      sessionId: 4,
    })
    expect(reader.next()).toBeUndefined()
    reader.push(hex('63'))
    expect(reader.next()).toBeUndefined()
    expect(toHex(reader.takeRaw())).toBe('0003616263')
    expect(reader.buffered).toBe(0)
    reader.end()
  })

  it('rejects the WebTransport signal where it is not allowed', () => {
    const notAllowed = new FrameReader({ maxFrameBytes: 10 })
    notAllowed.push(hex('4041 04'))
    expect(() => notAllowed.next()).toThrow(
      expect.objectContaining({ name: 'Http3Error', code: H3.FRAME_ERROR }),
    )
    const late = new FrameReader({ maxFrameBytes: 10, allowWebTransportStream: true })
    late.push(hex('0100 4041 04'))
    expect(late.next()?.type).toBe(FrameType.HEADERS)
    expect(() => late.next()).toThrow(expect.objectContaining({ code: H3.FRAME_ERROR }))
  })

  it('reads bare varints for unidirectional stream headers', () => {
    const reader = new FrameReader({ maxFrameBytes: 10 })
    reader.push(hex('40'))
    expect(reader.readVarint()).toBeUndefined()
    reader.push(hex('54 04 ab'))
    expect(reader.readVarint()).toBe(StreamType.WEBTRANSPORT_UNI)
    expect(reader.readVarint()).toBe(4)
    expect(toHex(reader.takeRaw())).toBe('ab')

    const control = new FrameReader({ maxFrameBytes: 10 })
    control.push(hex('00 04 00 07 01 00'))
    expect(control.readVarint()).toBe(StreamType.CONTROL)
    expect(drain(control)).toEqual([
      { type: FrameType.SETTINGS, payload: '' },
      { type: FrameType.GOAWAY, payload: '00' },
    ])
  })

  it('takeRaw returns buffered bytes without copying a single chunk, and refuses mid-frame', () => {
    const reader = new FrameReader({ maxFrameBytes: 10 })
    const chunk = hex('0102')
    reader.push(chunk)
    const raw = reader.takeRaw()
    expect(raw.buffer).toBe(chunk.buffer)
    expect(reader.buffered).toBe(0)
    expect(reader.takeRaw().length).toBe(0)

    reader.push(hex('0005 01'))
    expect(reader.next()?.end).toBe(false)
    expect(() => reader.takeRaw()).toThrow(expect.objectContaining({ code: H3.INTERNAL_ERROR }))
    expect(() => reader.readVarint()).toThrow(expect.objectContaining({ code: H3.INTERNAL_ERROR }))
  })

  it('end() rejects a truncated frame or header', () => {
    for (const partial of ['01', '0102', '010201', '00', '4000']) {
      const reader = new FrameReader({ maxFrameBytes: 10 })
      reader.push(hex(partial))
      drain(reader)
      expect(() => reader.end()).toThrow(expect.objectContaining({ code: H3.FRAME_ERROR }))
    }
  })

  it('rejects a bad maxFrameBytes', () => {
    expect(() => new FrameReader({ maxFrameBytes: -1 })).toThrow(RangeError)
    expect(() => new FrameReader({ maxFrameBytes: 1.5 })).toThrow(RangeError)
  })
})

describe('FrameReader fuzz', () => {
  const isExpected = (e: unknown): boolean =>
    e instanceof Http3Error &&
    [H3.FRAME_ERROR, H3.FRAME_UNEXPECTED, H3.EXCESSIVE_LOAD].includes(e.code as 0x106)

  /** Feeds `bytes` in random chunks; returns how many results came out, or the error. */
  function run(prng: Prng, bytes: Uint8Array, allowWebTransportStream: boolean): unknown {
    const reader = new FrameReader({ maxFrameBytes: 64, allowWebTransportStream })
    let results = 0
    try {
      for (let offset = 0; offset < bytes.length;) {
        const n = 1 + prng.int(16)
        reader.push(bytes.subarray(offset, offset + n))
        offset += n
        // Each result consumes input, so this bound catches any loop that does not.
        for (let f = reader.next(); f; f = reader.next()) {
          if (++results > bytes.length + 1) throw new Error('no progress')
          expect(f.payload).toBeInstanceOf(Uint8Array)
        }
      }
      reader.end()
      return results
    } catch (e) {
      return e
    }
  }

  it('random bytes only give clean results or Http3Error (seeded)', () => {
    const prng = new Prng(20)
    for (let i = 0; i < 3000; i++) {
      const bytes = prng.bytes(prng.int(80))
      const result = run(prng, bytes, prng.int(2) === 0)
      if (typeof result !== 'number') expect(isExpected(result), String(result)).toBe(true)
    }
  })

  it('truncations and corruptions of valid streams only give clean results or Http3Error (seeded)', () => {
    const prng = new Prng(21)
    for (let i = 0; i < 3000; i++) {
      const parts: Uint8Array[] = []
      for (let k = prng.int(5); k > 0; k--) {
        const type = [0, 1, 4, 7, 0x21, 0x1f * prng.int(1000) + 0x21][prng.int(6)]!
        parts.push(encodeFrame(type, prng.bytes(prng.int(70))))
      }
      let bytes = concat(...parts)
      bytes = bytes.subarray(0, prng.int(bytes.length + 1))
      if (bytes.length > 0 && prng.int(2) === 0) bytes[prng.int(bytes.length)] = prng.u32() & 0xff
      const result = run(prng, bytes, false)
      if (typeof result !== 'number') expect(isExpected(result), String(result)).toBe(true)
    }
  })

  it('a valid stream parses the same under any chunking (seeded)', () => {
    const prng = new Prng(22)
    for (let i = 0; i < 300; i++) {
      const parts: Uint8Array[] = []
      for (let k = 1 + prng.int(6); k > 0; k--) {
        const type = [0, 1, 4, 7, 0x21][prng.int(5)]!
        parts.push(encodeFrame(type, prng.bytes(prng.int(60))))
      }
      const bytes = concat(...parts)
      const whole = parse(bytes, () => bytes.length, 64)
      expect(whole.length).toBe(parts.length)
      expect(parse(bytes, () => prng.int(20), 64)).toEqual(whole)
    }
  })

  it('encodeVarint-prefixed GOAWAY ids round-trip (seeded)', () => {
    const prng = new Prng(23)
    for (let i = 0; i < 1000; i++) {
      const id = prng.u32() * prng.int(3)
      const frame = encodeGoaway(id)
      expect(toHex(frame.subarray(2))).toBe(toHex(encodeVarint(id)))
      const reader = new FrameReader({ maxFrameBytes: 8 })
      reader.push(frame)
      expect(decodeGoaway(reader.next()!.payload)).toBe(id)
    }
  })
})
