/**
 * The byte writer and reader every ferry wire format is built with: integers, QUIC
 * variable-length integers (RFC 9000 §16) and byte strings.
 *
 * The varints are `@ferry/wire`'s codec under ferry's rule for its own formats: values stop at
 * `Number.MAX_SAFE_INTEGER` (2^53 - 1) so they stay JavaScript numbers, and only the shortest
 * encoding of a value is accepted (`{ minimal: true }`), so every value has exactly one
 * encoding and signed bytes cannot be re-encoded.
 */
import {
  VarintError,
  encodedVarintLength,
  readVarint,
  varintLength,
  writeVarint,
} from '@ferry/wire'
import { DecodeError } from '../errors.js'

export { encodeVarint, varintLength } from '@ferry/wire'

/** Shortest form only, values up to 2^53 - 1 (the codec's default `max`). */
const canonical = { minimal: true } as const

const utf8Decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true })
const utf8Encoder = new TextEncoder()

function checkLimit(n: number, name: string): void {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`${name} must be a non-negative integer, got ${n}`)
  }
}

/**
 * Builds a byte string from integers, varints and byte strings. Grows as needed; nothing is
 * written to the wire until {@link ByteWriter.finish}.
 */
export class ByteWriter {
  #buffer: Uint8Array<ArrayBuffer>
  #length = 0

  /** @param initialCapacity - Bytes to reserve up front (the writer grows past it). */
  constructor(initialCapacity = 64) {
    checkLimit(initialCapacity, 'initialCapacity')
    this.#buffer = new Uint8Array(Math.max(initialCapacity, 8))
  }

  /** Bytes written so far. */
  get length(): number {
    return this.#length
  }

