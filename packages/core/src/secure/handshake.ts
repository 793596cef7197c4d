/**
 * ferry's connection handshake (version 2): Noise XX on the connection's first bidirectional
 * stream, whose payloads carry each side's Ed25519 identity, the ALPN offer and choice, and the
 * certificate hash the acceptor serves. Each identity signs the Noise transcript hash of this
 * very handshake, as TLS 1.3's CertificateVerify does, together with its Noise static key and
 * the rest of its payload: a signature is worth nothing in any other handshake, so no one who
 * once got the identity key to sign something can reuse it. The wire format is in the
 * package's PROTOCOL.md.
 *
 * ```
 * dialer                                            acceptor
 *   msg1  e                   [version, ALPN offer]        ->
 *   <-    msg2  e, ee, s, es  [identity, sig(h2), ALPN, certificate hash]
 *   msg3  s, se               [identity, sig(h3), flags]   ->
 * ```
 *
 * `h2` and `h3` are the handshake hash just before the payload of message 2 and 3, which the
 * writer has in hand while it writes the payload: the signatures cost no round trip.
 */
import { ByteReader, ByteWriter } from '../codec/varint.js'
import { FramedReader, FramedWriter } from '../codec/framed.js'
import { DecodeError, HandshakeError } from '../errors.js'
import { _signRaw, PublicKey, type SecretKey, signatureInput } from '../identity.js'
import { equalBytes, utf8 } from '../internal/bytes.js'
import type { BidiStream } from '../session.js'
import { type DhKeyPair, generateDhKeyPair, NoiseXX } from './noise.js'

/**
 * The handshake version this code speaks (the first byte of message 1's payload). Version 1
 * signed only the static key, once per process; it is refused with `UNSUPPORTED_VERSION`.
 */
export const handshakeVersion = 2

/** Hard limits of the handshake; a peer beyond them fails with `MALFORMED`. */
export const handshakeLimits = {
  /** Largest handshake message, Noise overhead included. */
  maxMessageBytes: 4096,
  /** ALPNs in one offer. */
  maxAlpns: 16,
  /** Bytes of one ALPN (TLS allows 255). */
  maxAlpnBytes: 255,
} as const

const prologue = utf8(`ferry/handshake/${handshakeVersion}`)

/** Which end of the handshake: the dialer is Noise's initiator, the acceptor its responder. */
export type HandshakeRole = 'dialer' | 'acceptor'

/**
 * The signature context of each role (see `signatureInput` in identity.ts). They start with
 * `ferry/`, which `SecretKey.sign` refuses, so no application can be made to sign one.
 */
export const handshakeSignatureContexts = {
  dialer: `ferry/handshake/${handshakeVersion}/dialer`,
  acceptor: `ferry/handshake/${handshakeVersion}/acceptor`,
} as const satisfies Record<HandshakeRole, string>

const sha256Bytes = 32
const flagBound = 0x01

/**
 * An endpoint's side of every handshake: its secret key and a Noise static key made for this
 * process. It signs once per handshake, over that handshake's transcript; no signature is kept.
 */
export class LocalIdentity {
  private spareEphemeral: Promise<DhKeyPair> | undefined

  private constructor(
    /** The endpoint's long-term identity. */
    readonly secretKey: SecretKey,
    /** The X25519 key the Noise handshake authenticates; fresh per process. */
    readonly staticKey: DhKeyPair,
  ) {}

  /** Makes a fresh Noise static key for `secretKey` (or takes `staticKey`, for test vectors). */
  static async create(secretKey: SecretKey, staticKey?: DhKeyPair): Promise<LocalIdentity> {
    return new LocalIdentity(secretKey, staticKey ?? (await generateDhKeyPair()))
  }

  /**
   * A fresh Noise ephemeral key, made ahead of time: each call returns the key made at the
   * previous one and starts the next, so no handshake waits for key generation.
   */
  ephemeralKey(): Promise<DhKeyPair> {
    const key = this.spareEphemeral ?? generateDhKeyPair()
    const spare = generateDhKeyPair()
    // A failure surfaces when the spare is used; until then it is not unhandled.
    spare.catch(() => {})
    this.spareEphemeral = spare
    return key
  }

