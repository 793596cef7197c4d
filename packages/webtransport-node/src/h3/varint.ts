/**
 * QUIC variable-length integers (RFC 9000 §16), and a chunk queue that parses them from a byte
 * stream.
 *
 * The two high bits of the first byte give the length (00 → 1, 01 → 2, 10 → 4, 11 → 8 bytes);
 * the remaining bits are the value, big-endian. Values are JavaScript numbers: every value this
 * package sends is at most `Number.MAX_SAFE_INTEGER` (2^53 − 1), while the wire allows up to
 * 2^62 − 1. Larger values on the wire only occur as GREASE identifiers (RFC 9114 §7.2.8,
 * §7.2.4.1), which are ignored, so {@link readVarint} returns them as the nearest double and
 * {@link readVarintBig} exists for the rare caller that needs them exactly.
 */

const TWO_POW_32 = 0x1_0000_0000

/**
 * The number of bytes (1, 2, 4 or 8) that the shortest encoding of `v` takes.
 *
 * @throws {RangeError} if `v` is not an integer in `[0, Number.MAX_SAFE_INTEGER]`.
 */
export function varintLength(v: number): 1 | 2 | 4 | 8 {
  if (!Number.isSafeInteger(v) || v < 0) {
    throw new RangeError(`varint value must be an integer in [0, 2^53-1], got ${v}`)
  }
  if (v <= 0x3f) return 1
  if (v <= 0x3fff) return 2
  if (v <= 0x3fff_ffff) return 4
  return 8
}

/**
 * Writes `v` at `offset` in its shortest encoding and returns the offset just past it.
 *
 * @throws {RangeError} if `v` is out of range (see {@link varintLength}) or `buf` is too short.
 */
export function writeVarint(buf: Uint8Array, offset: number, v: number): number {
  const length = varintLength(v)
  if (!Number.isInteger(offset) || offset < 0 || offset + length > buf.length) {
    throw new RangeError(`writeVarint: ${length} bytes do not fit at offset ${offset}`)
  }
  switch (length) {
    case 1:
      buf[offset] = v
      break
    case 2:
      buf[offset] = 0x40 | (v >>> 8)
      buf[offset + 1] = v & 0xff
      break
    case 4:
      buf[offset] = 0x80 | (v >>> 24)
      buf[offset + 1] = (v >>> 16) & 0xff
      buf[offset + 2] = (v >>> 8) & 0xff
      buf[offset + 3] = v & 0xff
      break
    case 8: {
      // Bitwise operators truncate to 32 bits, so split into two exact halves first.
      const hi = Math.floor(v / TWO_POW_32)
      const lo = v >>> 0
      buf[offset] = 0xc0 | (hi >>> 24)
      buf[offset + 1] = (hi >>> 16) & 0xff
      buf[offset + 2] = (hi >>> 8) & 0xff
      buf[offset + 3] = hi & 0xff
      buf[offset + 4] = lo >>> 24
      buf[offset + 5] = (lo >>> 16) & 0xff
      buf[offset + 6] = (lo >>> 8) & 0xff
      buf[offset + 7] = lo & 0xff
      break
    }
  }
  return offset + length
}

/**
 * `v` in its shortest encoding, as a new array.
 *
 * @throws {RangeError} if `v` is out of range (see {@link varintLength}).
 */
export function encodeVarint(v: number): Uint8Array {
  const out = new Uint8Array(varintLength(v))
  writeVarint(out, 0, v)
  return out
}

/**
 * Reads the varint at `offset`. Returns the value and the offset just past it, or `undefined`
 * when `buf` ends before the varint does (the caller waits for more input). Non-shortest
 * encodings are accepted, as RFC 9000 §16 requires.
 *
 * Values above 2^53 − 1 (8-byte encodings only) come back as the nearest double; they only
 * occur as GREASE identifiers, which callers ignore. Use {@link readVarintBig} for exact values.
 */
export function readVarint(
  buf: Uint8Array,
  offset: number,
): [value: number, next: number] | undefined {
  const first = buf[offset]
  if (first === undefined) return undefined
  const length = 1 << (first >>> 6)
  if (offset + length > buf.length) return undefined
  // Indexes below are in bounds (checked above), hence the non-null assertions.
  switch (length) {
    case 1:
      return [first, offset + 1]
    case 2:
      return [((first & 0x3f) << 8) | buf[offset + 1]!, offset + 2]
    case 4:
      return [
        (first & 0x3f) * 0x100_0000 +
          ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!),
        offset + 4,
      ]
    default: {
      const hi =
        (first & 0x3f) * 0x100_0000 +
        ((buf[offset + 1]! << 16) | (buf[offset + 2]! << 8) | buf[offset + 3]!)
      const lo =
        buf[offset + 4]! * 0x100_0000 +
        ((buf[offset + 5]! << 16) | (buf[offset + 6]! << 8) | buf[offset + 7]!)
      // hi * 2^32 is exact; the addition rounds to the nearest double above 2^53.
      return [hi * TWO_POW_32 + lo, offset + 8]
    }
  }
}

