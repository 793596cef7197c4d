/**
 * Noise_XX_25519_AESGCM_SHA256 (The Noise Protocol Framework, revision 34). X25519 runs on
 * `crypto.subtle` (0.2 ms against 1.3 ms in JS here); AES-256-GCM, SHA-256 and the HMAC-based
 * HKDF run in JS (`@noble/ciphers`, `@noble/hashes`), because on a handshake's few hundred
 * bytes a WebCrypto call is all dispatch and a handshake would make dozens of them.
 *
 *     XX:
 *       -> e
 *       <- e, ee, s, es
 *       -> s, se
 *
 * Each message is the concatenation of its tokens and the (encrypted) payload; framing is the
 * caller's job. Sizes with AES-GCM's 16-byte tag: message 1 is 32 + payload bytes (the payload
 * is in the clear: no key yet), message 2 is 32 + 48 + payload + 16, message 3 is 48 + payload
 * + 16, and no message may exceed {@link maxNoiseMessageBytes}.
 *
 * A payload may depend on the transcript so far: {@link NoiseXX.writeMessage} takes a function of
 * the handshake hash at the point where the payload is encrypted (after the message's tokens),
 * and {@link NoiseXX.payloadHash} gives the reader that same hash, so a signature made over it
 * inside the payload can be checked against the reader's transcript (ferry's handshake signs
 * its identity statements this way).
 *
 * The AEAD nonce is 32 zero bits followed by the 64-bit counter `n`, big-endian (spec §12.3);
 * the handshake only ever uses n = 0 and 1 per key. After the third message `split()` hands
 * out the two transport keys; this module has no transport CipherState of its own (the record
 * layer in `record-layer.ts` uses the keys with its own nonces).
 *
 * Everything a peer sends is checked before it is used, and failures are typed:
 * {@link HandshakeError} `MALFORMED` (wrong length, a public key WebCrypto refuses, a DH result
 * of all zeros) or `DECRYPT_FAILED` (an AEAD tag that does not verify). No `DOMException` from
 * WebCrypto escapes on network input.
 */
import { x25519 } from '#x25519'
import { gcm } from '@noble/ciphers/aes.js'
import { hmac as nobleHmac } from '@noble/hashes/hmac.js'
import { sha256 as nobleSha256 } from '@noble/hashes/sha2.js'
import { HandshakeError } from '../errors.js'
import type { PeerKey } from './x25519.js'
import { concat, fromHex } from '../internal/bytes.js'

/** The largest Noise message, in bytes (spec §3). */
export const maxNoiseMessageBytes = 65535

const protocolName = 'Noise_XX_25519_AESGCM_SHA256'
const dhLength = 32
const hashLength = 32
const tagLength = 16
/** DER header of a PKCS#8 X25519 private key; the 32-byte scalar follows it (RFC 8410). */
const pkcs8Prefix = fromHex('302e020100300506032b656e04220420')
/** The X25519 base point u = 9: X25519(k, 9) is the public key of k. */
const basePoint = Uint8Array.of(9, ...new Uint8Array(31))

/** An X25519 key pair: the raw 32-byte public key and a non-extractable private key. */
export interface DhKeyPair {
  /** The raw 32-byte X25519 public key (RFC 7748 encoding). */
  publicKey: Uint8Array
  /** The private key, usable for `deriveBits` only. */
  privateKey: CryptoKey
}

/**
 * A fresh X25519 key pair from the platform's CSPRNG. The private key is not extractable.
 *
 * @throws a `DOMException` ('NotSupportedError') where the platform has no X25519.
 */
export async function generateDhKeyPair(): Promise<DhKeyPair> {
  const pair = (await crypto.subtle.generateKey({ name: 'X25519' }, false, [
    'deriveBits',
  ])) as CryptoKeyPair
  const publicKey = new Uint8Array(await crypto.subtle.exportKey('raw', pair.publicKey))
  return { publicKey, privateKey: pair.privateKey }
}

