/**
 * Ed25519 identities (RFC 8032). An endpoint is named by its public key; it proves who it is by
 * signing with the secret key.
 *
 * Every signature an identity key makes is domain-separated: it covers
 * `"ferry sig v1" ‖ u8 context length ‖ context ‖ message` (see {@link signatureInput}), never a
 * caller's bytes alone. Contexts starting with `ferry/` are ferry's own (the handshake signs under
 * them) and {@link SecretKey.sign} refuses them, so no application that signs what a caller hands
 * it can be made to sign a handshake statement.
 *
 * WebCrypto's Ed25519 does the work where the platform has it (Node, and current Chrome,
 * Firefox and Safari): measured here it verifies in 0.12 ms against 1.6 ms for
 * `@noble/ed25519`, which is the fallback. Both follow RFC 8032 (noble with `zip215: false`)
 * and sign deterministically, so a signature does not depend on which one made it.
 */
import * as ed from '@noble/ed25519'
import { base32Decode, base32Encode } from './codec/base32.js'
import { DecodeError, FerryError } from './errors.js'
import { concat, equalBytes, fromHex, toHex, utf8 } from './internal/bytes.js'

const keyBytes = 32
const signatureBytes = 64
/** Characters of a public key's text form: ceil(32 * 8 / 5). */
const keyChars = 52
/** The DER header of an RFC 8410 PKCS#8 Ed25519 private key, which the 32-byte seed follows. */
const pkcs8Header = fromHex('302e020100300506032b657004220420')
/** RFC 8032 §7.1 test 1's public key: a valid point to probe WebCrypto with. */
const probeKey = fromHex('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
const ed25519 = { name: 'Ed25519' } as const
/** The first bytes of everything an identity key signs. */
const signaturePrefix = utf8('ferry sig v1')
const maxContextBytes = 255

/** Contexts that start with this are ferry's own statements; {@link SecretKey.sign} refuses them. */
export const reservedContextPrefix = 'ferry/'

/**
 * The exact bytes an identity key signs for `message` under `context`:
 * `"ferry sig v1" ‖ u8 length of the context ‖ UTF-8 context ‖ message`. The length byte fixes
 * where the context ends, so no two (context, message) pairs give the same bytes, and a
 * signature made under one context never verifies under another.
 * @throws {TypeError} if `context` is not a string or `message` not a `Uint8Array`.
 * @throws {RangeError} unless `context` is 1 to 255 bytes of UTF-8.
 */
export function signatureInput(context: string, message: Uint8Array): Uint8Array<ArrayBuffer> {
  if (typeof context !== 'string') throw new TypeError('context must be a string')
  if (!(message instanceof Uint8Array)) throw new TypeError('message must be a Uint8Array')
  const name = utf8(context)
  if (name.length === 0 || name.length > maxContextBytes) {
    throw new RangeError(`context must be 1 to ${maxContextBytes} bytes of UTF-8`)
  }
  return concat(signaturePrefix, Uint8Array.of(name.length), name, message)
}

/**
 * The bare Ed25519 signature of `bytes`, with no context. Only for ferry's own statements,
 * whose bytes come from {@link signatureInput}, and for the RFC 8032 vectors; never exported
 * from the package.
 */
export let _signRaw: (key: SecretKey, bytes: Uint8Array) => Promise<Uint8Array<ArrayBuffer>>

/** The bare Ed25519 check of `signature` over `bytes`: the RFC 8032 vectors need it. */
export let _verifyRaw: (
  key: PublicKey,
  bytes: Uint8Array,
  signature: Uint8Array,
) => Promise<boolean>

let webCryptoSupport: Promise<boolean> | undefined

/**
 * Whether `crypto.subtle` does Ed25519, found once on first use by importing a known key (no
 * platform offers a cheaper test; `NotSupportedError` is the answer where it does not).
 */
function hasWebCryptoEd25519(): Promise<boolean> {
  webCryptoSupport ??= (async () => {
    try {
      await globalThis.crypto.subtle.importKey('raw', probeKey, ed25519, false, ['verify'])
      return true
    } catch {
      return false
    }
  })()
  return webCryptoSupport
}

/** `bytes` as WebCrypto takes them: itself when backed by an `ArrayBuffer`, else a copy. */
function bufferSource(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return bytes.buffer instanceof ArrayBuffer
    ? (bytes as Uint8Array<ArrayBuffer>)
    : new Uint8Array(bytes)
}

/** Bytes from unpadded base64url (a JWK field). */
function fromBase64Url(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/'))
  return Uint8Array.from(binary, (c) => c.charCodeAt(0))
}

/**
 * Keys already validated, newest last: peers reconnect, and validating a point (0.4 ms here)
 * and importing it for WebCrypto cost more than the rest of their handshake's signature check.
 * A PublicKey is immutable, so one object may serve every caller.
 */
const validatedKeys = new Map<string, PublicKey>()
const validatedKeyLimit = 1024

/**
 * An Ed25519 public key: an endpoint's id. Immutable; compare with {@link PublicKey.equals}.
 *
 * Only keys of large order are accepted. The 8 small-order points are valid encodings, but no
 * honest key is one, and signatures under them are where verifiers disagree.
 */
export class PublicKey {
  readonly #bytes: Uint8Array<ArrayBuffer>
  #text: string | undefined
  #cryptoKey: Promise<CryptoKey | undefined> | undefined

  private constructor(bytes: Uint8Array<ArrayBuffer>) {
    this.#bytes = bytes
  }

  /**
   * The key whose RFC 8032 encoding is `bytes` (copied).
   * @throws {DecodeError} `INVALID` unless `bytes` is 32 bytes encoding, canonically, a point
   *   of large order on the curve.
   * @throws {TypeError} if `bytes` is not a `Uint8Array`.
   */
  static fromBytes(bytes: Uint8Array): PublicKey {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array')
    if (bytes.length !== keyBytes) {
      throw new DecodeError('INVALID', `a public key is ${keyBytes} bytes, not ${bytes.length}`)
    }
    const known = validatedKeys.get(toHex(bytes))
    if (known) return known
    let smallOrder: boolean
    try {
      // Strict (RFC 8032) decoding: rejects y >= p and the x = 0 encoding with the sign bit set.
      smallOrder = ed.Point.fromBytes(bytes, false).isSmallOrder()
    } catch (e) {
      throw new DecodeError('INVALID', 'not an Ed25519 public key', { cause: e })
    }
    if (smallOrder) throw new DecodeError('INVALID', 'a small-order Ed25519 public key')
    const key = new PublicKey(bytes.slice())
    if (validatedKeys.size >= validatedKeyLimit) {
      validatedKeys.delete(validatedKeys.keys().next().value!)
    }
    validatedKeys.set(toHex(bytes), key)
    return key
  }

  /**
   * The key whose {@link PublicKey.toString} is `text`.
   * @throws {DecodeError} unless `text` is 52 characters of lowercase unpadded base32 that
   *   decode to a valid key (see {@link PublicKey.fromBytes} and `base32Decode`).
   * @throws {TypeError} if `text` is not a string.
   */
  static fromString(text: string): PublicKey {
    if (typeof text !== 'string') throw new TypeError('text must be a string')
    if (text.length !== keyChars) {
      throw new DecodeError('INVALID', `a public key is ${keyChars} characters, not ${text.length}`)
    }
    return PublicKey.fromBytes(base32Decode(text, keyBytes))
  }

  /** The 32-byte encoding, as a new array. */
  toBytes(): Uint8Array<ArrayBuffer> {
    return this.#bytes.slice()
  }

  /** The 52-character lowercase base32 text form, as in tickets and URLs. */
  toString(): string {
    this.#text ??= base32Encode(this.#bytes)
    return this.#text
  }

  /** The text form, so a key inside `JSON.stringify` reads as its id. */
  toJSON(): string {
    return this.toString()
  }

  /** The first 10 characters of the text form: enough to tell keys apart in logs. */
  short(): string {
    return this.toString().slice(0, 10)
  }

  /** Whether `other` is the same key. */
  equals(other: PublicKey): boolean {
    return other instanceof PublicKey && equalBytes(this.#bytes, other.#bytes)
  }

  static {
    _verifyRaw = (key, bytes, signature) => key.#verify(bytes, signature)
  }

  /**
   * Whether `signature` is this key's signature of `message` under `context`, as
   * {@link SecretKey.sign} makes it (RFC 8032 over
   * `"ferry sig v1" ‖ u8 context length ‖ UTF-8 context ‖ message`). Resolves `false`
   * (never rejects) for any signature that does not verify, whatever its length. It checks
   * ferry's own contexts (`ferry/…`) too, which only ferry can sign under.
   *
   * WebCrypto and noble agree on every signature a signer following RFC 8032 can make, and
   * both reject non-canonical `S` and `R`. They may differ on crafted signatures whose `R` has
   * a small-order component (WebCrypto checks the cofactorless equation, noble the cofactored
   * one); a signer can only make those for its own key, so no forgery follows.
   * @throws {TypeError} if `context` is not a string, or `message` or `signature` is not a
   *   `Uint8Array`.
   * @throws {RangeError} unless `context` is 1 to 255 bytes of UTF-8.
   */
  async verify(context: string, message: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (!(signature instanceof Uint8Array)) throw new TypeError('signature must be a Uint8Array')
    return this.#verify(signatureInput(context, message), signature)
  }

  async #verify(bytes: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('message must be a Uint8Array')
    if (!(signature instanceof Uint8Array)) throw new TypeError('signature must be a Uint8Array')
    if (signature.length !== signatureBytes) return false
    const key = await this.#webCryptoKey()
    if (key === undefined) return ed.verifyAsync(signature, bytes, this.#bytes, { zip215: false })
    return crypto.subtle.verify(ed25519, key, bufferSource(signature), bufferSource(bytes))
  }

  /** This key imported into WebCrypto, once; `undefined` where WebCrypto lacks Ed25519. */
  #webCryptoKey(): Promise<CryptoKey | undefined> {
    this.#cryptoKey ??= hasWebCryptoEd25519().then(async (supported) => {
      if (!supported) return undefined
      try {
        return await crypto.subtle.importKey('raw', this.#bytes, ed25519, false, ['verify'])
      } catch {
        // A platform that imports the probe key but not this valid one: noble verifies instead.
        return undefined
      }
    })
    return this.#cryptoKey
  }
}

