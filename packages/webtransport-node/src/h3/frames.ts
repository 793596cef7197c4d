/**
 * HTTP/3 frames (RFC 9114 §7): type and length varints followed by the payload.
 *
 * ```
 * HTTP/3 Frame {
 *   Type (i),
 *   Length (i),
 *   Frame Payload (..),
 * }
 * ```
 */

import { encodeVarint, readVarint, varintLength, writeVarint } from '@ferry/wire'
import { H3, Http3Error } from '../errors.js'
import { ByteQueue } from './byte-queue.js'
import { h3Varint } from './varint.js'

/** Frame types (RFC 9114 §7.2, and WebTransport's stream signal). */
export const FrameType = {
  DATA: 0x0,
  HEADERS: 0x1,
  CANCEL_PUSH: 0x3,
  SETTINGS: 0x4,
  PUSH_PROMISE: 0x5,
  GOAWAY: 0x7,
  MAX_PUSH_ID: 0xd,
  /**
   * draft-ietf-webtrans-http3 (WT_STREAM): not a real frame. The first bytes of a
   * WebTransport bidirectional stream are this type followed by the session id (no length),
   * and the rest of the stream is raw application data.
   */
  WEBTRANSPORT_STREAM: 0x41,
} as const

/** Unidirectional stream types (RFC 9114 §6.2, RFC 9204 §4.2, WebTransport). */
export const StreamType = {
  CONTROL: 0x00,
  PUSH: 0x01,
  QPACK_ENCODER: 0x02,
  QPACK_DECODER: 0x03,
  /** draft-ietf-webtrans-http3: followed by the session id varint, then raw data. */
  WEBTRANSPORT_UNI: 0x54,
} as const

/**
 * Whether `t` is a reserved (GREASE) codepoint `0x1f * N + 0x21` (RFC 9114 §7.2.8, §6.2.3,
 * §7.2.4.1, §8.1); the same formula applies to frame types, stream types, setting ids and error
 * codes. Values above 2^53 are rounded by the varint reader, so for them the answer is a guess;
 * they are ignored either way.
 */
export function isReservedType(t: number): boolean {
  return Number.isInteger(t) && t >= 0x21 && (t - 0x21) % 0x1f === 0
}

/**
 * Frame types HTTP/2 had and HTTP/3 reserves (PRIORITY, PING, WINDOW_UPDATE, CONTINUATION):
 * receiving one on any stream is `H3_FRAME_UNEXPECTED` (RFC 9114 §7.2.8).
 */
const HTTP2_ONLY_FRAME_TYPES: ReadonlySet<number> = new Set([0x2, 0x6, 0x8, 0x9])

/** Frame types whose payload is buffered whole and checked against `maxFrameBytes`. */
const KNOWN_FRAME_TYPES: ReadonlySet<number> = new Set([
  FrameType.HEADERS,
  FrameType.CANCEL_PUSH,
  FrameType.SETTINGS,
  FrameType.PUSH_PROMISE,
  FrameType.GOAWAY,
  FrameType.MAX_PUSH_ID,
])

/**
 * A frame header (type and length) for a payload that is sent separately, so a DATA payload
 * need not be copied into a frame.
 *
 * @throws {RangeError} if `type` or `length` is not an integer in `[0, 2^53-1]`.
 */
export function encodeFrameHeader(type: number, length: number): Uint8Array {
  const out = new Uint8Array(varintLength(type) + varintLength(length))
  writeVarint(out, writeVarint(out, 0, type), length)
  return out
}

/**
 * A whole frame: header and a copy of `payload`.
 *
 * @throws {RangeError} if `type` is not an integer in `[0, 2^53-1]`.
 */
export function encodeFrame(type: number, payload: Uint8Array): Uint8Array {
  const header = encodeFrameHeader(type, payload.length)
  const out = new Uint8Array(header.length + payload.length)
  out.set(header)
  out.set(payload, header.length)
  return out
}

/** Options of {@link FrameReader}. */
export interface FrameReaderOptions {
  /**
   * The largest payload accepted for a non-DATA frame of a known type; longer ones are
   * rejected from their header, before any payload is buffered. DATA frames are streamed and
   * not limited; unknown frame types longer than this are discarded as they arrive.
   */
  maxFrameBytes: number
  /**
   * Whether the stream may start with the WebTransport stream signal (a bidirectional stream
   * the peer opened). Default `false`.
   */
  allowWebTransportStream?: boolean
}