/**
 * The X25519 key pair for a known 32-byte secret scalar (RFC 7748; clamping happens inside
 * X25519). Meant for test vectors and for keys kept in storage; the private key is imported
 * as PKCS#8 and is not extractable.
 *
 * @throws TypeError if `secret` is not 32 bytes.
 */
export async function dhKeyPairFromSecret(secret: Uint8Array): Promise<DhKeyPair> {
  if (!(secret instanceof Uint8Array) || secret.length !== dhLength) {
    throw new TypeError(`secret: expected ${dhLength} bytes`)
  }
  const privateKey = await crypto.subtle.importKey(
    'pkcs8',
    concat(pkcs8Prefix, secret),
    { name: 'X25519' },
    false,
    ['deriveBits'],
  )
  // WebCrypto cannot export the public half of an imported private key without making it
  // extractable; one DH with the base point computes it instead.
  const base = await crypto.subtle.importKey('raw', basePoint, { name: 'X25519' }, true, [])
  const publicKey = new Uint8Array(
    await crypto.subtle.deriveBits({ name: 'X25519', public: base }, privateKey, 256),
  )
  return { publicKey, privateKey }
}

/** Options for {@link NoiseXX.initiator} and {@link NoiseXX.responder}. */
export interface NoiseXXOptions {
  /** Our long-term X25519 key pair; the peer learns its public key in the handshake. */
  staticKey: DhKeyPair
  /** Bytes both sides must agree on (mixed into the handshake hash); may be empty. */
  prologue: Uint8Array
  /** The ephemeral key pair (fresh, used once); default: one made now. Test vectors fix it. */
  ephemeralKey?: DhKeyPair
}

/** The two transport keys from Noise `Split()`. */
export interface NoiseSplit {
  /** The key the initiator encrypts with and the responder decrypts with. */
  initiatorToResponder: Uint8Array
  /** The key the responder encrypts with and the initiator decrypts with. */
  responderToInitiator: Uint8Array
}

/**
 * A payload made from the handshake hash `h` at the point where it is encrypted: the transcript
 * of everything before it, this message's tokens included.
 */
export type PayloadOf = (handshakeHash: Uint8Array) => Uint8Array | Promise<Uint8Array>

/** A copy of `bytes` as a `BufferSource` WebCrypto accepts (an `ArrayBuffer`-backed view). */
function own(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return new Uint8Array(bytes)
}

// SHA-256 and HMAC run in JS (@noble/hashes), not WebCrypto: on these tiny inputs a WebCrypto
// call is all dispatch (~0.1 ms each here), and a handshake makes dozens of them.
async function sha256(data: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
  return Promise.resolve(own(nobleSha256(data)))
}

async function hmac(
  key: Uint8Array<ArrayBuffer>,
  data: Uint8Array<ArrayBuffer>,
): Promise<Uint8Array<ArrayBuffer>> {
  return Promise.resolve(own(nobleHmac(nobleSha256, key, data)))
}

/** Noise `HKDF(chaining_key, input_key_material, 2)` (spec §4.3). */
async function hkdf2(
  chainingKey: Uint8Array<ArrayBuffer>,
  inputKeyMaterial: Uint8Array<ArrayBuffer>,
): Promise<[Uint8Array<ArrayBuffer>, Uint8Array<ArrayBuffer>]> {
  const tempKey = await hmac(chainingKey, inputKeyMaterial)
  const output1 = await hmac(tempKey, Uint8Array.of(1))
  const output2 = await hmac(tempKey, concat(output1, Uint8Array.of(2)))
  return [output1, output2]
}

/** The AESGCM nonce of spec §12.3: 32 zero bits, then `n` as a 64-bit big-endian integer. */
function aesGcmNonce(n: number): Uint8Array<ArrayBuffer> {
  const nonce = new Uint8Array(12)
  const view = new DataView(nonce.buffer)
  view.setUint32(4, Math.floor(n / 0x1_0000_0000))
  view.setUint32(8, n >>> 0)
  return nonce
}

