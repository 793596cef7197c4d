/**
 * Length-prefixed messages over web streams, the framing every ferry protocol shares: each
 * message is a varint (RFC 9000 §16, shortest form) byte length followed by that many bytes.
 * The reader turns arbitrarily chunked bytes back into whole messages; both ends enforce a
 * maximum message size, the reader before it buffers any of a message's body.
 */
import { encodeVarint, encodedVarintLength } from '@ferry/wire'
import { DecodeError } from '../errors.js'
import { ByteReader } from './varint.js'

/** Options of {@link FramedReader}, {@link FramedWriter} and {@link framed}. */
export interface FramedOptions {
  /** The largest message body in bytes (the length prefix not counted). */
  maxMessageBytes: number
}

function checkOptions(options: FramedOptions): number {
  const max = options?.maxMessageBytes
  if (!Number.isSafeInteger(max) || max < 0) {
    throw new RangeError('options.maxMessageBytes must be a non-negative integer')
  }
  return max
}

/**
 * Reads length-prefixed messages from a byte stream, holding the stream's lock until
 * {@link FramedReader.releaseLock} or {@link FramedReader.cancel}.
 *
 * Chunks may split messages and length prefixes anywhere and may carry many messages. Reads
 * run one at a time in call order, like a stream reader's.
 */
export class FramedReader {
  readonly #reader: ReadableStreamDefaultReader<Uint8Array>
  readonly #max: number
  /** Received chunks not yet consumed; the first starts at `#head`. */
  #chunks: Uint8Array[] = []
  #head = 0
  #buffered = 0
  #done = false
  /** The error every later read rejects with, once framing is lost or the stream failed. */
  #failure: { error: unknown } | undefined
  #queue: Promise<unknown> = Promise.resolve()

  /**
   * @throws {TypeError} if `readable` is locked.
   * @throws {RangeError} if `options.maxMessageBytes` is not a non-negative integer.
   */
  constructor(readable: ReadableStream<Uint8Array>, options: FramedOptions) {
    this.#max = checkOptions(options)
    this.#reader = readable.getReader()
  }