  /** The endpoint's id. */
  get id(): PublicKey {
    return this.secretKey.publicKey
  }

  /**
   * This identity's signature of its `statement` in one handshake (built by
   * `acceptorStatement` or `dialerStatement`, and starting with that handshake's transcript
   * hash), under the role's context in {@link handshakeSignatureContexts}. One per handshake:
   * the transcript differs every time, so there is nothing to cache.
   */
  sign(role: HandshakeRole, statement: Uint8Array): Promise<Uint8Array> {
    return _signRaw(this.secretKey, signatureInput(handshakeSignatureContexts[role], statement))
  }
}

/** What both ends know once the handshake succeeded. */
export interface HandshakeResult {
  /** The peer's authenticated identity. */
  remoteId: PublicKey
  /** The ALPN both ends confirmed inside the handshake. */
  alpn: string
  /**
   * `false` when TLS is bound to the acceptor's identity (the dialer pinned the certificate the
   * acceptor signed), so streams carry application bytes as they are; `true` otherwise, and
   * every stream and datagram is encrypted end to end with {@link HandshakeResult.keys}.
   */
  encrypted: boolean
  /** Directional keys from Noise's Split(): what this side sends with, and receives with. */
  keys: { send: Uint8Array; receive: Uint8Array }
  /** Noise's handshake hash, a unique name for this connection. */
  handshakeHash: Uint8Array
}

/** Options of {@link dialHandshake}. */
export interface DialHandshakeOptions {
  identity: LocalIdentity
  /** ALPNs in preference order. */
  alpns: string[]
  /** The endpoint the dialer means to reach; any other fails with `WRONG_ENDPOINT`. */
  expectedId?: PublicKey
  /** The subprotocol the transport negotiated, where the platform tells; must match the ALPN. */
  transportProtocol?: string
  /**
   * SHA-256 of the certificate the transport verified for this very connection, when the dialer
   * knows it (a Node client, or a browser that pinned exactly one hash). Only then can TLS be
   * bound to the acceptor's identity.
   */
  tlsCertHash?: Uint8Array
  /** Encrypt end to end even when TLS could be bound (the acceptor follows the dialer's word). */
  encrypt?: boolean
  /** A fixed Noise ephemeral key: for test vectors only (a fresh one otherwise). */
  ephemeralKey?: DhKeyPair
}

/** Options of {@link acceptHandshake}. */
export interface AcceptHandshakeOptions {
  identity: LocalIdentity
  /** ALPNs this endpoint serves. */
  alpns: ReadonlySet<string>
  /** The ALPN the transport already chose from the dialer's unauthenticated offer. */
  transportProtocol?: string
  /** SHA-256 of the certificate this endpoint served the connection with, if any. */
  certHash?: Uint8Array
  /** A fixed Noise ephemeral key: for test vectors only (a fresh one otherwise). */
  ephemeralKey?: DhKeyPair
}

/**
 * Runs the dialer's side on `stream` (the connection's first bidirectional stream) and closes
 * the stream's writable side when done.
 * @throws {HandshakeError} on any failure; the caller closes the connection.
 */
