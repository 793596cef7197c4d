/**
 * The wire format of `ferry-relay/1`, the protocol between an endpoint and its relay. The
 * prose, with the reasons, is in PROTOCOL.md, "The relay protocol".
 *
 * A client holds one WebTransport session to its relay, with the subprotocol
 * `ferry-relay/1`. Every stream on it starts with a header; every datagram with a connection
 * id. All integers are QUIC varints in their shortest form unless said otherwise.
 *
 *     header = kind u8 | fields
 *       kind 0  CONTROL                              client's first bidi stream, and only it
 *       kind 1  CONNECT  conn | peer (32 bytes) | offer
 *               client → relay: dial `peer` (the target); relay → client: `peer` (the
 *               source) dials you. The stream is the virtual connection's first, bidi.
 *       kind 2  STREAM   conn                     any further stream of connection `conn`
 *     offer  = count u8 (1 to 16) | count × (length u8 (1 to 255) | ALPN bytes)
 *
 *     datagram = conn | payload
 *
 * Connection ids (`conn`, below 2^53) name a virtual connection within one session. The
 * client numbers the connections it dials with even ids, the relay the ones it delivers with
 * odd ids, so the two never collide. A header is at most {@link maxHeaderBytes} bytes.
 *
 * The control stream carries messages framed as `length | message` (`framed`, at most
 * {@link maxControlMessageBytes} bytes), each `type u8 | body`:
 *
 *     1 CHALLENGE  relay → client, first   version u8 (1) | relay id (32) | nonce (32)
 *     2 AUTH       client → relay, first   endpoint id (32) | signature (64) | token (rest,
 *                                          UTF-8, ≤ 256 bytes; empty: none)
 *     3 READY      relay → client          (empty): the client is registered, and receives the
 *                                          connections made to its id (again, after STANDBY)
 *     4 CLOSE      both ways               conn | code | reason (rest, UTF-8, ≤ 1024 bytes)
 *     5 GOAWAY     relay → client          code | reason: the relay is going away; reconnect
 *     6 PUBLISH    client → relay          record (rest, ≤ 4000 bytes): a signed address record
 *     7 RESOLVE    client → relay          request | endpoint id (32)
 *     8 RESOLVED   relay → client          request | record (rest; empty: none is known)
 *     9 PING       client → relay          (empty): the client is alive (every 15 s)
 *    10 STANDBY    relay → client          (empty): a newer session registered the same id and
 *                                          receives its connections; this one keeps its own
 *
 * The AUTH signature is the endpoint's Ed25519 signature, under the context
 * {@link authContext}, of `nonce | relay id` from the CHALLENGE of this very session.
 */
import { DecodeError } from '../errors.js'
import { PublicKey } from '../identity.js'
import { ByteReader, ByteWriter } from '../codec/varint.js'

/** The WebTransport subprotocol (ALPN) of a session to a relay. */
export const relayAlpn = 'ferry-relay/1'
/** The version byte of the CHALLENGE. */
export const relayVersion = 1
/** The signing context of the AUTH signature. */
export const authContext = 'ferry/relay/1/auth'
/** The longest stream header. */
export const maxHeaderBytes = 1024
/** The longest control message (its type byte included). */
export const maxControlMessageBytes = 4096
/** The longest close or goaway reason, in bytes of UTF-8. */
export const maxReasonBytes = 1024
/** The longest access token in an AUTH, in bytes of UTF-8. */
export const maxTokenBytes = 256
/** The longest address record. */
export const maxRecordBytes = 4000
/** ALPNs in one offer, and bytes in one ALPN. */
export const offerLimits = { maxAlpns: 16, maxAlpnBytes: 255 } as const
/** Bytes of a nonce in a CHALLENGE. */
export const nonceBytes = 32
/** The largest connection id (so ids stay JavaScript numbers). */
export const maxConn = Number.MAX_SAFE_INTEGER

/**
 * The codes a relay closes a virtual connection with (in CLOSE) or a client's session with
 * (the WebTransport close code), each saying why. They sit in ferry's reserved range.
 */