  /**
   * Resolves the next whole message, or `undefined` once the stream has ended cleanly between
   * messages.
   *
   * The message is the caller's to keep and change: a zero-copy view (`subarray`) of the
   * received chunk when it lies inside one chunk, a fresh copy when it spans chunks. A view
   * shares its `ArrayBuffer` with the rest of that chunk (other messages included), so do not
   * transfer or reuse `message.buffer` as a whole; `.slice()` a small message kept for long so
   * it does not pin a large chunk in memory.
   *
   * After a rejection every later read rejects with the same error.
   * @throws {DecodeError} `TRUNCATED` if the stream ends inside a length or a message;
   *   `TOO_LARGE` if a length is above `maxMessageBytes` (the stream is then cancelled with
   *   this error without pulling any more of it for the body); `NON_CANONICAL` for a length prefix
   *   that is not in its shortest form (also cancelling the stream).
   * @throws the stream's own error if it errors.
   */
  read(): Promise<Uint8Array | undefined> {
    const next = this.#queue.then(() => this.#readOne())
    // The queue only orders reads; each caller gets its own outcome through `next`.
    this.#queue = next.then(
      () => undefined,
      () => undefined,
    )
    return next
  }

  async #readOne(): Promise<Uint8Array | undefined> {
    if (this.#failure) throw this.#failure.error
    try {
      if (!(await this.#fill(1))) {
        if (this.#buffered === 0) return undefined
        throw new DecodeError('TRUNCATED', 'the stream ended inside a length prefix')
      }
      const first = this.#chunks[0]![this.#head]!
      const prefixLength = encodedVarintLength(first)
      if (!(await this.#fill(prefixLength))) {
        throw new DecodeError('TRUNCATED', 'the stream ended inside a length prefix')
      }
      const length = new ByteReader(this.#take(prefixLength)).varint()
      if (length > this.#max) {
        throw new DecodeError(
          'TOO_LARGE',
          `a message of ${length} bytes is above maxMessageBytes ${this.#max}`,
        )
      }
      if (!(await this.#fill(length))) {
        throw new DecodeError(
          'TRUNCATED',
          `the stream ended inside a message of ${length} bytes (${this.#buffered} arrived)`,
        )
      }
      return this.#take(length)
    } catch (error) {
      this.#failure = { error }
      this.#clear()
      if (!this.#done) {
        // Framing is lost, so nothing more can be read: stop the sender.
        this.#done = true
        try {
          await this.#reader.cancel(error)
        } catch {
          // `error` is what the caller must see; a source that cannot even cancel (an errored
          // stream rejects with its own error, already thrown) is broken, and this reader will
          // not touch it again.
        }
      }
      throw error
    }
  }

  #clear(): void {
    this.#chunks = []
    this.#head = 0
    this.#buffered = 0
  }

  /** Pulls chunks until `n` bytes are buffered; `false` if the stream ends first. */
  async #fill(n: number): Promise<boolean> {
    while (this.#buffered < n) {
      if (this.#done) return false
      const result = await this.#reader.read()
      if (result.done) {
        this.#done = true
        return false
      }
      const chunk = result.value
      if (!(chunk instanceof Uint8Array)) {
        throw new TypeError('the stream yielded a chunk that is not a Uint8Array')
      }
      if (chunk.length === 0) continue
      this.#chunks.push(chunk)
      this.#buffered += chunk.length
    }
    return true
  }

  /** Removes `n` buffered bytes: a view when they lie in the first chunk, else a copy. */
  #take(n: number): Uint8Array {
    const first = this.#chunks[0]
    if (n === 0 || first === undefined) return new Uint8Array(0)
    this.#buffered -= n
    if (this.#head + n <= first.length) {
      const view = first.subarray(this.#head, this.#head + n)
      this.#head += n
      if (this.#head === first.length) {
        this.#chunks.shift()
        this.#head = 0
      }
      return view
    }
    const out = new Uint8Array(n)
    let filled = 0
    while (filled < n) {
      const chunk = this.#chunks[0]!
      const count = Math.min(n - filled, chunk.length - this.#head)
      out.set(chunk.subarray(this.#head, this.#head + count), filled)
      filled += count
      this.#head += count
      if (this.#head === chunk.length) {
        this.#chunks.shift()
        this.#head = 0
      }
    }
    return out
  }

  /**
   * Yields messages until the stream ends cleanly. Leaving the loop early (`break`, `return`,
   * a throw in its body) cancels the stream, as a `ReadableStream`'s own iterator does.
   * @throws the errors of {@link FramedReader.read}.
   */
  async *[Symbol.asyncIterator](): AsyncGenerator<Uint8Array, void, undefined> {
    let finished = false
    try {
      for (;;) {
        const message = await this.read()
        if (message === undefined) {
          finished = true
          return
        }
        yield message
      }
    } catch (error) {
      finished = true
      throw error
    } finally {
      if (!finished) await this.cancel()
    }
  }

  /**
   * Releases the stream's lock; later reads reject with a `TypeError`, as a released stream
   * reader's do. Bytes already pulled from the stream but not yet returned as a message are
   * dropped, so call it only where the stream carries nothing more for this reader.
   */
  releaseLock(): void {
    this.#reader.releaseLock()
    this.#clear()
    this.#done = true
    this.#failure ??= { error: new TypeError('the FramedReader has released its stream') }
  }

  /**
   * Cancels the stream with `reason` and drops buffered bytes; later reads resolve `undefined`.
   * @throws the rejection of the stream's cancel, if any.
   */
  async cancel(reason?: unknown): Promise<void> {
    this.#clear()
    this.#done = true
    await this.#reader.cancel(reason)
  }
}

/**
 * Writes length-prefixed messages to a byte stream, holding the stream's lock until
 * {@link FramedWriter.releaseLock}, {@link FramedWriter.close} or {@link FramedWriter.abort}.
 */
export class FramedWriter {
  readonly #writer: WritableStreamDefaultWriter<Uint8Array>
  readonly #max: number
  /** The first failed write's error, for the next write() and close(). */
  #failure: { error: unknown } | undefined

  /**
   * @throws {TypeError} if `writable` is locked.
   * @throws {RangeError} if `options.maxMessageBytes` is not a non-negative integer.
   */
  constructor(writable: WritableStream<Uint8Array>, options: FramedOptions) {
    this.#max = checkOptions(options)
    this.#writer = writable.getWriter()
  }

  /**
   * Writes `message` with its length prefix as one chunk (a copy; `message` may be reused once
   * the call returns). Waits for the stream to want more (`writer.ready`) first, so awaiting
   * each write keeps a slow peer from growing memory; concurrent writes keep their call order.
   *
   * Resolves once the chunk is queued, not when the sink has taken it: a failure of the sink
   * rejects the next `write()` and {@link FramedWriter.close} with the sink's error.
   * @throws {RangeError} if `message` is longer than `maxMessageBytes`.
   * @throws {TypeError} if `message` is not a `Uint8Array`.
   * @throws the stream's error if it is errored or closed.
   */
  async write(message: Uint8Array): Promise<void> {
    if (!(message instanceof Uint8Array)) throw new TypeError('message must be a Uint8Array')
    if (message.length > this.#max) {
      throw new RangeError(`message is ${message.length} bytes, above maxMessageBytes ${this.#max}`)
    }
    const prefix = encodeVarint(message.length)
    const chunk = new Uint8Array(prefix.length + message.length)
    chunk.set(prefix)
    chunk.set(message, prefix.length)
    this.#throwIfFailed()
    await this.#writer.ready
    // Not awaited: it settles only when the sink has taken the chunk, which would allow one
    // chunk in flight at a time. A failure is kept for the next write and for close(), where
    // the stream itself would only report a TypeError for its errored state.
    this.#writer.write(chunk).catch((error: unknown) => {
      this.#failure ??= { error }
    })
  }

  /**
   * Closes the stream once every queued message is written.
   * @throws the error of a failed write, or the stream's error.
   */
  async close(): Promise<void> {
    this.#throwIfFailed()
    try {
      await this.#writer.close()
    } catch (error) {
      // The stream reports a write failure only as a TypeError for its errored state.
      this.#throwIfFailed()
      throw error
    }
  }

  #throwIfFailed(): void {
    if (this.#failure) throw this.#failure.error
  }

  /** Aborts the stream with `reason`, dropping queued messages. */
  async abort(reason?: unknown): Promise<void> {
    await this.#writer.abort(reason)
  }

  /** Releases the stream's lock; queued messages are still written. */
  releaseLock(): void {
    this.#writer.releaseLock()
  }
}

/** A bidirectional stream as messages, from {@link framed}. */
export interface Framed {
  /** The messages the peer sends. */
  reader: FramedReader
  /** Sends messages to the peer. */
  writer: FramedWriter
}

/**
 * Wraps a bidirectional stream for messages in both directions.
 * @throws {TypeError} if either side is locked.
 * @throws {RangeError} if `options.maxMessageBytes` is not a non-negative integer.
 */
export function framed(
  stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  options: FramedOptions,
): Framed {
  return {
    reader: new FramedReader(stream.readable, options),
    writer: new FramedWriter(stream.writable, options),
  }
}
