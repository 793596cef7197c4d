import { describe, expect, it } from 'vitest'
import { HandshakeError } from '../errors.js'
import { concat, equalBytes, fromHex, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import {
  type DhKeyPair,
  NoiseXX,
  dhKeyPairFromSecret,
  generateDhKeyPair,
  maxNoiseMessageBytes,
} from './noise.js'

/**
 * Noise_XX_25519_AESGCM_SHA256 from the cacophony vectors: rweather/noise-c
 * tests/vector/cacophony.txt (entry "Noise_XX_25519_AESGCM_SHA256"); mcginty/snow
 * tests/vectors/cacophony.txt holds the same entry plus a `handshake_hash`. Messages 1-3 are
 * the handshake; 4-6 are transport messages, alternating from the responder (the format's
 * rule: the conversation alternates, starting with the initiator).
 *
 * That file's `handshake_hash` is `h` as it stands after message 2, not after the final
 * message (the same holds for its other entries, e.g. NN's equals `h` after message 1), so it
 * is pinned as such below, and the final `h` (`finalHandshakeHash`) is recomputed from the
 * vector's bytes by plain SHA-256 chaining (spec §5.2 MixHash), independently of noise.ts.
 */
const vector = {
  initPrologue: '4a6f686e2047616c74',
  initStatic: 'e61ef9919cde45dd5f82166404bd08e38bceb5dfdfded0a34c8df7ed542214d1',
  initEphemeral: '893e28b9dc6ca8d611ab664754b8ceb7bac5117349a4439a6b0569da977c464a',
  respPrologue: '4a6f686e2047616c74',
  respStatic: '4a3acbfdb163dec651dfa3194dece676d437029c62a408b4c5ea9114246e4893',
  respEphemeral: 'bbdb4cdbd309f1a1f2e1456967fe288cadd6f712d65dc7b7793d5e63da6b375b',
  handshakeHashAfterMessage2: 'c7c118c30ea6b4b4fb8b576a2a29da04bbbb63e2b3a8430856a2a6d58f5953ad',
  finalHandshakeHash: '1b7aefb1125762aa21a252890d00af54519638b76437444538f9a52f21e2e0dc',
  messages: [
    {
      payload: '4c756477696720766f6e204d69736573',
      ciphertext:
        'ca35def5ae56cec33dc2036731ab14896bc4c75dbb07a61f879f8e3afa4c79444c756477696720766f6e204d69736573',
    },
    {
      payload: '4d757272617920526f746862617264',
      ciphertext:
        '95ebc60d2b1fa672c1f46a8aa265ef51bfe38e7ccb39ec5be34069f144808843757117acceb05bd7a45733bc22015c97a9d0cbaf41b80446d5988ff5127235d76b79eade70f473d6a4ef521fdcbeda5340d01e028ba793fc059f2724a83af05f12dda0448a7621a926b379a92477fd',
    },
    {
      payload: '462e20412e20486179656b',
      ciphertext:
        'c90f1cf77eba4e50edb038991565e36c9758943a989229b6051244dc4fbecb6946744b401af2ee1a5881b65fbb87fd07cb6a328ececc9ce6ce84c399dc332d4fd521fa4bb7f467ce909395',
    },
    {
      payload: '4361726c204d656e676572',
      ciphertext: 'bc3fa77f6aca3e8466d7dc6bea10013e88a6a29add5132b461806c',
    },
    {
      payload: '4a65616e2d426170746973746520536179',
      ciphertext: '250b01074cdfe0df2ecf8ccbf1737b15a2ddb5b52fd9a396604e9c793cee3b3bb9',
    },
    {
      payload: '457567656e2042f6686d20766f6e2042617765726b',
      ciphertext: '449d4d433b3cdc3d02bf6fc881774b9df54366ebcffb9689bb13f14709822cd7ef42bcdb4d',
    },
  ],
}

/** Test-only transport CipherState: AES-256-GCM, nonce = 4 zero bytes | n (u64 big-endian). */
class TestCipher {
  private n = 0
  private constructor(private readonly key: CryptoKey) {}

  static async create(key: Uint8Array): Promise<TestCipher> {
    const k = await crypto.subtle.importKey('raw', new Uint8Array(key), 'AES-GCM', false, [
      'encrypt',
      'decrypt',
    ])
    return new TestCipher(k)
  }

  private nonce(): Uint8Array<ArrayBuffer> {
    const iv = new Uint8Array(12)
    new DataView(iv.buffer).setBigUint64(4, BigInt(this.n++))
    return iv
  }

  async encrypt(plaintext: Uint8Array): Promise<Uint8Array> {
    const iv = this.nonce()
    const data = new Uint8Array(plaintext)
    return new Uint8Array(await crypto.subtle.encrypt({ name: 'AES-GCM', iv }, this.key, data))
  }

  async decrypt(ciphertext: Uint8Array): Promise<Uint8Array> {
    const iv = this.nonce()
    const data = new Uint8Array(ciphertext)
    return new Uint8Array(await crypto.subtle.decrypt({ name: 'AES-GCM', iv }, this.key, data))
  }
}

async function vectorParties(): Promise<{ initiator: NoiseXX; responder: NoiseXX }> {
  const initiator = await NoiseXX.initiator({
    staticKey: await dhKeyPairFromSecret(fromHex(vector.initStatic)),
    ephemeralKey: await dhKeyPairFromSecret(fromHex(vector.initEphemeral)),
    prologue: fromHex(vector.initPrologue),
  })
  const responder = await NoiseXX.responder({
    staticKey: await dhKeyPairFromSecret(fromHex(vector.respStatic)),
    ephemeralKey: await dhKeyPairFromSecret(fromHex(vector.respEphemeral)),
    prologue: fromHex(vector.respPrologue),
  })
  return { initiator, responder }
}

async function expectHandshakeError(
  promise: Promise<unknown>,
  codes: HandshakeError['code'][],
): Promise<void> {
  const error: unknown = await promise.then(
    () => undefined,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(HandshakeError)
  expect(codes).toContain((error as HandshakeError).code)
}

/** Fixed keys, so every run of `transcript()` produces the same three messages. */
interface Fixture {
  initiatorStatic: DhKeyPair
  initiatorEphemeral: DhKeyPair
  responderStatic: DhKeyPair
  responderEphemeral: DhKeyPair
}

async function fixture(): Promise<Fixture> {
  return {
    initiatorStatic: await generateDhKeyPair(),
    initiatorEphemeral: await generateDhKeyPair(),
    responderStatic: await generateDhKeyPair(),
    responderEphemeral: await generateDhKeyPair(),
  }
}

const prologue = new TextEncoder().encode('ferry test')

function initiatorOf(f: Fixture): Promise<NoiseXX> {
  return NoiseXX.initiator({
    staticKey: f.initiatorStatic,
    ephemeralKey: f.initiatorEphemeral,
    prologue,
  })
}

function responderOf(f: Fixture): Promise<NoiseXX> {
  return NoiseXX.responder({
    staticKey: f.responderStatic,
    ephemeralKey: f.responderEphemeral,
    prologue,
  })
}

async function transcript(f: Fixture): Promise<[Uint8Array, Uint8Array, Uint8Array]> {
  const i = await initiatorOf(f)
  const r = await responderOf(f)
  const m1 = await i.writeMessage(Uint8Array.of(1, 2, 3))
  await r.readMessage(m1)
  const m2 = await r.writeMessage(Uint8Array.of(4, 5))
  await i.readMessage(m2)
  const m3 = await i.writeMessage(Uint8Array.of(6))
  await r.readMessage(m3)
  return [m1, m2, m3]
}

/** An initiator that has written message 1 and waits for message 2. */
async function initiatorAwaitingMessage2(f: Fixture): Promise<NoiseXX> {
  const i = await initiatorOf(f)
  await i.writeMessage(Uint8Array.of(1, 2, 3))
  return i
}

/** A responder that has read message 1 and written message 2, and waits for message 3. */
async function responderAwaitingMessage3(f: Fixture, m1: Uint8Array): Promise<NoiseXX> {
  const r = await responderOf(f)
  await r.readMessage(m1)
  await r.writeMessage(Uint8Array.of(4, 5))
  return r
}

describe('dhKeyPairFromSecret', () => {
  it('derives the RFC 7748 §6.1 public keys and shared secret', async () => {
    const alice = await dhKeyPairFromSecret(
      fromHex('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a'),
    )
    const bob = await dhKeyPairFromSecret(
      fromHex('5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb'),
    )
    expect(toHex(alice.publicKey)).toBe(
      '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a',
    )
    expect(toHex(bob.publicKey)).toBe(
      'de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f',
    )
    const bobPublic = await crypto.subtle.importKey(
      'raw',
      new Uint8Array(bob.publicKey),
      { name: 'X25519' },
      true,
      [],
    )
    const shared = await crypto.subtle.deriveBits(
      { name: 'X25519', public: bobPublic },
      alice.privateKey,
      256,
    )
    expect(toHex(new Uint8Array(shared))).toBe(
      '4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742',
    )
    expect(alice.privateKey.extractable).toBe(false)
  })

  it('refuses a secret that is not 32 bytes', async () => {
    await expect(dhKeyPairFromSecret(new Uint8Array(31))).rejects.toThrow(TypeError)
  })

  it('generates non-extractable key pairs with 32-byte public keys', async () => {
    const pair = await generateDhKeyPair()
    expect(pair.publicKey.length).toBe(32)
    expect(pair.privateKey.extractable).toBe(false)
  })
})

describe('NoiseXX: cacophony vector Noise_XX_25519_AESGCM_SHA256', () => {
  it('reproduces every handshake message, the handshake hash and the transport messages', async () => {
    const { initiator, responder } = await vectorParties()
    const [m1, m2, m3, t1, t2, t3] = vector.messages.map((m) => ({
      payload: fromHex(m.payload),
      ciphertext: m.ciphertext,
    })) as [
      { payload: Uint8Array; ciphertext: string },
      { payload: Uint8Array; ciphertext: string },
      { payload: Uint8Array; ciphertext: string },
      { payload: Uint8Array; ciphertext: string },
      { payload: Uint8Array; ciphertext: string },
      { payload: Uint8Array; ciphertext: string },
    ]

    const c1 = await initiator.writeMessage(m1.payload)
    expect(toHex(c1)).toBe(m1.ciphertext)
    expect(toHex(await responder.readMessage(c1))).toBe(toHex(m1.payload))

    const c2 = await responder.writeMessage(m2.payload)
    expect(toHex(c2)).toBe(m2.ciphertext)
    expect(toHex(await initiator.readMessage(c2))).toBe(toHex(m2.payload))

    const c3 = await initiator.writeMessage(m3.payload)
    expect(toHex(c3)).toBe(m3.ciphertext)
    expect(toHex(await responder.readMessage(c3))).toBe(toHex(m3.payload))

    expect(initiator.complete).toBe(true)
    expect(responder.complete).toBe(true)
    expect(toHex(initiator.handshakeHash)).toBe(vector.finalHandshakeHash)
    expect(toHex(responder.handshakeHash)).toBe(vector.finalHandshakeHash)

    const respStatic = await dhKeyPairFromSecret(fromHex(vector.respStatic))
    const initStatic = await dhKeyPairFromSecret(fromHex(vector.initStatic))
    expect(toHex(initiator.remoteStaticKey ?? new Uint8Array())).toBe(toHex(respStatic.publicKey))
    expect(toHex(responder.remoteStaticKey ?? new Uint8Array())).toBe(toHex(initStatic.publicKey))

    // Transport messages alternate from the responder: r->i, i->r, r->i.
    const keys = initiator.split()
    const fromResponder = await TestCipher.create(keys.responderToInitiator)
    const fromInitiator = await TestCipher.create(keys.initiatorToResponder)
    expect(toHex(await fromResponder.encrypt(t1.payload))).toBe(t1.ciphertext)
    expect(toHex(await fromInitiator.encrypt(t2.payload))).toBe(t2.ciphertext)
    expect(toHex(await fromResponder.encrypt(t3.payload))).toBe(t3.ciphertext)

    // The responder derives the same keys.
    const responderKeys = responder.split()
    const unsealer = await TestCipher.create(responderKeys.responderToInitiator)
    expect(toHex(await unsealer.decrypt(fromHex(t1.ciphertext)))).toBe(toHex(t1.payload))
    expect(toHex(responderKeys.initiatorToResponder)).toBe(
      toHex((await vectorKeys()).initiatorToResponder),
    )
  })
})

/** Noise's MixHash, written out: SHA-256 of the hash and the data. */
const mixHash = async (h: Uint8Array, data: Uint8Array): Promise<Uint8Array> =>
  new Uint8Array(await crypto.subtle.digest('SHA-256', concat(h, data)))

/** The vector's three messages, and the handshake hash once the prologue is mixed in. */
async function vectorTranscript(): Promise<{ messages: Uint8Array[]; afterPrologue: Uint8Array }> {
  // The protocol name is 28 bytes: h starts as the name padded with zeros to 32 bytes.
  const h = new Uint8Array(32)
  h.set(new TextEncoder().encode('Noise_XX_25519_AESGCM_SHA256'))
  return {
    messages: vector.messages.map((m) => fromHex(m.ciphertext)),
    afterPrologue: await mixHash(h, fromHex(vector.initPrologue)),
  }
}

describe('cacophony vector: the handshake hash, recomputed without noise.ts', () => {
  it('chains SHA-256 over the vector bytes to the pinned hashes', async () => {
    const { messages, afterPrologue } = await vectorTranscript()
    const [c1, c2, c3] = messages as [Uint8Array, Uint8Array, Uint8Array]
    let h = afterPrologue
    // -> e, payload | <- e, enc(s), enc(payload) | -> enc(s), enc(payload)
    for (const part of [c1.subarray(0, 32), c1.subarray(32), c2.subarray(0, 32)]) {
      h = await mixHash(h, part)
    }
    h = await mixHash(h, c2.subarray(32, 80))
    h = await mixHash(h, c2.subarray(80))
    expect(toHex(h)).toBe(vector.handshakeHashAfterMessage2)
    h = await mixHash(h, c3.subarray(0, 48))
    h = await mixHash(h, c3.subarray(48))
    expect(toHex(h)).toBe(vector.finalHandshakeHash)
  })
})

/** The vector's split keys, from a second, independent run of the vector handshake. */
async function vectorKeys(): Promise<{ initiatorToResponder: Uint8Array }> {
  const { initiator, responder } = await vectorParties()
  await responder.readMessage(await initiator.writeMessage(new Uint8Array(0)))
  await initiator.readMessage(await responder.writeMessage(new Uint8Array(0)))
  await responder.readMessage(await initiator.writeMessage(new Uint8Array(0)))
  return initiator.split()
}

describe('NoiseXX: payloads made from the transcript', () => {
  it('hands a payload function the hash before its payload, which the reader sees as payloadHash', async () => {
    const { initiator, responder } = await vectorParties()
    const { messages, afterPrologue } = await vectorTranscript()
    const [c1, c2, c3] = messages as [Uint8Array, Uint8Array, Uint8Array]
    // The hash before each payload, chained by hand as in the test above: every token of the
    // message so far, nothing of the payload.
    const before1 = await mixHash(afterPrologue, c1.subarray(0, 32))
    const before2 = await mixHash(
      await mixHash(await mixHash(before1, c1.subarray(32)), c2.subarray(0, 32)),
      c2.subarray(32, 80),
    )
    const before3 = await mixHash(await mixHash(before2, c2.subarray(80)), c3.subarray(0, 48))

    const expected = [before1, before2, before3]
    const parties = [initiator, responder, initiator]
    let message: Uint8Array | undefined
    for (let i = 0; i < 3; i++) {
      const writer = parties[i]!
      const reader = parties[(i + 1) % 2]!
      const seen: Uint8Array[] = []
      message = await writer.writeMessage((hash) => {
        seen.push(hash)
        return fromHex(vector.messages[i]!.payload)
      })
      // The same bytes as a plain payload: the function changes when, not what.
      expect(toHex(message)).toBe(vector.messages[i]!.ciphertext)
      expect(seen.map(toHex)).toEqual([toHex(expected[i]!)])
      expect(toHex(writer.payloadHash)).toBe(toHex(expected[i]!))
      expect(toHex(await reader.readMessage(message))).toBe(vector.messages[i]!.payload)
      expect(toHex(reader.payloadHash)).toBe(toHex(expected[i]!))
    }
    expect(toHex(initiator.handshakeHash)).toBe(vector.finalHandshakeHash)
  })

  it('refuses a function that returns no bytes, too many, or throws, and ends the handshake', async () => {
    const fresh = async (): Promise<NoiseXX> =>
      NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue })
    const i = await fresh()
    expect(() => i.payloadHash).toThrow(TypeError)
    await expect(i.writeMessage(() => 'x' as unknown as Uint8Array)).rejects.toThrow(TypeError)
    await expect(i.writeMessage(new Uint8Array(0))).rejects.toThrow(/failed/)
    const big = await fresh()
    await expect(big.writeMessage(() => new Uint8Array(maxNoiseMessageBytes - 31))).rejects.toThrow(
      RangeError,
    )
    const failing = await fresh()
    const reason = new Error('no signature today')
    await expect(failing.writeMessage(() => Promise.reject(reason))).rejects.toBe(reason)
    await expect(failing.writeMessage(new Uint8Array(0))).rejects.toThrow(/failed/)
    await expect((await fresh()).writeMessage(7 as unknown as Uint8Array)).rejects.toThrow(
      TypeError,
    )
  })
})

