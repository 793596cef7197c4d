import { afterEach, describe, expect, it, vi } from 'vitest'
import { DecodeError, FerryError } from './errors.js'
import { base32Encode } from './codec/base32.js'
import { fromHex, toHex, utf8 } from './internal/bytes.js'
import { Prng } from './internal/prng.js'
import * as identity from './identity.js'
import { decodeError } from './errors-fixtures.js'

type IdentityModule = typeof identity

/**
 * A fresh copy of the module on a platform whose WebCrypto lacks Ed25519, so the noble
 * fallback does all the work. Its error classes are fresh copies too: assert on name and code.
 */
async function withoutWebCryptoEd25519(): Promise<IdentityModule> {
  return (await withoutWebCryptoEd25519Spied()).module
}

async function withoutWebCryptoEd25519Spied() {
  const importKey = crypto.subtle.importKey.bind(crypto.subtle)
  const spy = vi.spyOn(crypto.subtle, 'importKey').mockImplementation((...args: unknown[]) => {
    const algorithm = args[2] as { name?: string } | string
    if ((typeof algorithm === 'string' ? algorithm : algorithm.name) === 'Ed25519') {
      return Promise.reject(new DOMException('Unrecognized name.', 'NotSupportedError'))
    }
    return (importKey as (...a: unknown[]) => Promise<CryptoKey>)(...args)
  })
  vi.resetModules()
  return { module: await import('./identity.js'), importKey: spy }
}

afterEach(() => {
  vi.restoreAllMocks()
})

function flipBit(bytes: Uint8Array, bit: number): Uint8Array {
  const out = bytes.slice()
  out[bit >>> 3]! ^= 1 << (bit & 7)
  return out
}

// RFC 8032 §7.1, tests 1 to 3.
const rfc8032 = [
  {
    secret: '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60',
    public: 'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a',
    message: '',
    signature:
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b',
  },
  {
    secret: '4ccd089b28ff96da9db6c346ec114e0f5b8a319f35aba624da8cf6ed4fb8a6fb',
    public: '3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c',
    message: '72',
    signature:
      '92a009a9f0d4cab8720e820b5f642540a2b27b5416503f8fb3762223ebdb69da085ac1e43e15996e458f3613d0f11d8c387b2eaeb4302aeeb00d291612bb0c00',
  },
  {
    secret: 'c5aa8df43f9f837bedb7442f31dcb7b166d38535076f094b85ce3a2e0b4458f7',
    public: 'fc51cd8e6218a1a38da47ed00230f0580816ed13ba3303ac5deb911548908025',
    message: 'af82',
    signature:
      '6291d657deec24024827e69c3abe01a30ce548a284743a445e3680d7db5ac3ac18ff9b538d16f290ae67f760984dc6594a7c15e9716ed28dc027beceea1ec40a',
  },
]

/** The group order L of Ed25519. */
const order = 2n ** 252n + 27742317777372353535851937790883648493n

/** `signature` with S replaced by S + L: the same value, not in canonical form. */
function withUnreducedS(signature: Uint8Array): Uint8Array {
  let s = 0n
  for (let i = 63; i >= 32; i--) s = (s << 8n) | BigInt(signature[i]!)
  s += order
  const out = signature.slice()
  for (let i = 32; i < 64; i++) {
    out[i] = Number(s & 0xffn)
    s >>= 8n
  }
  return out
}

