/**
 * QUIC variable-length integers (RFC 9000 §16): the one varint codec of every ferry wire
 * format, from HTTP/3 frames to tickets.
 *
 * A varint's first two bits give its length: `00` one byte (6-bit value), `01` two bytes
 * (14 bits), `10` four bytes (30 bits), `11` eight bytes (62 bits); the other bits are the value,
 * big-endian. Values are JavaScript numbers.
 *
 * Shortest form: the writer always writes the shortest encoding. RFC 9000 §16 lets a sender
 * use any length that holds the value, and HTTP/3 receivers must accept every one (Chromium,
 * for one, may send a longer length than needed); ferry's own signed and canonical formats
 * (tickets, addresses, handshake payloads, record preambles) must give each value exactly one
 * encoding. So the reader has no default: each caller states its rule, `{ minimal: true }` to
 * refuse a longer encoding than needed (`NON_MINIMAL`), `{ minimal: false }` to accept it.
 *
 * Size: numbers are exact up to 2^53 - 1, which is the writer's limit and the reader's default
 * `max` (a larger value is `TOO_LARGE`). A reader that must pass the whole 62-bit range through
 * (HTTP/3's GREASE identifiers, which are only compared and ignored) sets `max: Infinity` and
 * gets values above 2^53 - 1 rounded to the nearest double, or reads them exactly with
 * {@link readVarintBig}.
 */

/** Why a varint was refused. */
export type VarintErrorCode =
  /** An encoding longer than its value needs, read with `{ minimal: true }`. */
  | 'NON_MINIMAL'
  /** A value above the reader's `max`. */
  | 'TOO_LARGE'

/**
 * A varint that the reader's rule refuses. Each format maps it to its own error at its
 * boundary (a `DecodeError`, a `RecordError`).
 */
export class VarintError extends Error {
  /** A stable, machine-readable reason. */
  readonly code: VarintErrorCode

  constructor(code: VarintErrorCode, message: string) {
    super(message)
    this.code = code
  }

  static {
    this.prototype.name = 'VarintError'
  }
}

/** How a reader treats the encodings RFC 9000 §16 allows. */
export interface ReadVarintOptions {
  /**
   * `true` refuses an encoding longer than its value needs (`NON_MINIMAL`), for formats where
   * every value has exactly one encoding; `false` accepts any length, as RFC 9000 §16 allows
   * and HTTP/3 receivers must. No default: every caller states its rule.
   */
  readonly minimal: boolean
  /**
   * The largest value accepted; a larger one is `TOO_LARGE`. Default 2^53 - 1, the largest
   * exact number. `Infinity` admits the whole 62-bit range, values above 2^53 - 1 rounded to
   * the nearest double.
   */
  readonly max?: number
}

/** The smallest value of each encoded length: anything below has a shorter encoding. */
const minimumOfLength = { 1: 0, 2: 0x40, 4: 0x4000, 8: 0x4000_0000 } as const
const TWO_POW_32 = 0x1_0000_0000

function checkOffset(offset: number): void {
  if (!Number.isSafeInteger(offset) || offset < 0) {
    throw new RangeError(`offset must be a non-negative integer, got ${offset}`)
  }
}

function checkRule(options: Pick<ReadVarintOptions, 'minimal'>): void {
  if (typeof options?.minimal !== 'boolean') {
    throw new TypeError('options.minimal must be true or false: every reader states its rule')
  }
}

/** Validates `options` and returns its `max`. */
function maxOf(options: ReadVarintOptions): number {
  checkRule(options)
  const max = options.max ?? Number.MAX_SAFE_INTEGER
  if (!(Number.isSafeInteger(max) || max === Infinity) || max < 0) {
    throw new RangeError(`options.max must be a non-negative integer or Infinity, got ${max}`)
  }
  return max
}

/**
 * The number of bytes (1, 2, 4 or 8) of the varint whose first byte is `firstByte`.
 * @throws {RangeError} if `firstByte` is not an integer in `[0, 255]`.
 */
export function encodedVarintLength(firstByte: number): 1 | 2 | 4 | 8 {
  if (!Number.isInteger(firstByte) || firstByte < 0 || firstByte > 0xff) {
    throw new RangeError(`firstByte must be an integer in [0, 255], got ${firstByte}`)
  }
  return (1 << (firstByte >>> 6)) as 1 | 2 | 4 | 8
}

/**
 * The number of bytes (1, 2, 4 or 8) the shortest encoding of `n` takes.
 * @throws {RangeError} if `n` is not an integer in `[0, 2^53 - 1]`.
 */
export function varintLength(n: number): 1 | 2 | 4 | 8 {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new RangeError(`n must be an integer in [0, 2^53 - 1], got ${n}`)
  }
  if (n < 0x40) return 1
  if (n < 0x4000) return 2
  if (n < 0x4000_0000) return 4
  return 8
}