describe('NoiseXX: handshakes between fresh keys', () => {
  it('completes with payloads, learns both static keys and agrees on keys and hash', async () => {
    const initiatorStatic = await generateDhKeyPair()
    const responderStatic = await generateDhKeyPair()
    const i = await NoiseXX.initiator({ staticKey: initiatorStatic, prologue })
    const r = await NoiseXX.responder({ staticKey: responderStatic, prologue })
    expect(i.complete).toBe(false)
    expect(i.remoteStaticKey).toBeUndefined()

    const hello = new TextEncoder().encode('hello')
    expect(await r.readMessage(await i.writeMessage(hello))).toEqual(hello)
    const big = new Prng(7).bytes(60_000)
    expect(await i.readMessage(await r.writeMessage(big))).toEqual(big)
    expect(i.remoteStaticKey).toEqual(responderStatic.publicKey)
    expect(r.remoteStaticKey).toBeUndefined()
    expect(await r.readMessage(await i.writeMessage(new Uint8Array(0)))).toEqual(new Uint8Array(0))
    expect(r.remoteStaticKey).toEqual(initiatorStatic.publicKey)

    expect(i.complete && r.complete).toBe(true)
    expect(equalBytes(i.handshakeHash, r.handshakeHash)).toBe(true)
    const a = i.split()
    const b = r.split()
    expect(a.initiatorToResponder).toEqual(b.initiatorToResponder)
    expect(a.responderToInitiator).toEqual(b.responderToInitiator)
    expect(a.initiatorToResponder.length).toBe(32)
    expect(equalBytes(a.initiatorToResponder, a.responderToInitiator)).toBe(false)
  })

  it('fails message 2 when the prologues differ', async () => {
    const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue })
    const r = await NoiseXX.responder({
      staticKey: await generateDhKeyPair(),
      prologue: Uint8Array.of(1),
    })
    await r.readMessage(await i.writeMessage(new Uint8Array(0)))
    await expectHandshakeError(i.readMessage(await r.writeMessage(new Uint8Array(0))), [
      'DECRYPT_FAILED',
    ])
  })
})

