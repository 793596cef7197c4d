import { DecodeError } from '@ferry/core'
import { Prng } from '@ferry/core/testing'
import { describe, expect, it } from 'vitest'
import { decodeFrame, encodeFrame, frameLimits } from './codec.js'
import type { Message } from './messages.js'

const hex = (s: string) => Uint8Array.from((s.match(/../g) ?? []).map((b) => parseInt(b, 16)))
const toHexString = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('')
const topic = hex('11'.repeat(32))
const max = 4096

/** Fixed frames, written out by hand from PROTOCOL.md. */
const vectors: [string, Message, string][] = [
  ['prune', { type: 'prune' }, '11'],
  ['disconnect (alive)', { type: 'disconnect', alive: true }, '0601'],
  ['neighbor (high, no data)', { type: 'neighbor', priority: 'high' }, '050100'],
  ['graft without an id, round 7', { type: 'graft', id: undefined, round: 7 }, '120007'],
  [
    'gossip, round 300, "hi"',
    { type: 'gossip', id: hex('aa'.repeat(32)), round: 300, content: hex('6869') },
    '10' + 'aa'.repeat(32) + '01412c' + '026869',
  ],
  [
    'gossip to neighbors only',
    { type: 'gossip', id: hex('aa'.repeat(32)), round: undefined, content: hex('') },
    '10' + 'aa'.repeat(32) + '00' + '00',
  ],
  [
    'ihave',
    { type: 'ihave', entries: [{ id: hex('bb'.repeat(32)), round: 5 }] },
    '1301' + 'bb'.repeat(32) + '05',
  ],
  [
    'shuffle',
    {
      type: 'shuffle',
      origin: 'cc'.repeat(32),
      ttl: 6,
      nodes: [{ id: 'dd'.repeat(32), data: hex('0102') }],
    },
    '03' + 'cc'.repeat(32) + '06' + '01' + 'dd'.repeat(32) + '020102',
  ],
  ['join with data', { type: 'join', data: hex('ff') }, '0101ff'],
  [
    'forward-join',
    { type: 'forward-join', peer: { id: 'ee'.repeat(32) }, ttl: 3 },
    '02' + 'ee'.repeat(32) + '0003',
  ],
  ['shuffle-reply (empty)', { type: 'shuffle-reply', nodes: [] }, '0400'],
]

describe('gossip frames', () => {
  it.each(vectors)('%s: encodes to its fixed bytes and back', (_, message, body) => {
    const bytes = encodeFrame(topic, message)
    expect(toHexString(bytes)).toBe('11'.repeat(32) + body)
    const decoded = decodeFrame(bytes, max)
    expect(toHexString(decoded.topic)).toBe('11'.repeat(32))
    expect(decoded.message).toEqual(message)
  })

  it('every strict prefix of every frame is TRUNCATED', () => {
    for (const [, message] of vectors) {
      const bytes = encodeFrame(topic, message)
      for (let n = 0; n < bytes.length; n++) {
        expect(() => decodeFrame(bytes.subarray(0, n), max)).toThrow(
          expect.objectContaining({ name: 'DecodeError', code: 'TRUNCATED' }),
        )
      }
    }
  })

  it('refuses what breaks a rule, each with its code', () => {
    const cases: [string, string][] = [
      ['7f', 'UNKNOWN_VERSION'], // unknown kind
      ['0602', 'INVALID'], // a boolean of 2
      ['1100', 'TRAILING_BYTES'],
      ['1300', 'INVALID'], // an empty IHave
      ['134041', 'TOO_LARGE'], // 65 IHave entries
      ['0411', 'TOO_LARGE'], // 17 peers in a shuffle reply
      ['01' + '4201' + 'ff'.repeat(513), 'TOO_LARGE'], // peer data of 513 bytes
      ['12' + '00' + '80010000', 'TOO_LARGE'], // round 65536
      ['10' + 'aa'.repeat(32) + '00' + '5001', 'TOO_LARGE'], // content of 4097 bytes
    ]
    for (const [body, code] of cases) {
      expect(() => decodeFrame(hex('11'.repeat(32) + body), max), body).toThrow(
        expect.objectContaining({ name: 'DecodeError', code }),
      )
    }
  })

  it('refuses to encode what it would not decode', () => {
    expect(() => encodeFrame(topic, { type: 'join', data: new Uint8Array(513) })).toThrow(
      RangeError,
    )
    expect(() =>
      encodeFrame(topic, {
        type: 'shuffle-reply',
        nodes: Array.from({ length: 17 }, () => ({ id: 'ab'.repeat(32) })),
      }),
    ).toThrow(RangeError)
    expect(() => encodeFrame(topic, { type: 'graft', id: undefined, round: 65536 })).toThrow(
      RangeError,
    )
    expect(() => encodeFrame(new Uint8Array(31), { type: 'prune' })).toThrow(RangeError)
    expect(frameLimits.maxIHaveEntries).toBe(64)
  })

  it('turns seeded garbage into a DecodeError or a message, never anything else', () => {
    const prng = new Prng(0x60551b)
    let decoded = 0
    for (let i = 0; i < 20_000; i++) {
      // Half the inputs start like a real frame, so the fields after the kind get exercised.
      const [, message] = vectors[prng.int(vectors.length)]!
      const base = encodeFrame(topic, message)
      const input = i % 2 === 0 ? prng.bytes(prng.int(80)) : mutate(base, prng)
      try {
        const { message: m } = decodeFrame(input, max)
        // Whatever decodes must encode back to the same bytes: one canonical form.
        expect(toHexString(encodeFrame(input.subarray(0, 32), m))).toBe(toHexString(input))
        decoded++
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
      }
    }
    expect(decoded).toBeGreaterThan(0)
  })
})

function mutate(bytes: Uint8Array, prng: Prng): Uint8Array {
  const out = Uint8Array.from(bytes)
  const flips = 1 + prng.int(3)
  for (let i = 0; i < flips; i++) out[32 + prng.int(out.length - 32)] = prng.u32() & 0xff
  return prng.int(4) === 0 ? out.subarray(0, prng.int(out.length)) : out
}