export async function dialHandshake(
  stream: BidiStream,
  options: DialHandshakeOptions,
): Promise<HandshakeResult> {
  validateOffer(options.alpns)
  const { identity } = options
  const io = new MessageIo(stream)
  try {
    const noise = await NoiseXX.initiator({
      staticKey: identity.staticKey,
      prologue,
      ephemeralKey: options.ephemeralKey ?? (await identity.ephemeralKey()),
    })
    await io.write(await noise.writeMessage(encodeOffer(options.alpns)))
    const answer = decodeAnswer(await noise.readMessage(await io.read()))
    const signed = acceptorStatement(
      noise.payloadHash,
      noise.remoteStaticKey!,
      answer.alpn,
      answer.certHash,
    )
    const context = handshakeSignatureContexts.acceptor
    if (!(await answer.identity.verify(context, signed, answer.signature))) {
      throw new HandshakeError('BAD_SIGNATURE', 'the acceptor signature does not verify')
    }
    // Checked before message 3, so an impostor never learns who dialed it.
    if (options.expectedId && !options.expectedId.equals(answer.identity)) {
      throw new HandshakeError(
        'WRONG_ENDPOINT',
        `dialed ${options.expectedId.short()} but reached ${answer.identity.short()}`,
      )
    }
    if (!options.alpns.includes(answer.alpn)) {
      throw new HandshakeError('ALPN_MISMATCH', `the acceptor chose ${answer.alpn}, not offered`)
    }
    if (options.transportProtocol && options.transportProtocol !== answer.alpn) {
      throw new HandshakeError(
        'ALPN_MISMATCH',
        `the transport negotiated ${options.transportProtocol} but the handshake ${answer.alpn}`,
      )
    }
    const { tlsCertHash } = options
    if (tlsCertHash && answer.certHash && !equalBytes(tlsCertHash, answer.certHash)) {
      throw new HandshakeError(
        'CERT_HASH_MISMATCH',
        'TLS verified another certificate than the one the acceptor signed',
      )
    }
    const bound = !options.encrypt && tlsCertHash !== undefined && answer.certHash !== undefined
    const flags = bound ? flagBound : 0
    const message3 = await noise.writeMessage(async (hash) => {
      const statement = dialerStatement(hash, identity.staticKey.publicKey, flags)
      return encodeProof(identity.id, await identity.sign('dialer', statement), flags)
    })
    await io.write(message3)
    io.finish()
    io.release()
    return result(noise, 'dialer', answer.identity, answer.alpn, bound)
  } catch (e) {
    io.abort(e)
    throw asHandshakeError(e)
  }
}

/**
 * Runs the acceptor's side on the connection's first bidirectional stream.
 * @throws {HandshakeError} on any failure; the caller closes the connection.
 */
export async function acceptHandshake(
  stream: BidiStream,
  options: AcceptHandshakeOptions,
): Promise<HandshakeResult> {
  const { identity, certHash } = options
  if (certHash && certHash.length !== sha256Bytes) {
    throw new RangeError('certHash must be a 32-byte SHA-256 digest')
  }
  const io = new MessageIo(stream)
  try {
    const noise = await NoiseXX.responder({
      staticKey: identity.staticKey,
      prologue,
      ephemeralKey: options.ephemeralKey ?? (await identity.ephemeralKey()),
    })
    const offer = decodeOffer(await noise.readMessage(await io.read()))
    const alpn = offer.find((a) => options.alpns.has(a))
    if (alpn === undefined) {
      throw new HandshakeError('ALPN_MISMATCH', `none of the offered ALPNs is served`)
    }
    // The transport chose from an offer nothing authenticated; the handshake's offer is
    // authenticated by the transcript, so a changed offer (a downgrade) shows up here.
    if (options.transportProtocol !== undefined && options.transportProtocol !== alpn) {
      throw new HandshakeError(
        'ALPN_MISMATCH',
        `the transport negotiated ${options.transportProtocol} but the handshake offer picks ${alpn}`,
      )
    }
    const message2 = await noise.writeMessage(async (hash) => {
      const statement = acceptorStatement(hash, identity.staticKey.publicKey, alpn, certHash)
      return encodeAnswer(identity.id, await identity.sign('acceptor', statement), alpn, certHash)
    })
    await io.write(message2)
    io.finish()
    const proof = decodeProof(await noise.readMessage(await io.read()))
    const signed = dialerStatement(noise.payloadHash, noise.remoteStaticKey!, proof.flags)
    const context = handshakeSignatureContexts.dialer
    if (!(await proof.identity.verify(context, signed, proof.signature))) {
      throw new HandshakeError('BAD_SIGNATURE', 'the dialer signature does not verify')
    }
    const bound = (proof.flags & flagBound) !== 0
    if (bound && !certHash) {
      throw new HandshakeError('MALFORMED', 'the dialer claims a certificate binding never offered')
    }
    io.release()
    return result(noise, 'acceptor', proof.identity, alpn, bound)
  } catch (e) {
    io.abort(e)
    throw asHandshakeError(e)
  }
}