export const RelayCode = {
  /** The target has no session on this relay. */
  OFFLINE: 0xffff_ff21,
  /** Access control refuses this client, or this client the target. */
  ACCESS_DENIED: 0xffff_ff22,
  /** The AUTH signature does not verify, or came late or malformed. */
  AUTH_FAILED: 0xffff_ff23,
  /** Too many sessions: in all, from the client's address, or of its EndpointId. */
  TOO_MANY_SESSIONS: 0xffff_ff24,
  /** Too many virtual connections for this client. */
  TOO_MANY_CONNECTIONS: 0xffff_ff25,
  /** Too many streams for this client. */
  TOO_MANY_STREAMS: 0xffff_ff26,
  /** A stream header above the limit, or one that took too long to arrive. */
  HEADER_TOO_LARGE: 0xffff_ff27,
  /** The client's byte or session rate is above its quota. */
  RATE_LIMITED: 0xffff_ff28,
  /** The session carried nothing for the idle timeout. */
  IDLE_TIMEOUT: 0xffff_ff29,
  /** The relay does not carry any of the offered ALPNs. */
  ALPN_NOT_ALLOWED: 0xffff_ff2a,
  /** Reserved: a newer session of an EndpointId now puts the older on STANDBY instead. */
  REPLACED: 0xffff_ff2b,
  /** The relay is shutting down; reconnect (to it or another). */
  SHUTTING_DOWN: 0xffff_ff2c,
  /** The client broke the relay protocol. */
  PROTOCOL_ERROR: 0xffff_ff2d,
  /** The other end's session to the relay ended. */
  PEER_GONE: 0xffff_ff2e,
} as const

/** The name of each {@link RelayCode}. */
export type RelayCodeName = keyof typeof RelayCode

/** The name of relay code `code`, or `undefined` for a code that is not a relay's. */
export function relayCodeName(code: number): RelayCodeName | undefined {
  for (const [name, value] of Object.entries(RelayCode)) {
    if (value === code) return name as RelayCodeName
  }
  return undefined
}

/** A stream header. */
export type StreamHeader =
  | { kind: 'control' }
  | { kind: 'connect'; conn: number; peer: PublicKey; offer: string[] }
  | { kind: 'stream'; conn: number }

/** A control message. */
export type ControlMessage =
  | { type: 'challenge'; version: number; relayId: PublicKey; nonce: Uint8Array }
  | { type: 'auth'; id: PublicKey; signature: Uint8Array; token?: string }
  | { type: 'ready' }
  | { type: 'close'; conn: number; code: number; reason: string }
  | { type: 'goaway'; code: number; reason: string }
  | { type: 'publish'; record: Uint8Array }
  | { type: 'resolve'; request: number; id: PublicKey }
  | { type: 'resolved'; request: number; record: Uint8Array }
  | { type: 'ping' }
  | { type: 'standby' }

const headerKinds = { control: 0, connect: 1, stream: 2 } as const
const messageTypes = {
  challenge: 1,
  auth: 2,
  ready: 3,
  close: 4,
  goaway: 5,
  publish: 6,
  resolve: 7,
  resolved: 8,
  ping: 9,
  standby: 10,
} as const
const typeNames = Object.fromEntries(
  Object.entries(messageTypes).map(([name, type]) => [type, name]),
) as Record<number, ControlMessage['type']>

const utf8 = new TextEncoder()
const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })

function checkConn(conn: number): void {
  if (!Number.isSafeInteger(conn) || conn < 0) {
    throw new RangeError(`conn: expected an integer in [0, 2^53), got ${conn}`)
  }
}

function checkCode(code: number): void {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff_ffff) {
    throw new RangeError(`code: expected an integer in [0, 2^32), got ${code}`)
  }
}

function reasonBytes(reason: string): Uint8Array {
  const bytes = utf8.encode(reason)
  if (bytes.length > maxReasonBytes) {
    throw new RangeError(`reason: ${bytes.length} bytes of UTF-8, above ${maxReasonBytes}`)
  }
  return bytes
}

function writeOffer(writer: ByteWriter, offer: readonly string[]): void {
  if (offer.length < 1 || offer.length > offerLimits.maxAlpns) {
    throw new RangeError(`offer: 1 to ${offerLimits.maxAlpns} ALPNs, got ${offer.length}`)
  }
  writer.u8(offer.length)
  for (const alpn of offer) {
    const bytes = utf8.encode(alpn)
    if (bytes.length < 1 || bytes.length > offerLimits.maxAlpnBytes) {
      throw new RangeError(`offer: an ALPN of ${bytes.length} bytes (1 to 255)`)
    }
    writer.u8(bytes.length).bytes(bytes)
  }
}