/** The same tests for the WebCrypto path and for the noble fallback. */
function signingSuite(name: string, load: () => Promise<IdentityModule>): void {
  describe(name, () => {
    it.each(rfc8032.map((v, i) => [i + 1, v] as const))(
      'reproduces RFC 8032 test %i: public key and signature',
      async (_, vector) => {
        const { SecretKey, PublicKey, _signRaw, _verifyRaw } = await load()
        const secret = await SecretKey.fromBytes(fromHex(vector.secret))
        expect(toHex(secret.publicKey.toBytes())).toBe(vector.public)
        const signature = await _signRaw(secret, fromHex(vector.message))
        expect(toHex(signature)).toBe(vector.signature)
        const key = PublicKey.fromBytes(fromHex(vector.public))
        expect(await _verifyRaw(key, fromHex(vector.message), fromHex(vector.signature))).toBe(true)
      },
    )

    it('signs "ferry sig v1" ‖ context length ‖ context ‖ message, never the message alone', async () => {
      const { SecretKey, signatureInput, _signRaw, _verifyRaw } = await load()
      const secret = await SecretKey.fromBytes(fromHex(rfc8032[0]!.secret))
      const message = Uint8Array.of(1, 2)
      expect(toHex(signatureInput('app/1', message))).toBe(
        '666572727920736967207631' + '05' + '6170702f31' + '0102',
      )
      const signature = await secret.sign('app/1', message)
      expect(toHex(signature)).toBe(toHex(await _signRaw(secret, signatureInput('app/1', message))))
      expect(await _verifyRaw(secret.publicKey, message, signature)).toBe(false)
    })

    it('rejects flipped bits, a wrong key, message or context, and wrong lengths with false', async () => {
      const { SecretKey } = await load()
      const secret = await SecretKey.fromBytes(fromHex(rfc8032[2]!.secret))
      const other = await SecretKey.fromBytes(fromHex(rfc8032[1]!.secret))
      const message = utf8('ferry')
      const signature = await secret.sign('test/1', message)
      const key = secret.publicKey
      expect(await key.verify('test/1', message, signature)).toBe(true)
      for (const bit of [0, 7, 100, 255, 256, 300, 500, 511]) {
        expect(await key.verify('test/1', message, flipBit(signature, bit)), `bit ${bit}`).toBe(
          false,
        )
      }
      expect(await key.verify('test/1', flipBit(message, 3), signature)).toBe(false)
      expect(await other.publicKey.verify('test/1', message, signature)).toBe(false)
      expect(await key.verify('test/2', message, signature)).toBe(false)
      // The context's length is signed: moving its end into the message is another statement.
      const split = await secret.sign('ab', utf8('c'))
      expect(await key.verify('a', utf8('bc'), split)).toBe(false)
      expect(await key.verify('abc', new Uint8Array(0), split)).toBe(false)
      for (const length of [0, 1, 32, 63, 65, 128]) {
        const wrong = new Uint8Array(length)
        wrong.set(signature.subarray(0, length))
        expect(await key.verify('test/1', message, wrong), `length ${length}`).toBe(false)
      }
      expect(await key.verify('test/1', message, withUnreducedS(signature))).toBe(false)
      expect(await key.verify('test/1', message, new Uint8Array(64))).toBe(false)
      expect(await key.verify('test/1', message, new Uint8Array(64).fill(0xff))).toBe(false)
    })

    it('signs with a key made by generate() and verifies it', async () => {
      const { SecretKey } = await load()
      const secret = await SecretKey.generate()
      expect(secret.extractable).toBe(true)
      expect(secret.cryptoKeyPair).toBeUndefined()
      const message = new Prng(1).bytes(1000)
      const signature = await secret.sign('test/1', message)
      expect(signature.length).toBe(64)
      expect(await secret.publicKey.verify('test/1', message, signature)).toBe(true)
    })

    it('refuses non-bytes and non-string contexts with TypeError', async () => {
      const { SecretKey } = await load()
      const secret = await SecretKey.fromBytes(new Uint8Array(32))
      await expect(secret.sign('test/1', 'x' as unknown as Uint8Array)).rejects.toThrow(TypeError)
      await expect(secret.sign(7 as unknown as string, new Uint8Array(1))).rejects.toThrow(
        TypeError,
      )
      await expect(
        secret.publicKey.verify('test/1', 'x' as unknown as Uint8Array, new Uint8Array(64)),
      ).rejects.toThrow(TypeError)
      await expect(
        secret.publicKey.verify('test/1', new Uint8Array(1), 'x' as unknown as Uint8Array),
      ).rejects.toThrow(TypeError)
    })

    it('refuses ferry’s own contexts, an empty one and one over 255 bytes with RangeError', async () => {
      const { SecretKey, signatureInput } = await load()
      const secret = await SecretKey.fromBytes(new Uint8Array(32))
      const message = new Uint8Array(1)
      for (const context of ['ferry/handshake/2/dialer', 'ferry/handshake/2/acceptor', 'ferry/']) {
        await expect(secret.sign(context, message), context).rejects.toThrow(RangeError)
      }
      await expect(secret.sign('', message)).rejects.toThrow(RangeError)
      await expect(secret.sign('x'.repeat(256), message)).rejects.toThrow(RangeError)
      await expect(secret.publicKey.verify('', message, new Uint8Array(64))).rejects.toThrow(
        RangeError,
      )
      // 255 bytes is the longest context; a multi-byte character counts as its bytes.
      expect(await secret.sign('x'.repeat(255), message)).toHaveLength(64)
      expect(() => signatureInput('é'.repeat(128), message)).toThrow(RangeError)
    })
  })
}