/** What a finished handshake gives `role`: the peer, the ALPN, the mode and this side's keys. */
function result(
  noise: NoiseXX,
  role: 'dialer' | 'acceptor',
  remoteId: PublicKey,
  alpn: string,
  bound: boolean,
): HandshakeResult {
  const { initiatorToResponder, responderToInitiator } = noise.split()
  const dialer = role === 'dialer'
  return {
    remoteId,
    alpn,
    encrypted: !bound,
    keys: {
      send: dialer ? initiatorToResponder : responderToInitiator,
      receive: dialer ? responderToInitiator : initiatorToResponder,
    },
    handshakeHash: noise.handshakeHash,
  }
}

/**
 * What the acceptor signs in message 2: the handshake hash before that payload (both
 * ephemerals, the offer, its encrypted static key), its Noise static key, and the rest of its
 * answer, the ALPN and the certificate hash encoded as in the answer.
 */
function acceptorStatement(
  handshakeHash: Uint8Array,
  staticKey: Uint8Array,
  alpn: string,
  certHash: Uint8Array | undefined,
): Uint8Array {
  const w = new ByteWriter()
  w.bytes(handshakeHash)
  w.bytes(staticKey)
  w.string(alpn)
  w.lengthPrefixed(certHash ?? new Uint8Array(0))
  return w.finish()
}

/**
 * What the dialer signs in message 3: the handshake hash before that payload (all of message 2,
 * the acceptor's signature included, and its own encrypted static key), its Noise static key,
 * and its flags.
 */
function dialerStatement(
  handshakeHash: Uint8Array,
  staticKey: Uint8Array,
  flags: number,
): Uint8Array {
  const w = new ByteWriter()
  w.bytes(handshakeHash)
  w.bytes(staticKey)
  w.u8(flags)
  return w.finish()
}

function validateOffer(alpns: string[]): void {
  if (alpns.length === 0) throw new RangeError('alpns must name at least one ALPN')
  if (alpns.length > handshakeLimits.maxAlpns) {
    throw new RangeError(`alpns may name at most ${handshakeLimits.maxAlpns} ALPNs`)
  }
  for (const alpn of alpns) {
    const n = utf8(alpn).length
    if (n === 0 || n > handshakeLimits.maxAlpnBytes) {
      throw new RangeError(`alpns: each ALPN must be 1 to ${handshakeLimits.maxAlpnBytes} bytes`)
    }
  }
}

function encodeOffer(alpns: string[]): Uint8Array {
  const w = new ByteWriter()
  w.u8(handshakeVersion)
  w.varint(alpns.length)
  for (const alpn of alpns) w.string(alpn)
  return w.finish()
}

function decodeOffer(payload: Uint8Array): string[] {
  return decodePayload(payload, (r) => {
    const version = r.u8()
    if (version !== handshakeVersion) {
      throw new HandshakeError(
        'UNSUPPORTED_VERSION',
        `the dialer speaks handshake version ${version}; this endpoint speaks version ${handshakeVersion}`,
      )
    }
    const count = r.varint()
    if (count === 0 || count > handshakeLimits.maxAlpns) {
      throw new HandshakeError('MALFORMED', `an offer of ${count} ALPNs`)
    }
    const alpns: string[] = []
    for (let i = 0; i < count; i++) {
      const alpn = r.string(handshakeLimits.maxAlpnBytes)
      if (alpn.length === 0) throw new HandshakeError('MALFORMED', 'an empty ALPN')
      alpns.push(alpn)
    }
    return alpns
  })
}

interface Answer {
  identity: PublicKey
  signature: Uint8Array
  alpn: string
  certHash: Uint8Array | undefined
}

function encodeAnswer(
  id: PublicKey,
  signature: Uint8Array,
  alpn: string,
  certHash: Uint8Array | undefined,
): Uint8Array {
  const w = new ByteWriter()
  w.bytes(id.toBytes())
  w.bytes(signature)
  w.string(alpn)
  w.lengthPrefixed(certHash ?? new Uint8Array(0))
  return w.finish()
}