function readOffer(reader: ByteReader): string[] {
  const count = reader.u8()
  if (count < 1 || count > offerLimits.maxAlpns) {
    throw new DecodeError('INVALID', `an offer of ${count} ALPNs (1 to ${offerLimits.maxAlpns})`)
  }
  const offer: string[] = []
  for (let i = 0; i < count; i++) {
    const length = reader.u8()
    if (length < 1) throw new DecodeError('INVALID', 'an empty ALPN in an offer')
    offer.push(decodeUtf8(reader.bytes(length), 'an ALPN'))
  }
  return offer
}

function decodeUtf8(bytes: Uint8Array, what: string): string {
  try {
    return strictUtf8.decode(bytes)
  } catch (cause) {
    throw new DecodeError('INVALID', `${what} that is not UTF-8`, { cause })
  }
}

function readKey(reader: ByteReader, what: string): PublicKey {
  try {
    return PublicKey.fromBytes(reader.bytes(32))
  } catch (cause) {
    if (cause instanceof DecodeError && cause.code === 'TRUNCATED') throw cause
    throw new DecodeError('INVALID', `${what} that is not an Ed25519 public key`, { cause })
  }
}

/**
 * The bytes of a stream header.
 * @throws {RangeError} for a connection id, offer or ALPN out of range, or a header above
 *   {@link maxHeaderBytes}.
 */
export function encodeHeader(header: StreamHeader): Uint8Array {
  const writer = new ByteWriter(64)
  writer.u8(headerKinds[header.kind])
  if (header.kind === 'connect') {
    checkConn(header.conn)
    writer.varint(header.conn).bytes(header.peer.toBytes())
    writeOffer(writer, header.offer)
  } else if (header.kind === 'stream') {
    checkConn(header.conn)
    writer.varint(header.conn)
  }
  if (writer.length > maxHeaderBytes) {
    throw new RangeError(`the header is ${writer.length} bytes, above ${maxHeaderBytes}`)
  }
  return writer.finish()
}

/**
 * Reads a stream header from the start of `bytes`: the header, and how many bytes it took;
 * or `undefined` when `bytes` holds only the beginning of one (read more and try again).
 *
 * @throws {DecodeError} `INVALID` (an unknown kind, a bad offer or key), `NON_CANONICAL`
 *   (a varint not in its shortest form), `TOO_LARGE` (more than {@link maxHeaderBytes}
 *   bytes would be needed).
 */
export function decodeHeader(
  bytes: Uint8Array,
): { header: StreamHeader; length: number } | undefined {
  const reader = new ByteReader(bytes.subarray(0, maxHeaderBytes))
  try {
    const kind = reader.u8()
    let header: StreamHeader
    if (kind === headerKinds.control) header = { kind: 'control' }
    else if (kind === headerKinds.connect) {
      const conn = reader.varint()
      const peer = readKey(reader, 'a peer')
      header = { kind: 'connect', conn, peer, offer: readOffer(reader) }
    } else if (kind === headerKinds.stream) header = { kind: 'stream', conn: reader.varint() }
    else throw new DecodeError('INVALID', `an unknown stream kind ${kind}`)
    return { header, length: reader.offset }
  } catch (error) {
    if (error instanceof DecodeError && error.code === 'TRUNCATED') {
      if (bytes.length >= maxHeaderBytes) {
        throw new DecodeError('TOO_LARGE', `a stream header above ${maxHeaderBytes} bytes`)
      }
      return undefined
    }
    throw error
  }
}

/**
 * The bytes of a control message (without its length prefix).
 * @throws {RangeError} for a field out of range (see the module comment).
 */
export function encodeControl(message: ControlMessage): Uint8Array {
  const writer = new ByteWriter(128)
  writer.u8(messageTypes[message.type])
  switch (message.type) {
    case 'challenge':
      if (message.nonce.length !== nonceBytes) throw new RangeError('nonce: expected 32 bytes')
      writer.u8(message.version).bytes(message.relayId.toBytes()).bytes(message.nonce)
      break
    case 'auth':
      if (message.signature.length !== 64) throw new RangeError('signature: expected 64 bytes')
      writer.bytes(message.id.toBytes()).bytes(message.signature)
      {
        const token = utf8.encode(message.token ?? '')
        if (token.length > maxTokenBytes) throw new RangeError('token: above 256 bytes of UTF-8')
        writer.bytes(token)
      }
      break
    case 'ready':
    case 'ping':
    case 'standby':
      break
    case 'close':
      checkConn(message.conn)
      checkCode(message.code)
      writer.varint(message.conn).varint(message.code).bytes(reasonBytes(message.reason))
      break
    case 'goaway':
      checkCode(message.code)
      writer.varint(message.code).bytes(reasonBytes(message.reason))
      break
    case 'publish':
      if (message.record.length > maxRecordBytes) throw new RangeError('record: too large')
      writer.bytes(message.record)
      break
    case 'resolve':
      checkConn(message.request)
      writer.varint(message.request).bytes(message.id.toBytes())
      break
    case 'resolved':
      checkConn(message.request)
      if (message.record.length > maxRecordBytes) throw new RangeError('record: too large')
      writer.varint(message.request).bytes(message.record)
      break
  }
  return writer.finish()
}

