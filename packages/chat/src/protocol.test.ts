/**
 * The chat's wire format, pinned: statements written out by hand from the layout in
 * `protocol.ts`, signed with the key of RFC 8032's first test vector and checked with WebCrypto
 * (not ferry's own verifier); and seeded garbage, which only ever decodes or gives a
 * `DecodeError`.
 */
import { DecodeError, SecretKey } from '@ferry/core'
import { Prng } from '@ferry/core/testing'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { decodeBroadcast, encodeHistory, openEnvelope, signStatement } from './protocol.js'

const hex = (s: string) => Uint8Array.from((s.match(/../g) ?? []).map((b) => parseInt(b, 16)))
const toHex = (b: Uint8Array) => [...b].map((x) => x.toString(16).padStart(2, '0')).join('')

// RFC 8032 §7.1, TEST 1.
const rfcSeed = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60'
const rfcPublic = 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a'
const room = hex('11'.repeat(32))
const time = 1_700_000_000_000 // 0x18bcfe56800: an 8-byte varint, c000018bcfe56800
const nonce = '22'.repeat(8)

/** The bytes an identity key signs for the chat: ferry's signature input, context `ferry-chat/1`. */
function signedBytes(body: Uint8Array): Uint8Array<ArrayBuffer> {
  const context = new TextEncoder().encode('ferry-chat/1')
  const prefix = new TextEncoder().encode('ferry sig v1')
  return Uint8Array.from([...prefix, context.length, ...context, ...body])
}

async function verifiesWithWebCrypto(envelope: Uint8Array): Promise<boolean> {
  const key = await crypto.subtle.importKey('raw', envelope.slice(0, 32), 'Ed25519', false, [
    'verify',
  ])
  return crypto.subtle.verify(
    'Ed25519',
    key,
    envelope.slice(32, 96),
    signedBytes(envelope.slice(96)),
  )
}

/** Signs with the nonce fixed, so the whole broadcast is known. */
async function fixedStatement(
  statement: Parameters<typeof signStatement>[2],
): Promise<Uint8Array<ArrayBuffer>> {
  vi.spyOn(crypto, 'getRandomValues').mockImplementationOnce(
    <T extends ArrayBufferView | null>(array: T): T => {
      ;(array as Uint8Array).set(hex(nonce))
      return array
    },
  )
  return signStatement(await SecretKey.fromBytes(hex(rfcSeed)), room, statement, time)
}

afterEach(() => {
  vi.restoreAllMocks()
})

