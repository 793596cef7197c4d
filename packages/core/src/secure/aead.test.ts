import { describe, expect, it } from 'vitest'
import { fromHex, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import type { Aead } from './aead.js'
import { aead as nodeAead } from './aead-node.js'
import { aead as webAead } from './aead-web.js'

const implementations: [string, Aead][] = [
  ['node:crypto', nodeAead],
  ['WebCrypto', webAead],
]

// McGrew & Viega, "The Galois/Counter Mode of Operation", test cases 13 and 14 (AES-256).
const zeroKey = new Uint8Array(32)
const zeroNonce = new Uint8Array(12)
const vectors = [
  { plaintext: '', sealed: '530f8afbc74536b9a963b4f1c4cb738b' },
  {
    plaintext: '00000000000000000000000000000000',
    sealed: 'cea7403d4d606b6e074ec5d3baf39d18d0d1c8a799996bf0265b98b5d48ab919',
  },
]

describe.each(implementations)('AES-256-GCM on %s', (_name, aead) => {
  it('matches the GCM specification vectors', async () => {
    const key = await aead.importKey(zeroKey)
    for (const v of vectors) {
      const sealed = await key.seal(zeroNonce, new Uint8Array(0), fromHex(v.plaintext))
      expect(toHex(sealed)).toBe(v.sealed)
      expect(toHex(await key.unseal(zeroNonce, new Uint8Array(0), sealed))).toBe(v.plaintext)
    }
  })

  it('leaves the headroom asked for in front of the sealed bytes', async () => {
    const key = await aead.importKey(zeroKey)
    const plaintext = fromHex(vectors[1]!.plaintext)
    const sealed = await key.seal(zeroNonce, new Uint8Array(0), plaintext, 4)
    expect(sealed.length).toBe(4 + 32)
    expect(toHex(sealed.subarray(4))).toBe(vectors[1]!.sealed)
  })

  it('derives keys with HKDF-SHA256 (empty salt), as OpenSSL does', async () => {
    // `openssl kdf -keylen 32 -kdfopt digest:SHA256 -kdfopt hexkey:000102…1f -kdfopt hexsalt:
    //  -kdfopt hexinfo:<info> HKDF`, info = "ferry/record/2" | 00 000007 | 0000000000000003.
    const secret = Uint8Array.from({ length: 32 }, (_, i) => i)
    const info = new Uint8Array([...new TextEncoder().encode('ferry/record/2'), 0, 0, 0, 7])
    const infoWithEpoch = new Uint8Array([...info, 0, 0, 0, 0, 0, 0, 0, 3])
    const expected = '00032d95ff853997b1114900b5bef74cb3df3175abb47479d7159d638dd1e079'
    const derived = await (await aead.importSecret(secret)).deriveKey(infoWithEpoch)
    const reference = await aead.importKey(fromHex(expected))
    const plaintext = new Prng(3).bytes(100)
    const sealed = await derived.seal(zeroNonce, new Uint8Array(0), plaintext)
    expect(toHex(sealed)).toBe(toHex(await reference.seal(zeroNonce, new Uint8Array(0), plaintext)))
    // Another info, another key.
    const other = await (await aead.importSecret(secret)).deriveKey(info)
    await expect(other.unseal(zeroNonce, new Uint8Array(0), sealed)).rejects.toBeInstanceOf(Error)
  })

  it('refuses secrets and keys that are not 32 bytes', async () => {
    await expect(aead.importSecret(new Uint8Array(31))).rejects.toBeInstanceOf(TypeError)
    await expect(aead.importKey(new Uint8Array(33))).rejects.toBeInstanceOf(TypeError)
  })

  it('unseals what the other implementation sealed, and refuses any change', async () => {
    const prng = new Prng(7)
    const raw = prng.bytes(32)
    const ours = await aead.importKey(raw)
    for (const [, other] of implementations) {
      const theirs = await other.importKey(raw)
      for (const size of [0, 1, 100, 70_000]) {
        const nonce = prng.bytes(12)
        const ad = prng.bytes(4)
        const plaintext = prng.bytes(size)
        const sealed = await theirs.seal(nonce, ad, plaintext)
        expect(toHex(await ours.unseal(nonce, ad, sealed))).toBe(toHex(plaintext))
        const flipped = sealed.slice()
        flipped[prng.int(flipped.length)]! ^= 1
        await expect(ours.unseal(nonce, ad, flipped)).rejects.toBeInstanceOf(Error)
        await expect(ours.unseal(nonce, prng.bytes(4), sealed)).rejects.toBeInstanceOf(Error)
      }
    }
    await expect(
      ours.unseal(zeroNonce, new Uint8Array(0), new Uint8Array(5)),
    ).rejects.toBeInstanceOf(Error)
  })
})