/**
 * Like {@link readVarint} but exact for the whole 62-bit range, as a `bigint`.
 */
export function readVarintBig(
  buf: Uint8Array,
  offset: number,
): [value: bigint, next: number] | undefined {
  const first = buf[offset]
  if (first === undefined) return undefined
  const length = 1 << (first >>> 6)
  if (offset + length > buf.length) return undefined
  let value = BigInt(first & 0x3f)
  for (let i = 1; i < length; i++) value = (value << 8n) | BigInt(buf[offset + i]!)
  return [value, offset + length]
}

/**
 * A FIFO of received chunks that parsers consume from the front: the shared buffering of
 * `FrameReader` and `CapsuleReader`.
 *
 * Chunks are kept by reference (never copied on push), so a chunk must not be modified after it
 * is pushed. Consuming never re-concatenates what is buffered: {@link ByteQueue.read} copies
 * exactly the bytes it returns, and {@link ByteQueue.readView} returns a view into one chunk.
 *
 * @internal Not part of the package's public API.
 */
export class ByteQueue {
  private chunks: Uint8Array[] = []
  /** Index in `chunks` of the first chunk with unconsumed bytes. */
  private head = 0
  /** Offset of the first unconsumed byte in `chunks[head]`. */
  private headOffset = 0
  private total = 0

  /** The number of bytes pushed and not yet consumed. */
  get length(): number {
    return this.total
  }

  /** Appends `chunk` (kept by reference). Empty chunks are ignored. */
  push(chunk: Uint8Array): void {
    if (chunk.length === 0) return
    this.chunks.push(chunk)
    this.total += chunk.length
  }

  /**
   * Copies up to `dst.length` bytes from the front, without consuming them, and returns how
   * many were copied. Used to peek at headers that may straddle chunks.
   */
  peekInto(dst: Uint8Array): number {
    let copied = 0
    let offset = this.headOffset
    for (let i = this.head; i < this.chunks.length && copied < dst.length; i++) {
      const chunk = this.chunks[i]!
      const n = Math.min(chunk.length - offset, dst.length - copied)
      dst.set(chunk.subarray(offset, offset + n), copied)
      copied += n
      offset = 0
    }
    return copied
  }

  /**
   * Consumes one varint from the front and returns it, or returns `undefined` (consuming
   * nothing) if the queue ends before the varint does.
   */
  readVarint(): number | undefined {
    const n = this.peekInto(SCRATCH)
    const parsed = readVarint(SCRATCH.subarray(0, n), 0)
    if (parsed === undefined) return undefined
    this.skip(parsed[1])
    return parsed[0]
  }

  /**
   * Discards `n` bytes from the front.
   *
   * @throws {RangeError} if fewer than `n` bytes are buffered.
   */
  skip(n: number): void {
    if (n > this.total) throw new RangeError(`ByteQueue.skip(${n}) with ${this.total} buffered`)
    this.total -= n
    while (n > 0) {
      const chunk = this.chunks[this.head]!
      const available = chunk.length - this.headOffset
      if (n < available) {
        this.headOffset += n
        return
      }
      n -= available
      this.dropHead()
    }
  }

  /**
   * Consumes `n` bytes from the front and returns them as a new array (a copy, so the caller
   * may keep it).
   *
   * @throws {RangeError} if fewer than `n` bytes are buffered.
   */
  read(n: number): Uint8Array {
    if (n > this.total) throw new RangeError(`ByteQueue.read(${n}) with ${this.total} buffered`)
    const out = new Uint8Array(n)
    this.peekInto(out)
    this.skip(n)
    return out
  }

  /**
   * Consumes up to `max` bytes from the front, but only from the first chunk, and returns them
   * as a view into that chunk (zero copy). Returns an empty array when nothing is buffered.
   */
  readView(max: number): Uint8Array {
    const chunk = this.chunks[this.head]
    if (chunk === undefined || max <= 0) return new Uint8Array(0)
    const n = Math.min(max, chunk.length - this.headOffset)
    const view = chunk.subarray(this.headOffset, this.headOffset + n)
    this.skip(n)
    return view
  }

  /**
   * Consumes everything buffered. A view when it all sits in one chunk, otherwise a copy.
   */
  readAll(): Uint8Array {
    if (this.chunks.length - this.head === 1) return this.readView(this.total)
    return this.read(this.total)
  }

  private dropHead(): void {
    this.chunks[this.head] = EMPTY // let the chunk be collected
    this.head++
    this.headOffset = 0
    if (this.head === this.chunks.length) {
      this.chunks = []
      this.head = 0
    } else if (this.head >= 64 && this.head * 2 >= this.chunks.length) {
      // Compact now and then so that the array does not grow forever on a long stream.
      this.chunks = this.chunks.slice(this.head)
      this.head = 0
    }
  }
}

const EMPTY = new Uint8Array(0)
/** Reused for peeking; safe because nothing here is re-entrant. */
const SCRATCH = new Uint8Array(8)
