/**
 * The chat's messages, carried as gossip broadcasts. Every statement is signed by its author's
 * endpoint key and bound to one room, so a peer that forwards it cannot change it, claim it, or
 * replay it in another room. Decoding is strict and bounded; anything that does not decode or
 * verify is dropped by the room.
 *
 * ```
 * broadcast:   tag u8 = 1, envelope                        one signed statement
 *              tag u8 = 2, count varint (1–16), count × (varint length, envelope)
 *                                                           history offered to a newcomer
 * envelope:    author 32 bytes ‖ signature 64 bytes ‖ body
 * body:        kind u8 ‖ room 32 bytes ‖ time varint (ms since 1970) ‖ nonce 8 bytes ‖ fields
 *   kind 1, message:   text (varint length ≤ 2000, UTF-8)
 *   kind 2, presence:  nickname (varint length ≤ 64, UTF-8) ‖ flags u8 (1 typing, 2 leaving)
 * signature:   Ed25519 by `author` under the context `ferry-chat/1` over `body`
 * ```
 */
import { ByteReader, ByteWriter, DecodeError, PublicKey, type SecretKey } from '@ferry/core'
import { equalBytes } from '@ferry/wire'

/** Hard limits of the chat's statements. */
export const chatLimits = Object.freeze({
  /** UTF-8 bytes of one message. */
  maxTextBytes: 2000,
  /** UTF-8 bytes of a nickname. */
  maxNicknameBytes: 64,
  /** Envelopes in one history broadcast. */
  maxHistory: 16,
})

const signatureContext = 'ferry-chat/1'
const tagStatement = 1
const tagHistory = 2
const kindMessage = 1
const kindPresence = 2
const flagTyping = 1
const flagLeaving = 2

/** A signed statement's content. */
export type Statement = MessageStatement | PresenceStatement

/** A chat message. */
export interface MessageStatement {
  /** The statement's kind. */
  kind: 'message'
  /** The message (at most 2000 bytes of UTF-8). */
  text: string
}

/** Who is here: sent on joining, every presence interval, on typing, and on leaving. */
export interface PresenceStatement {
  /** The statement's kind. */
  kind: 'presence'
  /** The author's nickname (at most 64 bytes of UTF-8). */
  nickname: string
  /** Whether the author is typing. */
  typing: boolean
  /** Whether the author is leaving the room. */
  leaving: boolean
}

/** A statement as received: verified, with its author and time. */
export type Signed = Statement & {
  /** Who signed it. */
  author: PublicKey
  /** Milliseconds since 1970, by the author's clock. */
  time: number
  /** The envelope's bytes, to pass on as history. */
  envelope: Uint8Array
  /** A stable id: hex of the signature, unique per envelope. */
  id: string
}

/** Signs `statement` for `room` and encodes it as a broadcast. */
export async function signStatement(
  key: SecretKey,
  room: Uint8Array,
  statement: Statement,
  time = Date.now(),
): Promise<Uint8Array<ArrayBuffer>> {
  const body = new ByteWriter(64)
  body.u8(statement.kind === 'message' ? kindMessage : kindPresence).bytes(room)
  body.varint(time)
  body.bytes(crypto.getRandomValues(new Uint8Array(8)))
  if (statement.kind === 'message') {
    body.string(checkText(statement.text, chatLimits.maxTextBytes, 'a message'))
  } else {
    body.string(checkText(statement.nickname, chatLimits.maxNicknameBytes, 'a nickname'))
    body.u8((statement.typing ? flagTyping : 0) | (statement.leaving ? flagLeaving : 0))
  }
  const bodyBytes = body.finish()
  const signature = await key.sign(signatureContext, bodyBytes)
  return new ByteWriter(1 + 96 + bodyBytes.length)
    .u8(tagStatement)
    .bytes(key.publicKey.toBytes())
    .bytes(signature)
    .bytes(bodyBytes)
    .finish()
}

/** A history broadcast of up to `chatLimits.maxHistory` (16) envelopes. */
export function encodeHistory(envelopes: Uint8Array[]): Uint8Array<ArrayBuffer> {
  if (envelopes.length === 0 || envelopes.length > chatLimits.maxHistory) {
    throw new RangeError(`history carries 1 to ${chatLimits.maxHistory} envelopes`)
  }
  const w = new ByteWriter(256).u8(tagHistory).varint(envelopes.length)
  for (const e of envelopes) w.lengthPrefixed(e)
  return w.finish()
}

/**
 * Decodes a broadcast into its envelopes (one, or a history's), unverified.
 * @throws {DecodeError} for anything that is not a well-formed broadcast.
 */
export function decodeBroadcast(bytes: Uint8Array): Uint8Array[] {
  const r = new ByteReader(bytes)
  const tag = r.u8()
  if (tag === tagStatement) return [bytes.subarray(1)]
  if (tag !== tagHistory) throw new DecodeError('UNKNOWN_VERSION', `a chat broadcast of tag ${tag}`)
  const count = r.varint()
  if (count === 0 || count > chatLimits.maxHistory) {
    throw new DecodeError('TOO_LARGE', `a history of ${count} envelopes`)
  }
  const envelopes: Uint8Array[] = []
  for (let i = 0; i < count; i++) envelopes.push(r.lengthPrefixed(bytes.length))
  r.end()
  return envelopes
}

/**
 * Decodes and verifies one envelope for `room`.
 * @returns the statement, or `undefined` when its signature does not verify or it belongs to
 *   another room.
 * @throws {DecodeError} for an envelope that does not decode.
 */
export async function openEnvelope(
  envelope: Uint8Array,
  room: Uint8Array,
): Promise<Signed | undefined> {
  const r = new ByteReader(envelope)
  const author = PublicKey.fromBytes(r.bytes(32))
  const signature = r.bytes(64)
  const body = envelope.subarray(r.offset)
  const kind = r.u8()
  const bodyRoom = r.bytes(32)
  const time = r.varint()
  r.bytes(8)
  let statement: Statement
  if (kind === kindMessage) {
    statement = { kind: 'message', text: r.string(chatLimits.maxTextBytes) }
  } else if (kind === kindPresence) {
    const nickname = r.string(chatLimits.maxNicknameBytes)
    const flags = r.u8()
    if (flags > 3) throw new DecodeError('INVALID', `presence flags ${flags}`)
    statement = {
      kind: 'presence',
      nickname,
      typing: (flags & flagTyping) !== 0,
      leaving: (flags & flagLeaving) !== 0,
    }
  } else {
    throw new DecodeError('UNKNOWN_VERSION', `a chat statement of kind ${kind}`)
  }
  r.end()
  if (!equalBytes(bodyRoom, room)) return undefined
  if (!(await author.verify(signatureContext, body, signature))) return undefined
  const id = [...signature.subarray(0, 16)].map((b) => b.toString(16).padStart(2, '0')).join('')
  return { ...statement, author, time, envelope: Uint8Array.from(envelope), id }
}

function checkText(text: string, maxBytes: number, what: string): string {
  if (typeof text !== 'string') throw new TypeError(`${what} must be a string`)
  if (new TextEncoder().encode(text).length > maxBytes) {
    throw new RangeError(`${what} is at most ${maxBytes} bytes of UTF-8`)
  }
  return text
}