/** Imports a peer's raw X25519 public key; WebCrypto's refusal becomes `MALFORMED`. */
async function importPeerKey(raw: Uint8Array<ArrayBuffer>): Promise<PeerKey> {
  try {
    return await x25519.importPeerKey(raw)
  } catch (cause) {
    throw new HandshakeError('MALFORMED', 'the peer sent an invalid X25519 public key', { cause })
  }
}

/**
 * X25519 between our private key and a peer's public key. A low-order peer key gives the
 * all-zero result, which some platforms refuse and others return; both become `MALFORMED`.
 */
async function dh(ours: DhKeyPair, theirs: PeerKey): Promise<Uint8Array<ArrayBuffer>> {
  let shared: Uint8Array<ArrayBuffer>
  try {
    shared = await x25519.deriveShared(ours.privateKey, theirs)
  } catch (cause) {
    throw new HandshakeError('MALFORMED', 'X25519 with the peer key failed (low-order key?)', {
      cause,
    })
  }
  let acc = 0
  for (const b of shared) acc |= b
  if (acc === 0) throw new HandshakeError('MALFORMED', 'X25519 gave all zeros: low-order peer key')
  return shared
}

/** Noise SymmetricState with its CipherState (spec §5.1, §5.2). */
class SymmetricState {
  private key: Uint8Array<ArrayBuffer> | undefined
  private n = 0

  private constructor(
    private ck: Uint8Array<ArrayBuffer>,
    private h: Uint8Array<ArrayBuffer>,
  ) {}

  static async initialize(name: string): Promise<SymmetricState> {
    const bytes = new TextEncoder().encode(name)
    let h: Uint8Array<ArrayBuffer>
    if (bytes.length <= hashLength) {
      h = new Uint8Array(hashLength)
      h.set(bytes)
    } else {
      h = await sha256(bytes)
    }
    return new SymmetricState(new Uint8Array(h), h)
  }

  get handshakeHash(): Uint8Array<ArrayBuffer> {
    return this.h
  }

  async mixHash(data: Uint8Array<ArrayBuffer>): Promise<void> {
    this.h = await sha256(concat(this.h, data))
  }

  async mixKey(inputKeyMaterial: Uint8Array<ArrayBuffer>): Promise<void> {
    const [ck, tempKey] = await hkdf2(this.ck, inputKeyMaterial)
    this.ck = ck
    this.key = tempKey
    this.n = 0
  }

  async encryptAndHash(plaintext: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
    let ciphertext = plaintext
    if (this.key) {
      ciphertext = own(gcm(this.key, aesGcmNonce(this.n), this.h).encrypt(plaintext))
      this.n++
    }
    await this.mixHash(ciphertext)
    return ciphertext
  }

  async decryptAndHash(ciphertext: Uint8Array<ArrayBuffer>): Promise<Uint8Array<ArrayBuffer>> {
    let plaintext = ciphertext
    if (this.key) {
      try {
        plaintext = own(gcm(this.key, aesGcmNonce(this.n), this.h).decrypt(ciphertext))
      } catch (cause) {
        throw new HandshakeError('DECRYPT_FAILED', 'a handshake message did not authenticate', {
          cause,
        })
      }
      this.n++
    }
    await this.mixHash(ciphertext)
    return plaintext
  }

  async split(): Promise<NoiseSplit> {
    const [initiatorToResponder, responderToInitiator] = await hkdf2(this.ck, new Uint8Array(0))
    this.ck.fill(0)
    return { initiatorToResponder, responderToInitiator }
  }
}

/** Where a {@link NoiseXX} is: the index of the next message, or a terminal state. */
type Phase = 0 | 1 | 2 | 'complete' | 'failed'