describe('NoiseXX: tampering, truncation and replay', () => {
  it('refuses every single-bit flip of message 2 and message 3', async () => {
    const f = await fixture()
    const [m1, m2, m3] = await transcript(f)
    for (let bit = 0; bit < m2.length * 8; bit++) {
      const i = await initiatorAwaitingMessage2(f)
      const flipped = m2.slice()
      flipped[bit >> 3]! ^= 1 << (bit & 7)
      await expectHandshakeError(i.readMessage(flipped), ['DECRYPT_FAILED', 'MALFORMED'])
    }
    for (let bit = 0; bit < m3.length * 8; bit++) {
      const r = await responderAwaitingMessage3(f, m1)
      const flipped = m3.slice()
      flipped[bit >> 3]! ^= 1 << (bit & 7)
      await expectHandshakeError(r.readMessage(flipped), ['DECRYPT_FAILED', 'MALFORMED'])
    }
  })

  it('refuses every truncation of each message', async () => {
    const f = await fixture()
    const [m1, m2, m3] = await transcript(f)
    // Message 1 is unauthenticated: a cut below 32 bytes is MALFORMED at once; a cut payload
    // changes the responder's transcript, so the initiator refuses the answering message 2.
    for (let n = 0; n < m1.length; n++) {
      const r = await responderOf(f)
      const cut = m1.subarray(0, n)
      if (n < 32) {
        await expectHandshakeError(r.readMessage(cut), ['MALFORMED'])
        continue
      }
      await r.readMessage(cut)
      const i = await initiatorAwaitingMessage2(f)
      await expectHandshakeError(i.readMessage(await r.writeMessage(new Uint8Array(0))), [
        'DECRYPT_FAILED',
      ])
    }
    for (let n = 0; n < m2.length; n++) {
      const i = await initiatorAwaitingMessage2(f)
      await expectHandshakeError(
        i.readMessage(m2.subarray(0, n)),
        n < 96 ? ['MALFORMED'] : ['DECRYPT_FAILED'],
      )
    }
    for (let n = 0; n < m3.length; n++) {
      const r = await responderAwaitingMessage3(f, m1)
      await expectHandshakeError(
        r.readMessage(m3.subarray(0, n)),
        n < 64 ? ['MALFORMED'] : ['DECRYPT_FAILED'],
      )
    }
  })

  it('refuses message 2 replayed from another handshake', async () => {
    const staticKey = await generateDhKeyPair()
    const responderStatic = await generateDhKeyPair()
    // An earlier handshake with the same responder.
    const old = await NoiseXX.initiator({ staticKey, prologue })
    const oldResponder = await NoiseXX.responder({ staticKey: responderStatic, prologue })
    await oldResponder.readMessage(await old.writeMessage(new Uint8Array(0)))
    const replayed = await oldResponder.writeMessage(new Uint8Array(0))

    const fresh = await NoiseXX.initiator({ staticKey, prologue })
    await fresh.writeMessage(new Uint8Array(0))
    await expectHandshakeError(fresh.readMessage(replayed), ['DECRYPT_FAILED'])
  })

  it('refuses message 3 replayed from another handshake', async () => {
    const f = await fixture()
    const [, , m3] = await transcript(f)
    const other = { ...f, responderEphemeral: await generateDhKeyPair() }
    const i = await initiatorOf(other)
    const r = await responderOf(other)
    await r.readMessage(await i.writeMessage(Uint8Array.of(1, 2, 3)))
    await i.readMessage(await r.writeMessage(Uint8Array.of(4, 5)))
    await expectHandshakeError(r.readMessage(m3), ['DECRYPT_FAILED'])
  })

  it('refuses low-order ephemeral keys with MALFORMED', async () => {
    // u = 0 and u = 1 have small order: X25519 with them is all zeros.
    for (const point of [new Uint8Array(32), Uint8Array.of(1, ...new Uint8Array(31))]) {
      const r = await NoiseXX.responder({ staticKey: await generateDhKeyPair(), prologue })
      await r.readMessage(concat(point, Uint8Array.of(9)))
      await expectHandshakeError(r.writeMessage(new Uint8Array(0)), ['MALFORMED'])

      const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue })
      await i.writeMessage(new Uint8Array(0))
      await expectHandshakeError(i.readMessage(concat(point, new Uint8Array(64))), ['MALFORMED'])
    }
  })

  it('gives only HandshakeError for seeded garbage', async () => {
    const prng = new Prng(0x5eed)
    for (let round = 0; round < 300; round++) {
      const length = prng.int(4) === 0 ? prng.int(40) : prng.int(300)
      const garbage = prng.bytes(length)
      const which = prng.int(3)
      let outcome: unknown
      try {
        if (which === 0) {
          // Message 1 is unauthenticated: garbage of 32+ bytes parses; the error (if any)
          // comes when the responder answers.
          const r = await NoiseXX.responder({ staticKey: await generateDhKeyPair(), prologue })
          await r.readMessage(garbage)
          await r.writeMessage(new Uint8Array(0))
          outcome = 'accepted'
        } else if (which === 1) {
          const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue })
          await i.writeMessage(new Uint8Array(0))
          await i.readMessage(garbage)
          outcome = 'accepted'
        } else {
          const f = await fixture()
          const [m1] = await transcript(f)
          const r = await responderAwaitingMessage3(f, m1)
          await r.readMessage(garbage)
          outcome = 'accepted'
        }
      } catch (error) {
        outcome = error
      }
      if (which === 0 && length >= 32) {
        expect(outcome === 'accepted' || outcome instanceof HandshakeError).toBe(true)
      } else {
        expect(outcome).toBeInstanceOf(HandshakeError)
      }
    }
  })
})