/**
 * Reads one control message (without its length prefix).
 *
 * @throws {DecodeError} `TOO_LARGE` (above {@link maxControlMessageBytes}, or a reason or
 *   record above its limit), `TRUNCATED`, `TRAILING_BYTES`, `NON_CANONICAL`, or `INVALID`
 *   (an unknown type, a code above 2^32 - 1, a key that is not a key, a reason that is not
 *   UTF-8).
 */
export function decodeControl(bytes: Uint8Array): ControlMessage {
  if (bytes.length > maxControlMessageBytes) {
    throw new DecodeError('TOO_LARGE', `a control message above ${maxControlMessageBytes} bytes`)
  }
  const reader = new ByteReader(bytes)
  const type = typeNames[reader.u8()]
  const rest = (max: number, what: string): Uint8Array => {
    if (reader.remaining > max) throw new DecodeError('TOO_LARGE', `${what} above ${max} bytes`)
    return reader.bytes(reader.remaining)
  }
  const code = (): number => {
    const value = reader.varint()
    if (value > 0xffff_ffff) throw new DecodeError('INVALID', `a code above 2^32 - 1`)
    return value
  }
  let message: ControlMessage
  switch (type) {
    case 'challenge':
      message = {
        type,
        version: reader.u8(),
        relayId: readKey(reader, 'a relay id'),
        nonce: reader.bytes(nonceBytes).slice(),
      }
      break
    case 'auth':
      message = {
        type,
        id: readKey(reader, 'an endpoint id'),
        signature: reader.bytes(64).slice(),
        token: decodeUtf8(rest(maxTokenBytes, 'a token'), 'a token'),
      }
      break
    case 'ready':
    case 'ping':
    case 'standby':
      message = { type }
      break
    case 'close': {
      const conn = reader.varint()
      const value = code()
      message = {
        type,
        conn,
        code: value,
        reason: decodeUtf8(rest(maxReasonBytes, 'a reason'), 'a reason'),
      }
      break
    }
    case 'goaway': {
      const value = code()
      message = {
        type,
        code: value,
        reason: decodeUtf8(rest(maxReasonBytes, 'a reason'), 'a reason'),
      }
      break
    }
    case 'publish':
      message = { type, record: rest(maxRecordBytes, 'a record').slice() }
      break
    case 'resolve':
      message = { type, request: reader.varint(), id: readKey(reader, 'an endpoint id') }
      break
    case 'resolved': {
      const request = reader.varint()
      message = { type, request, record: rest(maxRecordBytes, 'a record').slice() }
      break
    }
    default:
      throw new DecodeError('INVALID', `an unknown control message type ${bytes[0]}`)
  }
  reader.end()
  return message
}

/** A datagram for connection `conn`: its id, then `payload`. */
export function encodeDatagram(conn: number, payload: Uint8Array): Uint8Array {
  checkConn(conn)
  return new ByteWriter(payload.length + 8).varint(conn).bytes(payload).finish()
}

/**
 * A datagram's connection id and payload (a view of `bytes`).
 * @throws {DecodeError} `TRUNCATED` or `NON_CANONICAL` for a bad connection id.
 */
export function decodeDatagram(bytes: Uint8Array): { conn: number; payload: Uint8Array } {
  const reader = new ByteReader(bytes)
  const conn = reader.varint()
  return { conn, payload: bytes.subarray(reader.offset) }
}

/** The message an AUTH signs: the CHALLENGE's nonce, then the relay's id. */
export function authMessage(nonce: Uint8Array, relayId: PublicKey): Uint8Array {
  const message = new Uint8Array(nonceBytes + 32)
  message.set(nonce)
  message.set(relayId.toBytes(), nonceBytes)
  return message
}