signingSuite('with WebCrypto Ed25519', () => Promise.resolve(identity))
signingSuite('with the noble fallback', withoutWebCryptoEd25519)

describe('WebCrypto and noble', () => {
  it('make the same signatures and accept each other’s', async () => {
    const noble = await withoutWebCryptoEd25519()
    const prng = new Prng(0x8032)
    for (let i = 0; i < 20; i++) {
      const seed = prng.bytes(32)
      const message = prng.bytes(prng.int(200))
      const viaWebCrypto = await (await identity.SecretKey.fromBytes(seed)).sign('test/1', message)
      const viaNoble = await (await noble.SecretKey.fromBytes(seed)).sign('test/1', message)
      expect(toHex(viaNoble)).toBe(toHex(viaWebCrypto))
      const id = identity.PublicKey.fromBytes(
        (await noble.SecretKey.fromBytes(seed)).publicKey.toBytes(),
      )
      const nobleId = noble.PublicKey.fromBytes(id.toBytes())
      const forged = flipBit(viaNoble, prng.int(512))
      expect(await id.verify('test/1', message, viaNoble)).toBe(true)
      expect(await nobleId.verify('test/1', message, viaWebCrypto)).toBe(true)
      expect(await id.verify('test/1', message, forged)).toBe(false)
      expect(await nobleId.verify('test/1', message, forged)).toBe(false)
    }
  })

  it('detect WebCrypto once and lazily, without importing every key when it is missing', async () => {
    const { module: noble, importKey } = await withoutWebCryptoEd25519Spied()
    const a = noble.PublicKey.fromBytes(fromHex(rfc8032[0]!.public))
    const b = noble.PublicKey.fromBytes(fromHex(rfc8032[1]!.public))
    expect(importKey).not.toHaveBeenCalled()
    await a.verify('test/1', new Uint8Array(0), fromHex(rfc8032[0]!.signature))
    await b.verify('test/1', new Uint8Array(0), fromHex(rfc8032[0]!.signature))
    await a.verify('test/1', new Uint8Array(0), fromHex(rfc8032[0]!.signature))
    expect(importKey).toHaveBeenCalledTimes(1)
  })
})

