/**
 * The Capsule Protocol (RFC 9297 §3.2) as WebTransport uses it on a session's CONNECT stream:
 * the stream's DATA payload is a sequence of capsules.
 *
 * ```
 * Capsule {
 *   Capsule Type (i),
 *   Capsule Length (i),
 *   Capsule Value (..),
 * }
 * ```
 */

import { readVarint, varintLength, writeVarint } from '@ferry/wire'
import { H3, Http3Error } from '../errors.js'
import { ByteQueue } from '../h3/byte-queue.js'
import { h3Varint } from '../h3/varint.js'

/** Capsule types of draft-ietf-webtrans-http3 (§5). */
export const CapsuleType = {
  /** WT_CLOSE_SESSION: a 32-bit application error code and a UTF-8 reason. */
  CLOSE_WEBTRANSPORT_SESSION: 0x2843,
  /** WT_DRAIN_SESSION: empty; asks the peer to finish up. */
  DRAIN_WEBTRANSPORT_SESSION: 0x78ae,
} as const

/** The longest close reason, in UTF-8 bytes (draft-ietf-webtrans-http3 §5). */
export const MAX_CLOSE_REASON_BYTES = 1024

/** Capsule types that are buffered whole and checked against `maxCapsuleBytes`. */
const KNOWN_CAPSULE_TYPES: ReadonlySet<number> = new Set([
  CapsuleType.CLOSE_WEBTRANSPORT_SESSION,
  CapsuleType.DRAIN_WEBTRANSPORT_SESSION,
])

/** Options of {@link CapsuleReader}. */
export interface CapsuleReaderOptions {
  /**
   * The longest capsule value kept. A known type longer than this is an error; an unknown type
   * longer than this is discarded as it arrives, never buffered.
   */
  maxCapsuleBytes: number
}

/** A capsule: its type and its whole value (a copy the caller may keep). */
export interface Capsule {
  readonly type: number
  readonly value: Uint8Array
}

/** Two varints of at most 8 bytes; reused because nothing here is re-entrant. */
const HEADER = new Uint8Array(16)

/**
 * An incremental capsule parser over the DATA payload of a CONNECT stream. Pieces are pushed as
 * they arrive; capsules may straddle them. Pushed chunks are kept by reference until consumed,
 * so they must not be modified afterwards.
 *
 * Capsules of unknown types are returned too, for the caller to ignore (RFC 9297 §3.2 requires
 * ignoring them), unless longer than `maxCapsuleBytes`: those are skipped without buffering.
 * After any thrown error the stream is broken and the reader must not be used again.
 */
export class CapsuleReader {
  private readonly queue = new ByteQueue()
  private readonly maxCapsuleBytes: number
  /** Bytes left to discard of an oversized unknown capsule. */
  private skipRemaining = 0

  /** @throws {RangeError} if `maxCapsuleBytes` is not a non-negative safe integer. */
  constructor(options: CapsuleReaderOptions) {
    if (!Number.isSafeInteger(options.maxCapsuleBytes) || options.maxCapsuleBytes < 0) {
      throw new RangeError('maxCapsuleBytes must be a non-negative integer')
    }
    this.maxCapsuleBytes = options.maxCapsuleBytes
  }

  /** The number of bytes pushed and not yet consumed (skipped bytes are never buffered). */
  get buffered(): number {
    return this.queue.length
  }

  /** Appends received DATA payload bytes. `chunk` is kept by reference until consumed. */
  push(chunk: Uint8Array): void {
    if (this.skipRemaining > 0) {
      // Discard straight away so a huge unknown capsule never holds memory.
      const n = Math.min(this.skipRemaining, chunk.length)
      this.skipRemaining -= n
      chunk = chunk.subarray(n)
    }
    this.queue.push(chunk)
  }