describe('the chat wire format', () => {
  const messageBody = '01' + '11'.repeat(32) + 'c000018bcfe56800' + nonce + '02' + '6869'
  const presenceBody = '02' + '11'.repeat(32) + 'c000018bcfe56800' + nonce + '03616461' + '03'

  it('a message is tag 1, author, signature, then kind, room, time, nonce and text', async () => {
    const broadcast = await fixedStatement({ kind: 'message', text: 'hi' })
    expect(broadcast[0]).toBe(1)
    const envelope = broadcast.subarray(1)
    expect(toHex(envelope.subarray(0, 32))).toBe(rfcPublic)
    expect(toHex(envelope.subarray(96))).toBe(messageBody)
    expect(await verifiesWithWebCrypto(envelope)).toBe(true)

    const opened = await openEnvelope(envelope, room)
    expect(opened).toMatchObject({ kind: 'message', text: 'hi', time })
    expect(opened!.author.toString()).toBe(
      (await SecretKey.fromBytes(hex(rfcSeed))).publicKey.toString(),
    )
    expect(opened!.id).toBe(toHex(envelope.subarray(32, 48)))
  })

  it('a presence carries the nickname and the flags (1 typing, 2 leaving)', async () => {
    const broadcast = await fixedStatement({
      kind: 'presence',
      nickname: 'ada',
      typing: true,
      leaving: true,
    })
    expect(toHex(broadcast.subarray(97))).toBe(presenceBody)
    expect(await verifiesWithWebCrypto(broadcast.subarray(1))).toBe(true)
    expect(await openEnvelope(broadcast.subarray(1), room)).toMatchObject({
      kind: 'presence',
      nickname: 'ada',
      typing: true,
      leaving: true,
    })
  })

  it('a history is tag 2, a count, and each envelope with its length', async () => {
    const envelope = (await fixedStatement({ kind: 'message', text: 'hi' })).subarray(1)
    const history = encodeHistory([envelope, envelope])
    // 96 bytes of author and signature + 52 of body = 148, a 2-byte varint: 4094.
    expect(toHex(history.subarray(0, 4))).toBe('02024094')
    expect(history.length).toBe(2 + 2 * (2 + 148))
    expect(decodeBroadcast(history).map(toHex)).toEqual([toHex(envelope), toHex(envelope)])
  })

  it('refuses what breaks the layout, with a DecodeError and its code', async () => {
    const envelope = (await fixedStatement({ kind: 'message', text: 'hi' })).subarray(1)
    const refusals: [string, () => unknown, string][] = [
      ['an unknown tag', () => decodeBroadcast(hex('03')), 'UNKNOWN_VERSION'],
      ['an empty history', () => decodeBroadcast(hex('0200')), 'TOO_LARGE'],
      ['a history of 17', () => decodeBroadcast(hex('0211')), 'TOO_LARGE'],
      ['a history cut short', () => decodeBroadcast(hex('020105aabb')), 'TRUNCATED'],
      ['bytes after a history', () => decodeBroadcast(hex('020101aa00')), 'TRAILING_BYTES'],
    ]
    for (const [what, run, code] of refusals) {
      expect(run, what).toThrow(expect.objectContaining({ name: 'DecodeError', code }))
    }
    const withBody = (body: string) => Uint8Array.from([...envelope.subarray(0, 96), ...hex(body)])
    const envelopeRefusals: [string, Uint8Array, string][] = [
      ['an unknown kind', withBody('03' + messageBody.slice(2)), 'UNKNOWN_VERSION'],
      ['presence flags above 3', withBody(presenceBody.slice(0, -2) + '04'), 'INVALID'],
      ['a byte after the text', withBody(messageBody + '00'), 'TRAILING_BYTES'],
      ['a text of 2001 bytes', withBody(messageBody.slice(0, -6) + '47d1'), 'TOO_LARGE'],
    ]
    for (const [what, bytes, code] of envelopeRefusals) {
      await expect(openEnvelope(bytes, room), what).rejects.toMatchObject({
        name: 'DecodeError',
        code,
      })
    }
  })

  it('drops a statement signed for another room, or whose bytes changed', async () => {
    const envelope = (await fixedStatement({ kind: 'message', text: 'hi' })).subarray(1)
    expect(await openEnvelope(envelope, hex('12'.repeat(32)))).toBeUndefined()
    const changed = Uint8Array.from(envelope)
    changed[changed.length - 1]! ^= 1 // 'hi' → 'hh'
    expect(await openEnvelope(changed, room)).toBeUndefined()
  })

  it('turns seeded garbage into envelopes or a DecodeError, never anything else', async () => {
    const prng = new Prng(0xc4a7)
    const key = await SecretKey.generate()
    const valid = [
      await signStatement(key, room, { kind: 'message', text: 'hello' }),
      await signStatement(key, room, {
        kind: 'presence',
        nickname: 'bo',
        typing: false,
        leaving: false,
      }),
    ]
    valid.push(encodeHistory(valid.map((b) => b.subarray(1))))
    const outcomes = { decoded: 0, opened: 0, refused: 0 }
    for (let i = 0; i < 4000; i++) {
      const base = valid[prng.int(valid.length)]!
      const input = i % 3 === 0 ? prng.bytes(prng.int(200)) : mutate(base, prng)
      let envelopes: Uint8Array[]
      try {
        envelopes = decodeBroadcast(input)
        outcomes.decoded++
      } catch (e) {
        expect(e).toBeInstanceOf(DecodeError)
        outcomes.refused++
        continue
      }
      for (const envelope of envelopes) {
        try {
          const opened = await openEnvelope(envelope, room)
          // Only the untouched statements still verify.
          if (opened) expect(valid.some((v) => toHex(v).includes(toHex(envelope)))).toBe(true)
          outcomes.opened++
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError)
        }
      }
    }
    expect(outcomes.decoded).toBeGreaterThan(0)
    expect(outcomes.opened).toBeGreaterThan(0)
    expect(outcomes.refused).toBeGreaterThan(0)
  })
})

/** A copy of `bytes` with one to three bytes replaced, cut short one time in four. */
function mutate(bytes: Uint8Array, prng: Prng): Uint8Array {
  const out = Uint8Array.from(bytes)
  const changes = 1 + prng.int(3)
  for (let i = 0; i < changes; i++) out[prng.int(out.length)] = prng.u32() & 0xff
  return prng.int(4) === 0 ? out.subarray(0, prng.int(out.length)) : out
}