/** An endpoint is named by its Ed25519 public key; its id is that key. */
export type EndpointId = PublicKey

/**
 * An Ed25519 secret key: an endpoint's identity. Backed either by the 32-byte RFC 8032 seed
 * (extractable, see {@link SecretKey.toBytes}) or by a WebCrypto key pair whose private key
 * may be non-extractable, so script can sign with it but never read it.
 *
 * It never prints its secret: `JSON.stringify` gives the public key's text (see
 * {@link SecretKey.toJSON}), `String()` gives `[object SecretKey]`, and the seed lives in a
 * private field that `console.log` and Node's `util.inspect` do not show.
 */
export class SecretKey {
  /** The matching public key: the endpoint's id. */
  readonly publicKey: PublicKey
  /** Whether {@link SecretKey.toBytes} can return the seed. */
  readonly extractable: boolean
  /**
   * The WebCrypto key pair behind this key, when it was made from one (to store in IndexedDB,
   * which keeps non-extractable keys); `undefined` for a key made from a seed.
   */
  readonly cryptoKeyPair: CryptoKeyPair | undefined
  readonly #seed: Uint8Array<ArrayBuffer> | undefined
  #signingKey: Promise<CryptoKey | undefined> | undefined

  private constructor(
    publicKey: PublicKey,
    seed: Uint8Array<ArrayBuffer> | undefined,
    pair: CryptoKeyPair | undefined,
  ) {
    this.publicKey = publicKey
    this.#seed = seed
    this.extractable = seed !== undefined
    this.cryptoKeyPair = pair
    if (pair) this.#signingKey = Promise.resolve(pair.privateKey)
  }

