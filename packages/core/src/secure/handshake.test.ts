import { describe, expect, it } from 'vitest'
import { HandshakeError } from '../errors.js'
import { SecretKey } from '../identity.js'
import { fromHex, toHex } from '../internal/bytes.js'
import { bidiPair, END, type Tap } from '../internal/pipe.js'
import { Prng } from '../internal/prng.js'
import {
  acceptHandshake,
  type AcceptHandshakeOptions,
  dialHandshake,
  type DialHandshakeOptions,
  type HandshakeResult,
  LocalIdentity,
} from './handshake.js'
import { dhKeyPairFromSecret } from './noise.js'

const certHash = new Uint8Array(32).fill(0xab)

async function identity(seedByte: number): Promise<LocalIdentity> {
  return LocalIdentity.create(await SecretKey.fromBytes(new Uint8Array(32).fill(seedByte)))
}

type Outcome = PromiseSettledResult<HandshakeResult>

/** Runs both sides over an in-process pipe; returns both outcomes. */
async function run(
  dial: Omit<DialHandshakeOptions, 'identity'> & { identity?: LocalIdentity },
  accept: Omit<AcceptHandshakeOptions, 'identity' | 'alpns'> & {
    identity?: LocalIdentity
    alpns?: string[]
  },
  taps: { aToB?: Tap; bToA?: Tap } = {},
): Promise<{ dialer: Outcome; acceptor: Outcome; ids: [LocalIdentity, LocalIdentity] }> {
  const dialerId = dial.identity ?? (await identity(1))
  const acceptorId = accept.identity ?? (await identity(2))
  const [a, b] = bidiPair(taps)
  const [dialer, acceptor] = await Promise.allSettled([
    dialHandshake(a, { ...dial, identity: dialerId }),
    acceptHandshake(b, {
      ...accept,
      identity: acceptorId,
      alpns: new Set(accept.alpns ?? ['chat/1']),
    }),
  ])
  return { dialer, acceptor, ids: [dialerId, acceptorId] }
}

function value(outcome: Outcome): HandshakeResult {
  if (outcome.status === 'rejected') throw outcome.reason
  return outcome.value
}

function failure(outcome: Outcome): HandshakeError {
  expect(outcome.status).toBe('rejected')
  const reason = (outcome as PromiseRejectedResult).reason as unknown
  expect(reason).toBeInstanceOf(HandshakeError)
  return reason as HandshakeError
}

