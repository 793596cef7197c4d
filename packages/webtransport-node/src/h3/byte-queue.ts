/**
 * The buffer HTTP/3 and capsule parsers read a byte stream through: a queue of received chunks,
 * consumed from the front as varints and byte runs.
 */
import { readVarint } from '@ferry/wire'
import { h3Varint } from './varint.js'

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
    const parsed = readVarint(SCRATCH.subarray(0, n), 0, h3Varint)
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