  static {
    Object.defineProperty(this.prototype, Symbol.toStringTag, { value: 'SecretKey' })
    _signRaw = (key, bytes) => key.#sign(bytes)
  }

  /** A new random key (a seed from `crypto.getRandomValues`). */
  static async generate(): Promise<SecretKey> {
    const seed = crypto.getRandomValues(new Uint8Array(keyBytes))
    try {
      return await SecretKey.fromBytes(seed)
    } finally {
      seed.fill(0)
    }
  }

  /**
   * The key whose RFC 8032 32-byte secret seed is `seed` (copied).
   * @throws {TypeError} if `seed` is not a `Uint8Array`.
   * @throws {RangeError} if `seed` is not 32 bytes.
   */
  static async fromBytes(seed: Uint8Array): Promise<SecretKey> {
    if (!(seed instanceof Uint8Array)) throw new TypeError('seed must be a Uint8Array')
    if (seed.length !== keyBytes) {
      throw new RangeError(`seed must be ${keyBytes} bytes, not ${seed.length}`)
    }
    const copy = seed.slice()
    const publicKey = PublicKey.fromBytes(await ed.getPublicKeyAsync(copy))
    return new SecretKey(publicKey, copy, undefined)
  }

  /**
   * The key held by a WebCrypto Ed25519 key pair, as `generateKey` makes it or IndexedDB gives
   * it back. The private key may be non-extractable; if it is extractable its seed is read once
   * so {@link SecretKey.toBytes} works. Costs one signature, to check the two halves match.
   * @throws {TypeError} if `pair` is not an Ed25519 key pair with a signing private key, or its
   *   halves do not belong together.
   */
  static async fromCryptoKeyPair(pair: CryptoKeyPair): Promise<SecretKey> {
    const { privateKey, publicKey } = pair ?? {}
    if (
      !(privateKey instanceof CryptoKey) ||
      !(publicKey instanceof CryptoKey) ||
      privateKey.type !== 'private' ||
      publicKey.type !== 'public' ||
      privateKey.algorithm.name !== 'Ed25519' ||
      publicKey.algorithm.name !== 'Ed25519' ||
      !privateKey.usages.includes('sign')
    ) {
      throw new TypeError('pair must be an Ed25519 CryptoKeyPair whose private key can sign')
    }
    let id: PublicKey
    try {
      id = PublicKey.fromBytes(new Uint8Array(await crypto.subtle.exportKey('raw', publicKey)))
    } catch (e) {
      throw new TypeError('pair.publicKey is not a valid Ed25519 public key', { cause: e })
    }
    let seed: Uint8Array<ArrayBuffer> | undefined
    if (privateKey.extractable) {
      // JWK rather than PKCS#8: RFC 8037 fixes `d` as the seed, while PKCS#8 may carry extras.
      const { d } = await crypto.subtle.exportKey('jwk', privateKey)
      seed = d === undefined ? undefined : fromBase64Url(d)
      if (seed?.length !== keyBytes) throw new TypeError('pair.privateKey exports no seed')
    }
    const key = new SecretKey(id, seed, pair)
    const probe = signatureInput(`${reservedContextPrefix}key-check`, new Uint8Array(0))
    if (!(await _verifyRaw(id, probe, await key.#sign(probe)))) {
      throw new TypeError('pair.privateKey and pair.publicKey do not belong together')
    }
    return key
  }

  /**
   * A new key whose private half WebCrypto keeps non-extractable; store
   * {@link SecretKey.cryptoKeyPair} in IndexedDB to keep it.
   * @throws {FerryError} `UNSUPPORTED` if the platform's WebCrypto lacks Ed25519.
   */
  static async generateNonExtractable(): Promise<SecretKey> {
    let pair: CryptoKeyPair
    try {
      pair = await globalThis.crypto.subtle.generateKey(ed25519, false, ['sign', 'verify'])
    } catch (e) {
      throw new FerryError('UNSUPPORTED', 'this platform has no WebCrypto Ed25519', { cause: e })
    }
    return SecretKey.fromCryptoKeyPair(pair)
  }

  /**
   * This key's signature of `message` under `context`: the RFC 8032 signature (64 bytes,
   * deterministic) of `"ferry sig v1" ‖ u8 context length ‖ UTF-8 context ‖ message`, never of
   * `message` alone, so a signature made for one purpose is worthless for any other. Name the purpose in `context`
   * (say `'example.com/invite/1'`); check with {@link PublicKey.verify} and the same context.
   * @throws {TypeError} if `context` is not a string or `message` not a `Uint8Array`.
   * @throws {RangeError} unless `context` is 1 to 255 bytes of UTF-8, or if it starts with
   *   `ferry/`: those are ferry's own statements (the handshake's), which no caller may make.
   */
  async sign(context: string, message: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (typeof context === 'string' && context.startsWith(reservedContextPrefix)) {
      throw new RangeError(`context: "${reservedContextPrefix}…" contexts are reserved for ferry`)
    }
    return this.#sign(signatureInput(context, message))
  }

  async #sign(bytes: Uint8Array): Promise<Uint8Array<ArrayBuffer>> {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('message must be a Uint8Array')
    const key = await this.#webCryptoKey()
    if (key !== undefined) {
      return new Uint8Array(await crypto.subtle.sign(ed25519, key, bufferSource(bytes)))
    }
    // Only a seed-backed key gets here: a key pair always has its CryptoKey.
    return new Uint8Array(await ed.signAsync(bytes, this.#seed!))
  }

  /** The private key in WebCrypto, once; `undefined` where WebCrypto lacks Ed25519. */
  #webCryptoKey(): Promise<CryptoKey | undefined> {
    this.#signingKey ??= hasWebCryptoEd25519().then(async (supported) => {
      if (!supported) return undefined
      const pkcs8 = new Uint8Array(pkcs8Header.length + keyBytes)
      pkcs8.set(pkcs8Header)
      pkcs8.set(this.#seed!, pkcs8Header.length)
      try {
        return await crypto.subtle.importKey('pkcs8', pkcs8, ed25519, false, ['sign'])
      } catch {
        // A platform that verifies but cannot import PKCS#8: noble signs instead.
        return undefined
      } finally {
        pkcs8.fill(0)
      }
    })
    return this.#signingKey
  }

  /**
   * The 32-byte secret seed, as a new array. Handle with care: it is the identity.
   * @throws {FerryError} `NOT_EXTRACTABLE` if the key lives in a non-extractable CryptoKey.
   */
  toBytes(): Uint8Array<ArrayBuffer> {
    if (this.#seed === undefined) {
      throw new FerryError('NOT_EXTRACTABLE', 'this secret key is a non-extractable CryptoKey')
    }
    return this.#seed.slice()
  }

  /**
   * The public key's text, so that a secret key caught up in `JSON.stringify` (a config, a
   * log line) names the endpoint instead of leaking the seed or serializing as `{}`.
   */
  toJSON(): string {
    return this.publicKey.toString()
  }
}