describe('handshake', () => {
  it('authenticates both ends and agrees on keys and the ALPN', async () => {
    const acceptorId = await identity(2)
    const { dialer, acceptor, ids } = await run(
      { alpns: ['chat/1'], expectedId: acceptorId.id },
      { identity: acceptorId },
    )
    const d = value(dialer)
    const a = value(acceptor)
    expect(d.remoteId.equals(ids[1].id)).toBe(true)
    expect(a.remoteId.equals(ids[0].id)).toBe(true)
    expect(d.alpn).toBe('chat/1')
    expect(a.alpn).toBe('chat/1')
    expect(toHex(d.keys.send)).toBe(toHex(a.keys.receive))
    expect(toHex(d.keys.receive)).toBe(toHex(a.keys.send))
    expect(toHex(d.handshakeHash)).toBe(toHex(a.handshakeHash))
    expect(d.encrypted && a.encrypted).toBe(true)
  })

  it('picks the first offered ALPN the acceptor serves', async () => {
    const { dialer, acceptor } = await run(
      { alpns: ['chat/3', 'chat/2', 'chat/1'] },
      { alpns: ['chat/1', 'chat/2'] },
    )
    expect(value(dialer).alpn).toBe('chat/2')
    expect(value(acceptor).alpn).toBe('chat/2')
  })

  it('binds TLS when the dialer verified the certificate the acceptor signed', async () => {
    const { dialer, acceptor } = await run(
      { alpns: ['chat/1'], tlsCertHash: certHash },
      { certHash },
    )
    expect(value(dialer).encrypted).toBe(false)
    expect(value(acceptor).encrypted).toBe(false)
  })

  it('encrypts when the dialer does not know the TLS certificate', async () => {
    const { dialer, acceptor } = await run({ alpns: ['chat/1'] }, { certHash })
    expect(value(dialer).encrypted).toBe(true)
    expect(value(acceptor).encrypted).toBe(true)
  })

  it('refuses an acceptor that signed another certificate than TLS verified', async () => {
    const other = new Uint8Array(32).fill(0xcd)
    const { dialer } = await run({ alpns: ['chat/1'], tlsCertHash: other }, { certHash })
    expect(failure(dialer).code).toBe('CERT_HASH_MISMATCH')
  })

  it('refuses an acceptor that is not the expected endpoint, before revealing the dialer', async () => {
    const expected = await identity(9)
    const seen: Uint8Array[] = []
    const { dialer, acceptor } = await run(
      { alpns: ['chat/1'], expectedId: expected.id },
      {},
      { aToB: (c) => (seen.push(c), [c]) },
    )
    expect(failure(dialer).code).toBe('WRONG_ENDPOINT')
    expect(failure(acceptor).code).toBe('TRUNCATED')
    // Only message 1 (ephemeral key and offer) ever left the dialer.
    expect(seen.map((c) => c.length)).toEqual([1 + 32 + 9])
  })

  it('refuses a signature that does not cover the static key', async () => {
    const liar = await identity(3)
    const forged = await identity(4)
    // The liar presents signatures made with another endpoint's Noise static key.
    Object.defineProperty(liar, 'signature', { value: forged.signature.bind(forged) })
    const dialerSide = await run({ alpns: ['chat/1'] }, { identity: liar })
    expect(failure(dialerSide.dialer).code).toBe('BAD_SIGNATURE')
    const acceptorSide = await run({ alpns: ['chat/1'], identity: liar }, {})
    expect(failure(acceptorSide.acceptor).code).toBe('BAD_SIGNATURE')
  })

  it('refuses an offer the acceptor serves nothing of, and a transport-level downgrade', async () => {
    const none = await run({ alpns: ['chat/9'] }, {})
    expect(failure(none.acceptor).code).toBe('ALPN_MISMATCH')
    const downgraded = await run(
      { alpns: ['chat/2', 'chat/1'] },
      { alpns: ['chat/1', 'chat/2'], transportProtocol: 'chat/1' },
    )
    expect(failure(downgraded.acceptor).code).toBe('ALPN_MISMATCH')
    const dialerSees = await run({ alpns: ['chat/1'], transportProtocol: 'chat/0' }, {})
    expect(failure(dialerSees.dialer).code).toBe('ALPN_MISMATCH')
  })

  it('detects every truncation as TRUNCATED or MALFORMED', async () => {
    for (const direction of ['aToB', 'bToA'] as const) {
      // The dialer writes two messages, the acceptor one.
      for (let keep = 0; keep < (direction === 'aToB' ? 2 : 1); keep++) {
        for (const cut of [0, 1, 10, 40]) {
          // Pass `keep` whole messages, then only `cut` bytes of the next one, then end.
          const tap: Tap = (c, i) =>
            i < keep ? [c] : [c.subarray(0, Math.min(cut, c.length - 1)), END]
          const { dialer, acceptor } = await run({ alpns: ['chat/1'] }, {}, { [direction]: tap })
          const failed = [dialer, acceptor].filter((o) => o.status === 'rejected')
          expect(failed.length).toBeGreaterThan(0)
          for (const o of failed) {
            expect(['TRUNCATED', 'MALFORMED']).toContain(failure(o).code)
          }
        }
      }
    }
  })

  it('refuses messages replayed from another handshake', async () => {
    const recorded: Uint8Array[] = []
    await run({ alpns: ['chat/1'] }, {}, { bToA: (c) => (recorded.push(c), [c]) })
    // A second dialer gets the first acceptor's message 2 instead of a fresh one.
    const { dialer } = await run({ alpns: ['chat/1'] }, {}, { bToA: (c, i) => [recorded[i] ?? c] })
    expect(failure(dialer).code).toBe('DECRYPT_FAILED')
    const sent: Uint8Array[] = []
    await run({ alpns: ['chat/1'] }, {}, { aToB: (c) => (sent.push(c), [c]) })
    const { acceptor } = await run(
      { alpns: ['chat/1'] },
      {},
      { aToB: (c, i) => [i === 1 && sent[1] ? sent[1] : c] },
    )
    expect(failure(acceptor).code).toBe('DECRYPT_FAILED')
  })

  it('gives only HandshakeError for seeded garbage and bit flips', async () => {
    for (let seed = 1; seed <= 24; seed++) {
      const prng = new Prng(seed)
      const flipAt = prng.int(3)
      const tap: Tap = (c, i) => {
        if (i !== flipAt % 2) return [c]
        const copy = c.slice()
        if (seed % 3 === 0) return [prng.bytes(1 + prng.int(200))]
        const bit = prng.int(copy.length * 8)
        copy[bit >> 3]! ^= 1 << (bit & 7)
        return [copy]
      }
      const { dialer, acceptor } = await run(
        { alpns: ['chat/1'] },
        {},
        flipAt === 2 ? { bToA: tap } : { aToB: tap },
      )
      const failed = [dialer, acceptor].filter((o) => o.status === 'rejected')
      expect(failed.length, `seed ${seed}`).toBeGreaterThan(0)
      for (const o of failed) failure(o)
    }
  })

  it('produces the pinned messages for fixed keys (format vector)', async () => {
    const key = (b: number): Uint8Array => new Uint8Array(32).fill(b)
    const dialerId = await LocalIdentity.create(
      await SecretKey.fromBytes(key(1)),
      await dhKeyPairFromSecret(key(0x11)),
    )
    const acceptorId = await LocalIdentity.create(
      await SecretKey.fromBytes(key(2)),
      await dhKeyPairFromSecret(key(0x22)),
    )
    const messages: string[] = []
    const record: Tap = (c) => (messages.push(toHex(c)), [c])
    const { dialer } = await run(
      {
        identity: dialerId,
        alpns: ['chat/2', 'chat/1'],
        tlsCertHash: certHash,
        ephemeralKey: await dhKeyPairFromSecret(key(0x33)),
      },
      {
        identity: acceptorId,
        alpns: ['chat/1', 'chat/2'],
        certHash,
        ephemeralKey: await dhKeyPairFromSecret(key(0x44)),
      },
      { aToB: record, bToA: record },
    )
    const result = value(dialer)
    expect(result.alpn).toBe('chat/2')
    expect(messages).toEqual(VECTOR.messages)
    expect(toHex(result.handshakeHash)).toBe(VECTOR.handshakeHash)
    expect(fromHex(VECTOR.handshakeHash)).toHaveLength(32)
  })
})