  /**
   * The next complete capsule, or `undefined` until more bytes are pushed.
   *
   * @throws {Http3Error} `H3_MESSAGE_ERROR` when a known capsule type is longer than
   *   `maxCapsuleBytes`.
   */
  next(): Capsule | undefined {
    for (;;) {
      if (this.skipRemaining > 0) return undefined
      const header = HEADER.subarray(0, this.queue.peekInto(HEADER))
      const typeField = readVarint(header, 0, h3Varint)
      const lengthField = typeField && readVarint(header, typeField[1], h3Varint)
      if (typeField === undefined || lengthField === undefined) return undefined
      const [type] = typeField
      const [length, headerLength] = lengthField

      if (length > this.maxCapsuleBytes) {
        if (KNOWN_CAPSULE_TYPES.has(type)) {
          throw new Http3Error(
            H3.MESSAGE_ERROR,
            `capsule 0x${type.toString(16)} of ${length} bytes exceeds maxCapsuleBytes (${this.maxCapsuleBytes})`,
          )
        }
        this.queue.skip(headerLength)
        const n = Math.min(length, this.queue.length)
        this.queue.skip(n)
        this.skipRemaining = length - n
        continue
      }

      if (this.queue.length < headerLength + length) return undefined
      this.queue.skip(headerLength)
      return { type, value: this.queue.read(length) }
    }
  }

  /**
   * Checks that the stream ended on a capsule boundary; call when the CONNECT stream's
   * payload ends, after draining {@link CapsuleReader.next}.
   *
   * @throws {Http3Error} `H3_MESSAGE_ERROR` if a capsule is incomplete (RFC 9297 §3.3).
   */
  end(): void {
    if (this.skipRemaining > 0 || this.queue.length > 0) {
      throw new Http3Error(H3.MESSAGE_ERROR, 'stream ended inside a capsule')
    }
  }
}

function encodeCapsule(type: number, value: Uint8Array): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(value.length) + value.length)
  const offset = writeVarint(out, writeVarint(out, 0, type), value.length)
  out.set(value, offset)
  return out
}

/**
 * A whole CLOSE_WEBTRANSPORT_SESSION capsule. A reason longer than
 * {@link MAX_CLOSE_REASON_BYTES} UTF-8 bytes is cut at the last whole character that fits.
 *
 * @throws {RangeError} if `code` is not an integer in `[0, 2^32-1]`.
 */
export function encodeCloseSession(code: number, reason: string): Uint8Array {
  if (!Number.isInteger(code) || code < 0 || code > 0xffff_ffff) {
    throw new RangeError(`code must be an integer in [0, 2^32-1], got ${code}`)
  }
  let reasonBytes = new TextEncoder().encode(reason)
  if (reasonBytes.length > MAX_CLOSE_REASON_BYTES) {
    let cut = MAX_CLOSE_REASON_BYTES
    // Back up over continuation bytes (10xxxxxx) to the start of the character that straddles.
    while (cut > 0 && (reasonBytes[cut]! & 0xc0) === 0x80) cut--
    reasonBytes = reasonBytes.subarray(0, cut)
  }
  const value = new Uint8Array(4 + reasonBytes.length)
  new DataView(value.buffer).setUint32(0, code)
  value.set(reasonBytes, 4)
  return encodeCapsule(CapsuleType.CLOSE_WEBTRANSPORT_SESSION, value)
}

/**
 * The application error code and reason of a CLOSE_WEBTRANSPORT_SESSION capsule's value.
 *
 * @throws {Http3Error} `H3_MESSAGE_ERROR` if the value is shorter than 4 bytes, or the reason
 *   is longer than {@link MAX_CLOSE_REASON_BYTES} or not valid UTF-8.
 */
export function decodeCloseSession(value: Uint8Array): { code: number; reason: string } {
  if (value.length < 4) {
    throw new Http3Error(H3.MESSAGE_ERROR, 'CLOSE_WEBTRANSPORT_SESSION shorter than 4 bytes')
  }
  if (value.length - 4 > MAX_CLOSE_REASON_BYTES) {
    throw new Http3Error(H3.MESSAGE_ERROR, 'CLOSE_WEBTRANSPORT_SESSION reason over 1024 bytes')
  }
  const code = new DataView(value.buffer, value.byteOffset, value.byteLength).getUint32(0)
  let reason: string
  try {
    reason = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(value.subarray(4))
  } catch (cause) {
    throw new Http3Error(H3.MESSAGE_ERROR, 'CLOSE_WEBTRANSPORT_SESSION reason is not UTF-8', {
      cause,
    })
  }
  return { code, reason }
}

/** A whole DRAIN_WEBTRANSPORT_SESSION capsule (empty value). */
export function encodeDrainSession(): Uint8Array {
  return encodeCapsule(CapsuleType.DRAIN_WEBTRANSPORT_SESSION, new Uint8Array(0))
}