/**
 * One result of {@link FrameReader.next}:
 *
 * - a non-DATA frame: `type` and its whole `payload` (a copy the caller may keep), `end: true`;
 * - a piece of a DATA frame: `type: 0`, a `payload` piece (a view into a pushed chunk, zero
 *   copy), and `end: true` on the last piece. A zero-length DATA frame gives one empty piece;
 * - the WebTransport stream signal: `type: 0x41`, empty `payload`, `end: true`, and the
 *   `sessionId`. The reader then stops parsing: the rest is raw data, see
 *   {@link FrameReader.takeRaw}.
 */
export interface Frame {
  readonly type: number
  readonly payload: Uint8Array
  /** False only on a DATA piece that is not the last of its frame. */
  readonly end: boolean
  /** Only on the WebTransport stream signal: the session id that follows it. */
  readonly sessionId?: number
}

const EMPTY = new Uint8Array(0)
/** Two varints of at most 8 bytes; reused because nothing here is re-entrant. */
const HEADER = new Uint8Array(16)

/**
 * An incremental HTTP/3 frame parser over the bytes of one stream.
 *
 * Chunks are pushed as they arrive (any size; frames may straddle chunks) and are kept by
 * reference until consumed, so they must not be modified after {@link FrameReader.push}. Only
 * the bytes of one non-DATA frame are ever copied, once; DATA payloads are handed out as views.
 *
 * Receiving the WebTransport stream signal anywhere but at the start of a stream that allows it,
 * or an HTTP/2-only frame type, is an error. After any thrown error the stream is broken and
 * the reader must not be used again.
 */
export class FrameReader {
  private readonly queue = new ByteQueue()
  private readonly maxFrameBytes: number
  private readonly allowWebTransportStream: boolean
  /** Payload bytes left in the current DATA frame; only meaningful when `inData`. */
  private dataRemaining = 0
  private inData = false
  /** Bytes left to discard of an oversized unknown frame. */
  private skipRemaining = 0
  /** Set once anything has been consumed: the WebTransport signal is only valid before that. */
  private started = false
  /** Set after the WebTransport signal: the rest of the stream is not frames. */
  private stopped = false

  /** @throws {RangeError} if `maxFrameBytes` is not a non-negative safe integer. */
  constructor(options: FrameReaderOptions) {
    if (!Number.isSafeInteger(options.maxFrameBytes) || options.maxFrameBytes < 0) {
      throw new RangeError(`maxFrameBytes must be a non-negative integer`)
    }
    this.maxFrameBytes = options.maxFrameBytes
    this.allowWebTransportStream = options.allowWebTransportStream ?? false
  }

  /** The number of bytes pushed and not yet consumed. */
  get buffered(): number {
    return this.queue.length
  }

  /** Appends received bytes. `chunk` is kept by reference until consumed. */
  push(chunk: Uint8Array): void {
    this.queue.push(chunk)
  }

  /**
   * The next complete frame or DATA piece, or `undefined` until more bytes are pushed (and
   * always after the WebTransport stream signal).
   *
   * @throws {Http3Error} `H3_EXCESSIVE_LOAD` when a known non-DATA frame is longer than
   *   `maxFrameBytes`; `H3_FRAME_UNEXPECTED` for an HTTP/2-only frame type; `H3_FRAME_ERROR`
   *   for the WebTransport stream signal where it is not allowed.
   */
  next(): Frame | undefined {
    if (this.stopped) return undefined
    for (;;) {
      if (this.skipRemaining > 0) {
        const n = Math.min(this.skipRemaining, this.queue.length)
        this.queue.skip(n)
        this.skipRemaining -= n
        if (this.skipRemaining > 0) return undefined
      }

      if (this.inData) {
        if (this.queue.length === 0) return undefined
        const payload = this.queue.readView(this.dataRemaining)
        this.dataRemaining -= payload.length
        const end = this.dataRemaining === 0
        if (end) this.inData = false
        return { type: FrameType.DATA, payload, end }
      }

      // The header is peeked, not consumed, until the whole frame can be taken, so that a
      // frame boundary is also a buffer boundary (see takeRaw).
      const header = HEADER.subarray(0, this.queue.peekInto(HEADER))
      const typeField = readVarint(header, 0, h3Varint)
      if (typeField === undefined) return undefined
      const [type, afterType] = typeField

      if (type === FrameType.WEBTRANSPORT_STREAM) return this.readWebTransportSignal(afterType)
      if (HTTP2_ONLY_FRAME_TYPES.has(type)) {
        throw new Http3Error(H3.FRAME_UNEXPECTED, `HTTP/2-only frame type 0x${type.toString(16)}`)
      }

      const lengthField = readVarint(header, afterType, h3Varint)
      if (lengthField === undefined) return undefined
      const [length, headerLength] = lengthField

      if (type === FrameType.DATA) {
        this.consume(headerLength)
        if (length === 0) return { type, payload: EMPTY, end: true }
        this.inData = true
        this.dataRemaining = length
        continue
      }

      if (length > this.maxFrameBytes) {
        if (KNOWN_FRAME_TYPES.has(type)) {
          throw new Http3Error(
            H3.EXCESSIVE_LOAD,
            `frame 0x${type.toString(16)} of ${length} bytes exceeds maxFrameBytes (${this.maxFrameBytes})`,
          )
        }
        // Unknown frames must be ignored (RFC 9114 §9); stream a big one away unbuffered.
        this.consume(headerLength)
        this.skipRemaining = length
        continue
      }

      if (this.queue.length < headerLength + length) return undefined
      this.consume(headerLength)
      return { type, payload: this.queue.read(length), end: true }
    }
  }