/** Regenerate only on a deliberate wire-format change (and bump the handshake version). */
const VECTOR = {
  messages: [
    '307b0d47d93427f8311160781c7c733fd89f88970aef490d8aa0ee19a4cb8a1b14010206636861742f3206636861742f31',
    '40e8ff2ee45601ec1b67310c7790404585ae697331eee1c1f8cf2419731c1fff3e6b2cd2b7e677cf335563c62b7430218e13457b9617ae068cb83bb09b6b98e9a52841b13b7a278dec0e40de42ae597c91ba2b483572ea222462961662fd202d4b8209b4d3e046b6d4cfe2dca6b04003d5a480b49dddbc89af785c9636b972668afb914d5e9544fa18bf86926b7be7cd69c6fa6e6f412ea06ec8c5438177a01cf746b3aa30094d15f94ba7af8daa45378c078e3804455eab0563e8c42bfa7349d6659afcafcd13fef6110391df27668482ce2350492e97bc63c0aa28345f5459688feaf9317f5bfb84b2',
    '40a14b4304a1ce0fa0831c0d5086a53d113c80569e488157087563fafa69d1792d9a2b18e808ba7cc660d9d1eb4f457096e598e3a165ec61000816abb5798c85b81d0d8569a42ec48750d5eaf574061848d9c3fa8207d231346221441a73a0ffbb82b80f47c6babb4610cd9237beb6fc39f6f6c1a436c44fa949e63737ba6ffaedcb723657f03633e922cc10537d8ec3d990cc11402b1b156a121269279ca4fca54f1a',
  ],
  handshakeHash: '88c7ec69793f34e9cb25ebc2a5d21de19ffe8478fd26b300579313d3e3fd28d2',
}