describe('PublicKey', () => {
  const bytes = fromHex(rfc8032[0]!.public)

  it('round trips through its 52-character base32 text', () => {
    const key = identity.PublicKey.fromBytes(bytes)
    const text = key.toString()
    expect(text).toBe(base32Encode(bytes))
    expect(text).toMatch(/^[a-z2-7]{52}$/)
    expect(key.short()).toBe(text.slice(0, 10))
    expect(JSON.stringify({ key })).toBe(`{"key":"${text}"}`)
    const parsed = identity.PublicKey.fromString(text)
    expect(parsed.equals(key)).toBe(true)
    expect(toHex(parsed.toBytes())).toBe(toHex(bytes))
  })

  it('copies its input and hands out copies', () => {
    const input = bytes.slice()
    const key = identity.PublicKey.fromBytes(input)
    input[0] = 0
    const out = key.toBytes()
    out[1] = 0
    expect(toHex(key.toBytes())).toBe(toHex(bytes))
  })

  it('compares by value', () => {
    const a = identity.PublicKey.fromBytes(bytes)
    expect(a.equals(identity.PublicKey.fromBytes(bytes))).toBe(true)
    expect(a.equals(identity.PublicKey.fromBytes(fromHex(rfc8032[1]!.public)))).toBe(false)
  })

  it('refuses wrong lengths, off-curve and small-order points as INVALID', () => {
    for (const length of [0, 31, 33, 64]) {
      expect(decodeError(() => identity.PublicKey.fromBytes(new Uint8Array(length))).code).toBe(
        'INVALID',
      )
    }
    const invalid = [
      // Small order: the identity, y = 0 (order 4), the point of order 2, two of order 8.
      '0000000000000000000000000000000000000000000000000000000000000000',
      '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
      '0100000000000000000000000000000000000000000000000000000000000000',
      'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
      // y = p + 1, a non-canonical encoding.
      'eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
      // y = 2: not on the curve.
      '0200000000000000000000000000000000000000000000000000000000000000',
    ]
    for (const hex of invalid) {
      expect(decodeError(() => identity.PublicKey.fromBytes(fromHex(hex))).code, hex).toBe(
        'INVALID',
      )
    }
    expect(() => identity.PublicKey.fromBytes('x' as unknown as Uint8Array)).toThrow(TypeError)
  })

  it('refuses text that is not exactly the canonical form', () => {
    const text = identity.PublicKey.fromBytes(bytes).toString()
    const cases: [string, string][] = [
      [text.toUpperCase(), 'INVALID'],
      [text.slice(0, 51), 'INVALID'],
      [text + 'a', 'INVALID'],
      [text.slice(0, 51) + '=', 'INVALID'],
      [` ${text.slice(1)}`, 'INVALID'],
      ['', 'INVALID'],
    ]
    // The last character carries 4 unused bits: setting one is NON_CANONICAL.
    const last = 'abcdefghijklmnopqrstuvwxyz234567'.indexOf(text[51]!)
    cases.push([text.slice(0, 51) + 'abcdefghijklmnopqrstuvwxyz234567'[last ^ 1]!, 'NON_CANONICAL'])
    for (const [bad, code] of cases) {
      expect(decodeError(() => identity.PublicKey.fromString(bad)).code, bad).toBe(code)
    }
    expect(() => identity.PublicKey.fromString(5 as unknown as string)).toThrow(TypeError)
  })

  it('gives only DecodeError for seeded garbage bytes and text', () => {
    const prng = new Prng(0xed25519)
    let valid = 0
    for (let i = 0; i < 300; i++) {
      const garbage = prng.bytes(prng.int(8) === 0 ? prng.int(40) : 32)
      for (const attempt of [
        () => identity.PublicKey.fromBytes(garbage),
        () => identity.PublicKey.fromString(base32Encode(garbage)),
        () => identity.PublicKey.fromString(String.fromCharCode(...garbage)),
      ]) {
        try {
          attempt()
          valid++
        } catch (e) {
          expect(e).toBeInstanceOf(DecodeError)
        }
      }
    }
    // About half of all 32-byte strings are points.
    expect(valid).toBeGreaterThan(100)
  })
})