  /**
   * Consumes one bare varint (a unidirectional stream's type, or the session id after
   * `WEBTRANSPORT_UNI`), or returns `undefined` (consuming nothing) until enough bytes arrive.
   *
   * @throws {Http3Error} `H3_INTERNAL_ERROR` if called inside a frame (a bug in the caller).
   */
  readVarint(): number | undefined {
    this.assertFrameBoundary('readVarint')
    const value = this.queue.readVarint()
    if (value !== undefined) this.started = true
    return value
  }

  /**
   * Returns and clears every buffered byte not yet parsed: a view when it all sits in one
   * pushed chunk, otherwise a copy. Used when a stream switches to raw data, after the
   * WebTransport stream signal or a `WEBTRANSPORT_UNI` header.
   *
   * @throws {Http3Error} `H3_INTERNAL_ERROR` if called inside a frame (a bug in the caller).
   */
  takeRaw(): Uint8Array {
    this.assertFrameBoundary('takeRaw')
    return this.queue.readAll()
  }

  /**
   * Checks that the stream ended on a frame boundary; call at the stream's FIN, after
   * draining {@link FrameReader.next}. Bytes after the WebTransport signal are not frames and
   * are not checked.
   *
   * @throws {Http3Error} `H3_FRAME_ERROR` if the last frame is truncated (RFC 9114 §7.1).
   */
  end(): void {
    if (this.stopped) return
    if (this.inData || this.skipRemaining > 0 || this.queue.length > 0) {
      throw new Http3Error(H3.FRAME_ERROR, 'stream ended inside a frame')
    }
  }

  private readWebTransportSignal(afterType: number): Frame | undefined {
    // draft-ietf-webtrans-http3 §4.2: the signal is only valid as the very first bytes of a
    // bidirectional stream; anywhere else it is H3_FRAME_ERROR.
    if (!this.allowWebTransportStream || this.started) {
      throw new Http3Error(
        H3.FRAME_ERROR,
        'WEBTRANSPORT_STREAM signal not at the start of a stream',
      )
    }
    const header = HEADER.subarray(0, this.queue.peekInto(HEADER))
    const sessionField = readVarint(header, afterType, h3Varint)
    if (sessionField === undefined) return undefined
    this.consume(sessionField[1])
    this.stopped = true
    return {
      type: FrameType.WEBTRANSPORT_STREAM,
      payload: EMPTY,
      end: true,
      sessionId: sessionField[0],
    }
  }

  private consume(n: number): void {
    this.queue.skip(n)
    this.started = true
  }

  private assertFrameBoundary(method: string): void {
    if (this.inData || this.skipRemaining > 0) {
      throw new Http3Error(H3.INTERNAL_ERROR, `FrameReader.${method}() called inside a frame`)
    }
  }
}

/**
 * The stream or push id of a GOAWAY frame's payload (RFC 9114 §7.2.6).
 *
 * @throws {Http3Error} `H3_FRAME_ERROR` unless the payload is exactly one varint.
 */
export function decodeGoaway(payload: Uint8Array): number {
  const field = readVarint(payload, 0, h3Varint)
  if (field === undefined || field[1] !== payload.length) {
    throw new Http3Error(H3.FRAME_ERROR, 'GOAWAY payload is not exactly one varint')
  }
  return field[0]
}

/**
 * A whole GOAWAY frame carrying `id`.
 *
 * @throws {RangeError} if `id` is not an integer in `[0, 2^53-1]`.
 */
export function encodeGoaway(id: number): Uint8Array {
  return encodeFrame(FrameType.GOAWAY, encodeVarint(id))
}