describe('NoiseXX: misuse and limits', () => {
  it('rejects calls out of turn, concurrent calls and calls after completion with TypeError', async () => {
    const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue })
    const r = await NoiseXX.responder({ staticKey: await generateDhKeyPair(), prologue })
    await expect(i.readMessage(new Uint8Array(32))).rejects.toThrow(TypeError)
    await expect(r.writeMessage(new Uint8Array(0))).rejects.toThrow(TypeError)
    expect(() => i.split()).toThrow(TypeError)
    expect(() => i.handshakeHash).toThrow(TypeError)

    const first = i.writeMessage(new Uint8Array(0))
    await expect(i.writeMessage(new Uint8Array(0))).rejects.toThrow(/not settled/)
    await r.readMessage(await first)
    await i.readMessage(await r.writeMessage(new Uint8Array(0)))
    await r.readMessage(await i.writeMessage(new Uint8Array(0)))

    await expect(i.writeMessage(new Uint8Array(0))).rejects.toThrow(TypeError)
    await expect(r.readMessage(new Uint8Array(64))).rejects.toThrow(TypeError)
    i.split()
    expect(() => i.split()).toThrow(TypeError)
  })

  it('ends the handshake after a failed message', async () => {
    const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue })
    await i.writeMessage(new Uint8Array(0))
    await expectHandshakeError(i.readMessage(new Uint8Array(10)), ['MALFORMED'])
    await expect(i.readMessage(new Uint8Array(200))).rejects.toThrow(/failed/)
  })

  it('enforces the 65535-byte message limit', async () => {
    const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue })
    await expect(i.writeMessage(new Uint8Array(maxNoiseMessageBytes - 31))).rejects.toThrow(
      RangeError,
    )
    const m1 = await i.writeMessage(new Uint8Array(maxNoiseMessageBytes - 32))
    expect(m1.length).toBe(maxNoiseMessageBytes)

    const r = await NoiseXX.responder({ staticKey: await generateDhKeyPair(), prologue })
    await expectHandshakeError(r.readMessage(new Uint8Array(maxNoiseMessageBytes + 1)), [
      'MALFORMED',
    ])
    const r2 = await NoiseXX.responder({ staticKey: await generateDhKeyPair(), prologue })
    await r2.readMessage(m1)
    await expect(r2.writeMessage(new Uint8Array(maxNoiseMessageBytes - 95))).rejects.toThrow(
      RangeError,
    )
  })

  it('refuses malformed options with TypeError', async () => {
    const staticKey = await generateDhKeyPair()
    await expect(
      NoiseXX.initiator({ staticKey: { ...staticKey, publicKey: new Uint8Array(31) }, prologue }),
    ).rejects.toThrow(TypeError)
    await expect(
      NoiseXX.initiator({ staticKey, prologue: 'x' as unknown as Uint8Array }),
    ).rejects.toThrow(TypeError)
  })
})