/**
 * One side of a Noise_XX_25519_AESGCM_SHA256 handshake. Create it with
 * {@link NoiseXX.initiator} or {@link NoiseXX.responder}, then alternate
 * {@link NoiseXX.writeMessage} and {@link NoiseXX.readMessage} as the pattern says (the
 * initiator writes messages 1 and 3, the responder message 2); after the third message
 * {@link NoiseXX.complete} is true and {@link NoiseXX.split} gives the transport keys.
 *
 * A failed message ends the handshake: every later call rejects with a `TypeError`.
 */
export class NoiseXX {
  private phase: Phase = 0
  /** A message is being processed; a second call before it settles is out of turn. */
  private busy = false
  private remoteEphemeral: PeerKey | undefined
  private remoteStatic: PeerKey | undefined
  private remoteStaticBytes: Uint8Array | undefined
  private splitKeys: NoiseSplit | undefined
  private splitTaken = false
  private finalHash: Uint8Array | undefined
  private lastPayloadHash: Uint8Array | undefined

  private constructor(
    private readonly isInitiator: boolean,
    private readonly state: SymmetricState,
    private readonly s: DhKeyPair,
    private readonly e: DhKeyPair,
  ) {}

  /**
   * The initiator's side: it writes the first message.
   *
   * @throws TypeError if a key or the prologue is not well formed.
   */
  static initiator(options: NoiseXXOptions): Promise<NoiseXX> {
    return NoiseXX.create(true, options)
  }

  /**
   * The responder's side: it reads the first message.
   *
   * @throws TypeError if a key or the prologue is not well formed.
   */
  static responder(options: NoiseXXOptions): Promise<NoiseXX> {
    return NoiseXX.create(false, options)
  }

  private static async create(isInitiator: boolean, options: NoiseXXOptions): Promise<NoiseXX> {
    const { staticKey, prologue, ephemeralKey } = options
    checkKeyPair(staticKey, 'staticKey')
    if (ephemeralKey !== undefined) checkKeyPair(ephemeralKey, 'ephemeralKey')
    if (!(prologue instanceof Uint8Array)) throw new TypeError('prologue: expected a Uint8Array')
    const state = await SymmetricState.initialize(protocolName)
    await state.mixHash(own(prologue))
    const e = ephemeralKey ?? (await generateDhKeyPair())
    return new NoiseXX(isInitiator, state, staticKey, e)
  }

  /** Whether all three messages have been processed. */
  get complete(): boolean {
    return this.phase === 'complete'
  }

  /** The peer's static public key (a copy), once its message carrying it has authenticated. */
  get remoteStaticKey(): Uint8Array | undefined {
    return this.remoteStaticBytes?.slice()
  }

  /**
   * The final handshake hash `h` (a copy): a transcript hash both sides share, for channel
   * binding.
   *
   * @throws TypeError before the handshake is complete.
   */
  get handshakeHash(): Uint8Array {
    if (!this.finalHash) throw new TypeError('NoiseXX.handshakeHash: the handshake is not complete')
    return this.finalHash.slice()
  }

  /**
   * The handshake hash `h` under which the payload of the last message (written or read) was
   * encrypted and authenticated, as a copy: the transcript up to that payload, that message's
   * tokens included. It is the hash a {@link PayloadOf} got for that message, so the reader
   * checks a signature inside the payload against the same bytes the writer signed.
   *
   * @throws TypeError before the first message.
   */
  get payloadHash(): Uint8Array {
    if (!this.lastPayloadHash) throw new TypeError('NoiseXX.payloadHash: no message yet')
    return this.lastPayloadHash.slice()
  }

  /**
   * The two transport keys of Noise `Split()`. It hands them out once, and wipes its copy, so
   * that no two record layers can ever encrypt under the same key and nonces.
   *
   * @throws TypeError before the handshake is complete, or when called a second time.
   */
  split(): NoiseSplit {
    if (!this.splitKeys) throw new TypeError('NoiseXX.split: the handshake is not complete')
    if (this.splitTaken) throw new TypeError('NoiseXX.split: the keys were already taken')
    this.splitTaken = true
    const { initiatorToResponder, responderToInitiator } = this.splitKeys
    const out = {
      initiatorToResponder: initiatorToResponder.slice(),
      responderToInitiator: responderToInitiator.slice(),
    }
    initiatorToResponder.fill(0)
    responderToInitiator.fill(0)
    return out
  }