  #reserve(n: number): number {
    const offset = this.#length
    const needed = offset + n
    if (needed > this.#buffer.length) {
      const grown = new Uint8Array(Math.max(needed, this.#buffer.length * 2))
      grown.set(this.#buffer.subarray(0, offset))
      this.#buffer = grown
    }
    this.#length = needed
    return offset
  }

  /**
   * Appends one byte.
   * @throws {RangeError} if `n` is not an integer in `[0, 255]`.
   */
  u8(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xff) {
      throw new RangeError(`n must be an integer in [0, 255], got ${n}`)
    }
    const offset = this.#reserve(1)
    this.#buffer[offset] = n
    return this
  }

  /**
   * Appends a big-endian 16-bit integer.
   * @throws {RangeError} if `n` is not an integer in `[0, 65535]`.
   */
  u16(n: number): this {
    if (!Number.isInteger(n) || n < 0 || n > 0xffff) {
      throw new RangeError(`n must be an integer in [0, 65535], got ${n}`)
    }
    const offset = this.#reserve(2)
    this.#buffer[offset] = n >>> 8
    this.#buffer[offset + 1] = n & 0xff
    return this
  }

  /**
   * Appends the shortest varint encoding of `n`.
   * @throws {RangeError} if `n` is not an integer in `[0, 2^53 - 1]`.
   */
  varint(n: number): this {
    // Reserve first: it may replace the buffer.
    const offset = this.#reserve(varintLength(n))
    writeVarint(this.#buffer, offset, n)
    return this
  }

  /**
   * Appends `bytes` as they are, with no length (copied now; later changes to `bytes` do not
   * reach the output).
   * @throws {TypeError} if `bytes` is not a `Uint8Array`.
   */
  bytes(bytes: Uint8Array): this {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array')
    const offset = this.#reserve(bytes.length)
    this.#buffer.set(bytes, offset)
    return this
  }

  /**
   * Appends the varint length of `bytes`, then `bytes`.
   * @throws {TypeError} if `bytes` is not a `Uint8Array`.
   */
  lengthPrefixed(bytes: Uint8Array): this {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array')
    return this.varint(bytes.length).bytes(bytes)
  }

  /**
   * Appends the UTF-8 encoding of `text`, prefixed by its varint byte length. Lone surrogates
   * become U+FFFD, as `TextEncoder` writes them.
   * @throws {TypeError} if `text` is not a string.
   */
  string(text: string): this {
    if (typeof text !== 'string') throw new TypeError('text must be a string')
    return this.lengthPrefixed(utf8Encoder.encode(text))
  }

  /**
   * The bytes written so far, as a new array the caller owns. The writer stays usable; later
   * writes append after these bytes and do not change the returned array.
   */
  finish(): Uint8Array<ArrayBuffer> {
    return this.#buffer.slice(0, this.#length)
  }
}

/**
 * Reads integers, varints and byte strings from a byte string, front to back. Every read past
 * the end throws {@link DecodeError} `TRUNCATED` and consumes nothing; every length read from
 * the input is checked against a caller's limit and against the bytes present before anything
 * is sliced.
 */
export class ByteReader {
  readonly #bytes: Uint8Array
  #offset = 0

  /**
   * @param bytes - The input; not copied, so it must not change while the reader is in use.
   * @throws {TypeError} if `bytes` is not a `Uint8Array`.
   */
  constructor(bytes: Uint8Array) {
    if (!(bytes instanceof Uint8Array)) throw new TypeError('bytes must be a Uint8Array')
    this.#bytes = bytes
  }

  /** Bytes read so far. */
  get offset(): number {
    return this.#offset
  }

  /** Bytes not read yet. */
  get remaining(): number {
    return this.#bytes.length - this.#offset
  }

  #need(n: number, what: string): void {
    if (n > this.remaining) {
      throw new DecodeError(
        'TRUNCATED',
        `${what} needs ${n} bytes at offset ${this.#offset}, ${this.remaining} remain`,
      )
    }
  }

  /**
   * Reads one byte.
   * @throws {DecodeError} `TRUNCATED` at the end of the input.
   */
  u8(): number {
    this.#need(1, 'a u8')
    return this.#bytes[this.#offset++]!
  }

  /**
   * Reads a big-endian 16-bit integer.
   * @throws {DecodeError} `TRUNCATED` if fewer than 2 bytes remain.
   */
  u16(): number {
    this.#need(2, 'a u16')
    const value = (this.#bytes[this.#offset]! << 8) | this.#bytes[this.#offset + 1]!
    this.#offset += 2
    return value
  }

  /**
   * Reads a varint.
   * @throws {DecodeError} `TRUNCATED` if the input ends inside it; `TOO_LARGE` if its value is
   *   above 2^53 - 1; `NON_CANONICAL` if a shorter encoding of the same value exists.
   */
  varint(): number {
    const at = this.#offset
    let parsed: [number, number] | undefined
    try {
      parsed = readVarint(this.#bytes, at, canonical)
    } catch (e) {
      if (!(e instanceof VarintError)) throw e
      const code = e.code === 'NON_MINIMAL' ? 'NON_CANONICAL' : e.code
      throw new DecodeError(code, e.message, { cause: e })
    }
    if (parsed === undefined) {
      const first = this.#bytes[at]
      const needed = first === undefined ? 1 : encodedVarintLength(first)
      throw new DecodeError(
        'TRUNCATED',
        `a varint needs ${needed} bytes at offset ${at}, ${this.remaining} remain`,
      )
    }
    const [value, next] = parsed
    this.#offset = next
    return value
  }

  /**
   * Reads `n` raw bytes as a zero-copy view (a `subarray`) of the input: it shares memory with
   * the input, so copy it (`.slice()`) before keeping it past the input's lifetime or changing
   * either.
   * @throws {DecodeError} `TRUNCATED` if fewer than `n` bytes remain.
   * @throws {RangeError} if `n` is not a non-negative integer.
   */
  bytes(n: number): Uint8Array {
    checkLimit(n, 'n')
    this.#need(n, `${n} bytes`)
    const view = this.#bytes.subarray(this.#offset, this.#offset + n)
    this.#offset += n
    return view
  }

  /**
   * Reads a varint length, then that many bytes as a zero-copy view of the input (see
   * {@link ByteReader.bytes}). The length is checked against `maxBytes` and against the bytes
   * present before anything is sliced. On failure nothing is consumed.
   * @throws {DecodeError} `TOO_LARGE` if the length is above `maxBytes`; `TRUNCATED` if the
   *   input ends first; the varint's own errors.
   * @throws {RangeError} if `maxBytes` is not a non-negative integer.
   */
  lengthPrefixed(maxBytes: number): Uint8Array {
    checkLimit(maxBytes, 'maxBytes')
    const start = this.#offset
    const length = this.varint()
    try {
      if (length > maxBytes) {
        throw new DecodeError('TOO_LARGE', `a length of ${length} bytes is above ${maxBytes}`)
      }
      return this.bytes(length)
    } catch (e) {
      this.#offset = start
      throw e
    }
  }

  /**
   * Reads a varint byte length, then that many bytes of UTF-8 as a string.
   * @param maxBytes - The largest accepted length in bytes (not characters).
   * @throws {DecodeError} `INVALID` for bytes that are not UTF-8; the errors of
   *   {@link ByteReader.lengthPrefixed}.
   * @throws {RangeError} if `maxBytes` is not a non-negative integer.
   */
  string(maxBytes: number): string {
    const start = this.#offset
    const bytes = this.lengthPrefixed(maxBytes)
    try {
      return utf8Decoder.decode(bytes)
    } catch (e) {
      this.#offset = start
      throw new DecodeError('INVALID', `a string at offset ${start} is not UTF-8`, { cause: e })
    }
  }

  /**
   * Asserts the input is used up; call it once a whole value has been read.
   * @throws {DecodeError} `TRAILING_BYTES` if bytes remain.
   */
  end(): void {
    if (this.remaining !== 0) {
      throw new DecodeError('TRAILING_BYTES', `${this.remaining} bytes after the value`)
    }
  }
}