function decodeAnswer(payload: Uint8Array): Answer {
  return decodePayload(payload, (r) => {
    const identity = PublicKey.fromBytes(r.bytes(32))
    const signature = r.bytes(64).slice()
    const alpn = r.string(handshakeLimits.maxAlpnBytes)
    const hash = r.lengthPrefixed(sha256Bytes)
    if (hash.length !== 0 && hash.length !== sha256Bytes) {
      throw new HandshakeError('MALFORMED', 'a certificate hash that is not SHA-256')
    }
    return { identity, signature, alpn, certHash: hash.length ? hash.slice() : undefined }
  })
}

function encodeProof(id: PublicKey, signature: Uint8Array, flags: number): Uint8Array {
  const w = new ByteWriter()
  w.bytes(id.toBytes())
  w.bytes(signature)
  w.u8(flags)
  return w.finish()
}

function decodeProof(payload: Uint8Array): {
  identity: PublicKey
  signature: Uint8Array
  flags: number
} {
  return decodePayload(payload, (r) => {
    const identity = PublicKey.fromBytes(r.bytes(32))
    const signature = r.bytes(64).slice()
    const flags = r.u8()
    if ((flags & ~flagBound) !== 0) throw new HandshakeError('MALFORMED', 'unknown flags')
    return { identity, signature, flags }
  })
}

/** Decodes a whole payload; a DecodeError becomes `MALFORMED`, leftover bytes too. */
function decodePayload<T>(payload: Uint8Array, decode: (r: ByteReader) => T): T {
  try {
    const r = new ByteReader(payload)
    const value = decode(r)
    r.end()
    return value
  } catch (e) {
    if (e instanceof DecodeError) {
      throw new HandshakeError('MALFORMED', `a handshake payload: ${e.message}`, { cause: e })
    }
    throw e
  }
}

function asHandshakeError(e: unknown): HandshakeError {
  if (e instanceof HandshakeError) return e
  if (e instanceof DecodeError) {
    return new HandshakeError(e.code === 'TRUNCATED' ? 'TRUNCATED' : 'MALFORMED', e.message, {
      cause: e,
    })
  }
  return new HandshakeError('TRUNCATED', 'the handshake stream failed', { cause: e })
}

/** Handshake messages on the stream: each a varint length and the Noise message. */
class MessageIo {
  private readonly reader: FramedReader
  private readonly writer: FramedWriter

  constructor(stream: BidiStream) {
    const limits = { maxMessageBytes: handshakeLimits.maxMessageBytes }
    this.reader = new FramedReader(stream.readable, limits)
    this.writer = new FramedWriter(stream.writable, limits)
  }

  async read(): Promise<Uint8Array> {
    let message: Uint8Array | undefined
    try {
      message = await this.reader.read()
    } catch (e) {
      // The peer's reset, or a framing error; never an error object the peer made.
      if (e instanceof DecodeError) throw asHandshakeError(e)
      throw new HandshakeError('TRUNCATED', 'the handshake stream failed', { cause: e })
    }
    if (message === undefined) {
      throw new HandshakeError('TRUNCATED', 'the peer ended the handshake stream early')
    }
    return message
  }

  write(message: Uint8Array): Promise<void> {
    return this.writer.write(message)
  }

  /**
   * Ends this side's writing once what was written has gone. Not awaited: a peer that has read
   * its last message may stop reading (STOP_SENDING) before our FIN is acknowledged, and that
   * must not fail a handshake whose messages all arrived.
   */
  finish(): void {
    this.writer.close().catch(() => {})
  }

  /**
   * Done reading: the peer's side should end now. Reading that end (rather than cancelling,
   * which sends STOP_SENDING and can fail the peer's close) leaves the stream to finish
   * cleanly; anything else the peer sends is refused.
   */
  release(): void {
    this.reader.read().then(
      (extra) => {
        if (extra !== undefined) this.reader.cancel().catch(() => {})
      },
      () => {},
    )
  }

  abort(reason: unknown): void {
    this.writer.abort(reason).catch(() => {})
    this.reader.cancel(reason).catch(() => {})
  }
}