  /**
   * Writes our next handshake message, carrying `payload` (in the clear in message 1,
   * encrypted in messages 2 and 3). The returned bytes are a new array. A function is called,
   * once, with the handshake hash at the point where the payload gets encrypted (see
   * {@link PayloadOf}), and its result is the payload.
   *
   * @throws TypeError if it is not our turn (or a call is still running), the handshake is
   *   over, or `payload` is neither a Uint8Array nor a function returning one.
   * @throws RangeError if the message would exceed {@link maxNoiseMessageBytes}.
   * @throws HandshakeError `MALFORMED` if a DH with the peer's key gives the all-zero result.
   * Whatever a payload function throws ends the handshake and rejects with it.
   */
  async writeMessage(payload: Uint8Array | PayloadOf): Promise<Uint8Array> {
    if (!(payload instanceof Uint8Array) && typeof payload !== 'function') {
      throw new TypeError('payload: expected a Uint8Array or a function')
    }
    const phase = this.enter('writeMessage', true)
    const overhead =
      phase === 0 ? dhLength : phase === 1 ? dhLength + 48 + tagLength : 48 + tagLength
    const checkSize = (length: number): void => {
      if (overhead + length > maxNoiseMessageBytes) {
        throw new RangeError(
          `payload: ${length} bytes; at most ${maxNoiseMessageBytes - overhead} fit message ${phase + 1}`,
        )
      }
    }
    // Copied now: the caller may reuse its buffer while we await.
    let plaintext: Uint8Array<ArrayBuffer> | undefined
    if (payload instanceof Uint8Array) {
      try {
        checkSize(payload.length)
      } catch (e) {
        this.busy = false
        throw e
      }
      plaintext = own(payload)
    }
    return this.run(async () => {
      const st = this.state
      const parts: Uint8Array[] = []
      if (phase === 0) {
        // -> e
        parts.push(this.e.publicKey)
        await st.mixHash(own(this.e.publicKey))
      } else if (phase === 1) {
        // <- e, ee, s, es
        parts.push(this.e.publicKey)
        await st.mixHash(own(this.e.publicKey))
        await st.mixKey(await dh(this.e, this.need(this.remoteEphemeral)))
        parts.push(await st.encryptAndHash(own(this.s.publicKey)))
        await st.mixKey(await dh(this.s, this.need(this.remoteEphemeral)))
      } else {
        // -> s, se
        parts.push(await st.encryptAndHash(own(this.s.publicKey)))
        await st.mixKey(await dh(this.s, this.need(this.remoteEphemeral)))
      }
      this.lastPayloadHash = st.handshakeHash.slice()
      if (plaintext === undefined) {
        const made = await (payload as PayloadOf)(this.lastPayloadHash.slice())
        if (!(made instanceof Uint8Array)) {
          throw new TypeError('payload: the function must return a Uint8Array')
        }
        checkSize(made.length)
        plaintext = own(made)
      }
      parts.push(await st.encryptAndHash(plaintext))
      await this.advance(phase)
      return concat(...parts)
    })
  }