/**
 * Writes the shortest encoding of `n` into `bytes` at `offset` and returns the offset just
 * past it.
 * @throws {RangeError} if `n` is not an integer in `[0, 2^53 - 1]`, or the encoding does not
 *   fit in `bytes` at `offset`.
 */
export function writeVarint(bytes: Uint8Array, offset: number, n: number): number {
  const length = varintLength(n)
  checkOffset(offset)
  if (offset + length > bytes.length) {
    throw new RangeError(`a ${length}-byte varint does not fit at offset ${offset}`)
  }
  switch (length) {
    case 1:
      bytes[offset] = n
      break
    case 2:
      bytes[offset] = 0x40 | (n >>> 8)
      bytes[offset + 1] = n & 0xff
      break
    case 4:
      writeU32(bytes, offset, (0x8000_0000 | n) >>> 0)
      break
    case 8:
      // Bitwise operators work on 32 bits, so split the value into two exact halves first.
      writeU32(bytes, offset, (0xc000_0000 | Math.floor(n / TWO_POW_32)) >>> 0)
      writeU32(bytes, offset + 4, n >>> 0)
      break
  }
  return offset + length
}

function writeU32(bytes: Uint8Array, offset: number, u32: number): void {
  bytes[offset] = u32 >>> 24
  bytes[offset + 1] = (u32 >>> 16) & 0xff
  bytes[offset + 2] = (u32 >>> 8) & 0xff
  bytes[offset + 3] = u32 & 0xff
}

/**
 * The shortest encoding of `n`, as a new array.
 * @throws {RangeError} if `n` is not an integer in `[0, 2^53 - 1]`.
 */
export function encodeVarint(n: number): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(varintLength(n))
  writeVarint(out, 0, n)
  return out
}

/**
 * Reads the varint at `offset` of `bytes`: its value and the offset just past it, or
 * `undefined` when `bytes` ends before the varint does (a streaming parser waits for more).
 * @throws {VarintError} `NON_MINIMAL` for a longer encoding than needed under
 *   `{ minimal: true }`; `TOO_LARGE` for a value above `options.max`.
 * @throws {RangeError} if `offset` is not a non-negative integer or `options.max` is invalid.
 * @throws {TypeError} if `options.minimal` is not a boolean.
 */
export function readVarint(
  bytes: Uint8Array,
  offset: number,
  options: ReadVarintOptions,
): [value: number, next: number] | undefined {
  const max = maxOf(options)
  checkOffset(offset)
  const first = bytes[offset]
  if (first === undefined) return undefined
  const length = encodedVarintLength(first)
  if (offset + length > bytes.length) return undefined
  // Every index below is in bounds (checked above), hence the non-null assertions.
  let value: number
  switch (length) {
    case 1:
      value = first
      break
    case 2:
      value = ((first & 0x3f) << 8) | bytes[offset + 1]!
      break
    case 4:
      value = (first & 0x3f) * 0x100_0000 + readU24(bytes, offset + 1)
      break
    case 8: {
      const high = (first & 0x3f) * 0x100_0000 + readU24(bytes, offset + 1)
      const low = bytes[offset + 4]! * 0x100_0000 + readU24(bytes, offset + 5)
      // Exact below 2^53; above, rounding is monotonic, so comparisons with a safe `max` hold.
      value = high * TWO_POW_32 + low
    }
  }
  if (value > max) {
    throw new VarintError('TOO_LARGE', `a varint at offset ${offset} is above ${max}`)
  }
  if (options.minimal && value < minimumOfLength[length]) {
    throw new VarintError(
      'NON_MINIMAL',
      `a ${length}-byte varint at offset ${offset} for ${value}, which has a shorter encoding`,
    )
  }
  return [value, offset + length]
}

function readU24(bytes: Uint8Array, offset: number): number {
  return (bytes[offset]! << 16) | (bytes[offset + 1]! << 8) | bytes[offset + 2]!
}

/**
 * Like {@link readVarint}, but exact over the whole 62-bit range, as a `bigint` (so it has no
 * `max`).
 * @throws {VarintError} `NON_MINIMAL` for a longer encoding than needed under
 *   `{ minimal: true }`.
 * @throws {RangeError} if `offset` is not a non-negative integer.
 * @throws {TypeError} if `options.minimal` is not a boolean.
 */
export function readVarintBig(
  bytes: Uint8Array,
  offset: number,
  options: Pick<ReadVarintOptions, 'minimal'>,
): [value: bigint, next: number] | undefined {
  checkRule(options)
  checkOffset(offset)
  const first = bytes[offset]
  if (first === undefined) return undefined
  const length = encodedVarintLength(first)
  if (offset + length > bytes.length) return undefined
  let value = BigInt(first & 0x3f)
  for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(bytes[offset + i]!)
  if (options.minimal && value < BigInt(minimumOfLength[length])) {
    throw new VarintError(
      'NON_MINIMAL',
      `a ${length}-byte varint at offset ${offset} for ${value}, which has a shorter encoding`,
    )
  }
  return [value, offset + length]
}