describe('SecretKey', () => {
  const seed = fromHex(rfc8032[0]!.secret)

  it('fromBytes copies the seed and toBytes hands out a copy', async () => {
    const input = seed.slice()
    const secret = await identity.SecretKey.fromBytes(input)
    input.fill(0)
    const out = secret.toBytes()
    expect(toHex(out)).toBe(toHex(seed))
    out.fill(0)
    expect(toHex(secret.toBytes())).toBe(toHex(seed))
  })

  it('refuses a seed that is not 32 bytes', async () => {
    await expect(identity.SecretKey.fromBytes(new Uint8Array(31))).rejects.toThrow(RangeError)
    await expect(identity.SecretKey.fromBytes(new Uint8Array(64))).rejects.toThrow(RangeError)
    await expect(identity.SecretKey.fromBytes([] as unknown as Uint8Array)).rejects.toThrow(
      TypeError,
    )
  })

  it('never serializes its seed', async () => {
    const secret = await identity.SecretKey.fromBytes(seed)
    const json = JSON.stringify({ secret })
    expect(json).toBe(`{"secret":"${secret.publicKey.toString()}"}`)
    expect(Object.prototype.toString.call(secret)).toBe('[object SecretKey]')
    expect(Object.values(secret).some((v) => v instanceof Uint8Array)).toBe(false)
  })

  it('a non-extractable key signs and verifies, and refuses toBytes', async () => {
    const secret = await identity.SecretKey.generateNonExtractable()
    expect(secret.extractable).toBe(false)
    expect(secret.cryptoKeyPair?.privateKey.extractable).toBe(false)
    const message = utf8('hello')
    const signature = await secret.sign('test/1', message)
    expect(await secret.publicKey.verify('test/1', message, signature)).toBe(true)
    let error: unknown
    try {
      secret.toBytes()
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(FerryError)
    expect((error as FerryError).code).toBe('NOT_EXTRACTABLE')

    // A key pair stored (say in IndexedDB) and loaded again is the same identity.
    const again = await identity.SecretKey.fromCryptoKeyPair(secret.cryptoKeyPair!)
    expect(again.publicKey.equals(secret.publicKey)).toBe(true)
    expect(toHex(await again.sign('test/1', message))).toBe(toHex(signature))
  })

  it('reads the seed of an extractable key pair', async () => {
    const pair = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify'])
    const secret = await identity.SecretKey.fromCryptoKeyPair(pair)
    expect(secret.extractable).toBe(true)
    const fromSeed = await identity.SecretKey.fromBytes(secret.toBytes())
    expect(fromSeed.publicKey.equals(secret.publicKey)).toBe(true)
    const message = utf8('same bytes either way')
    expect(toHex(await fromSeed.sign('test/1', message))).toBe(
      toHex(await secret.sign('test/1', message)),
    )
  })

  it('refuses key pairs that are not Ed25519 or whose halves do not match', async () => {
    const a = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    const b = await crypto.subtle.generateKey({ name: 'Ed25519' }, false, ['sign', 'verify'])
    await expect(
      identity.SecretKey.fromCryptoKeyPair({ privateKey: a.privateKey, publicKey: b.publicKey }),
    ).rejects.toThrow(TypeError)
    const ecdsa = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, false, [
      'sign',
      'verify',
    ])
    await expect(identity.SecretKey.fromCryptoKeyPair(ecdsa)).rejects.toThrow(TypeError)
    await expect(
      identity.SecretKey.fromCryptoKeyPair({ privateKey: a.publicKey, publicKey: a.publicKey }),
    ).rejects.toThrow(TypeError)
  })

  it('generateNonExtractable() throws UNSUPPORTED where WebCrypto lacks Ed25519', async () => {
    vi.spyOn(crypto.subtle, 'generateKey').mockRejectedValue(
      new DOMException('Unrecognized name.', 'NotSupportedError'),
    )
    const error: unknown = await identity.SecretKey.generateNonExtractable().catch(
      (e: unknown) => e,
    )
    expect(error).toBeInstanceOf(FerryError)
    expect((error as FerryError).code).toBe('UNSUPPORTED')
  })
})