  /**
   * Reads the peer's next handshake message and returns its payload (a new array).
   *
   * @throws TypeError if it is our turn to write (or a call is still running), the handshake
   *   is over, or `message` is not a Uint8Array.
   * @throws HandshakeError `MALFORMED` if the message is too short or too long for its
   *   tokens, holds a key WebCrypto refuses, or a DH gives the all-zero result;
   *   `DECRYPT_FAILED` if it does not authenticate (tampered, replayed or from another
   *   handshake).
   */
  async readMessage(message: Uint8Array): Promise<Uint8Array> {
    if (!(message instanceof Uint8Array)) throw new TypeError('message: expected a Uint8Array')
    const phase = this.enter('readMessage', false)
    return this.run(async () => {
      const minimum =
        phase === 0 ? dhLength : phase === 1 ? dhLength + 48 + tagLength : 48 + tagLength
      if (message.length < minimum || message.length > maxNoiseMessageBytes) {
        throw new HandshakeError(
          'MALFORMED',
          `handshake message ${phase + 1} is ${message.length} bytes; expected ${minimum} to ${maxNoiseMessageBytes}`,
        )
      }
      // Copied before the first await: the caller may reuse its buffer while we work.
      const bytes = own(message)
      const st = this.state
      let offset = 0
      let rs: Uint8Array<ArrayBuffer> | undefined
      if (phase === 0) {
        // -> e
        const re = bytes.slice(0, dhLength)
        offset = dhLength
        this.remoteEphemeral = await importPeerKey(re)
        await st.mixHash(re)
      } else if (phase === 1) {
        // <- e, ee, s, es
        const re = bytes.slice(0, dhLength)
        offset = dhLength
        this.remoteEphemeral = await importPeerKey(re)
        await st.mixHash(re)
        await st.mixKey(await dh(this.e, this.remoteEphemeral))
        rs = await st.decryptAndHash(bytes.slice(offset, offset + 48))
        offset += 48
        this.remoteStatic = await importPeerKey(rs)
        await st.mixKey(await dh(this.e, this.remoteStatic))
      } else {
        // -> s, se
        rs = await st.decryptAndHash(bytes.slice(0, 48))
        offset = 48
        this.remoteStatic = await importPeerKey(rs)
        await st.mixKey(await dh(this.e, this.remoteStatic))
      }
      const payloadHash = st.handshakeHash.slice()
      const payload = await st.decryptAndHash(bytes.slice(offset))
      this.lastPayloadHash = payloadHash
      // The peer's static key counts only once the whole message has authenticated.
      if (rs) this.remoteStaticBytes = rs
      await this.advance(phase)
      return payload
    })
  }

  /** Checks that a write (or read) is due now and claims the turn. */
  private enter(method: string, writing: boolean): 0 | 1 | 2 {
    const phase = this.phase
    if (phase === 'complete') throw new TypeError(`NoiseXX.${method}: the handshake is complete`)
    if (phase === 'failed') throw new TypeError(`NoiseXX.${method}: the handshake failed`)
    if (this.busy) throw new TypeError(`NoiseXX.${method}: a previous call has not settled`)
    // The initiator writes messages 1 and 3 (phases 0 and 2), the responder message 2.
    const ourTurn = (phase === 1) !== this.isInitiator
    if (ourTurn !== writing) {
      throw new TypeError(
        `NoiseXX.${method}: it is the ${writing ? 'peer' : 'caller'}'s turn to write`,
      )
    }
    this.busy = true
    return phase
  }

  /** Runs one message; any failure ends the handshake. */
  private async run<T>(body: () => Promise<T>): Promise<T> {
    try {
      return await body()
    } catch (error) {
      this.phase = 'failed'
      throw error
    } finally {
      this.busy = false
    }
  }

  private async advance(phase: 0 | 1 | 2): Promise<void> {
    if (phase < 2) {
      this.phase = (phase + 1) as 1 | 2
      return
    }
    this.splitKeys = await this.state.split()
    this.finalHash = this.state.handshakeHash.slice()
    this.phase = 'complete'
  }

  private need(key: PeerKey | undefined): PeerKey {
    // Unreachable: the turn order guarantees the key was read. Kept as a loud check.
    if (!key) throw new Error('NoiseXX: internal error: peer key missing')
    return key
  }
}

function checkKeyPair(pair: DhKeyPair | undefined, name: string): void {
  if (
    !pair ||
    !(pair.publicKey instanceof Uint8Array) ||
    pair.publicKey.length !== dhLength ||
    !(pair.privateKey instanceof CryptoKey)
  ) {
    throw new TypeError(`${name}: expected { publicKey: 32 bytes, privateKey: CryptoKey }`)
  }
}
