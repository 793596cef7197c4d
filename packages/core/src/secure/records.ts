/**
 * End-to-end encryption of streams and datagrams after the Noise handshake ("encrypted
 * mode", for relayed connections and unpinned direct ones), with AES-256-GCM from `#aead`
 * (node:crypto under Node, WebCrypto elsewhere; see `aead.ts`).
 *
 * Wire format
 * ===========
 *
 * Keys. Noise `split()` gives two 32-byte keys. The dialer (the Noise initiator) seals with
 * `initiatorToResponder` and opens with `responderToInitiator`; the acceptor the other way
 * round. Each is imported once as a non-extractable AES-256-GCM key.
 *
 * Nonce (12 bytes), unique per key:
 *
 *     class u8 | stream index u24 big-endian | record counter u64 big-endian
 *
 *   class 0: bidi stream opened by the dialer    class 2: uni stream opened by the dialer
 *   class 1: bidi stream opened by the acceptor  class 3: uni stream opened by the acceptor
 *   class 4: datagram (stream index 0, record counter = datagram sequence)
 *
 * Both directions of a bidi stream use its class and index, each under its sender's key.
 * Stream indexes count up from 0 per class, chosen by the opener.
 *
 * Stream, opener's direction: a preamble, then records. The acceptor's direction of a bidi
 * stream: records only.
 *
 *     preamble = stream index as a QUIC varint (RFC 9000 §16: 1, 2, 4 or 8 bytes, the top two
 *                bits of the first byte giving the length), shortest form only, < 2^24
 *     record   = type u8 | length u24 big-endian | ciphertext (length bytes)
 *
 *   The preamble is written the moment the stream is opened, before any data, so the acceptor
 *   learns the index (and can answer on a bidi stream) before the opener writes anything.
 *   ciphertext = AES-256-GCM(plaintext), 16-byte tag included; additional data = the 4 header
 *   bytes; nonce = (class, index, counter), where counter starts at 0 for each stream and
 *   direction and counts every record. So a record that is dropped, duplicated, reordered, or
 *   moved to another stream or direction does not authenticate.
 *   type 0, data: 1 to 65536 plaintext bytes (length 17 to 65552), so a 64 KiB write is one
 *                 record.
 *   type 1, end:  empty plaintext (length 16). It authenticates the clean end of the direction;
 *                 the transport stream must end right after it.
 *
 * Datagram:
 *
 *     sequence u64 big-endian | AES-256-GCM ciphertext (16-byte tag included)
 *
 *   sequence counts from 0 per sender; nonce = (4, 0, sequence); additional data = the 8
 *   sequence bytes; so the overhead is 24 bytes.
 *
 * Limits and errors (RecordError codes)
 * =====================================
 *
 * - A key seals at most 2^24 records, streams and datagrams together (one counter per key):
 *   within TLS 1.3's usage limit for AES-GCM (RFC 8446 §5.5). Beyond: KEY_EXHAUSTED.
 * - At most 2^24 streams per class (indexes 0 to 2^24 - 1). Beyond: KEY_EXHAUSTED.
 * - MALFORMED, found before decrypting: a non-minimal preamble or an index >= 2^24; a record
 *   type other than 0 or 1; a data record of length <= 16; an end record of length other
 *   than 16; bytes after the end record; a datagram under 24 bytes.
 * - AUTH_FAILED: a record or datagram that does not authenticate, or a datagram sequence no
 *   key may reach (>= 2^24).
 * - TRUNCATED: a stream that ends before its end record (or inside its preamble).
 * - REPLAYED, streams: per class the acceptor keeps a low-water mark (every index below it
 *   has been accepted) and the set of accepted indexes above it. An index below the mark or
 *   in the set is REPLAYED. The set holds at most 4096 indexes: an index that would make it
 *   larger is TOO_LARGE (the peer skipped too far ahead).
 * - REPLAYED, datagrams: a 128-wide sliding window over the highest sequence that
 *   authenticated, as in DTLS (RFC 6347 §4.1.2.6): a duplicate, or a sequence 128 or more
 *   below the highest, is REPLAYED; reordering within the window is accepted.
 *
 * A preamble is not authenticated until the stream's first record is, so an on-path attacker
 * can spend an index (the real stream then fails as REPLAYED); an attacker on the path can
 * reset streams anyway, so this gives it nothing new.
 */
import { importAeadKey } from '#aead'
import { RecordError } from '../errors.js'
import type { AeadKey } from './aead.js'
import { concat } from '../internal/bytes.js'
import type { BidiStream } from '../session.js'

/**
 * Which side opened a stream and its kind: 0 bidi opened by the dialer, 1 bidi opened by the
 * acceptor, 2 uni opened by the dialer, 3 uni opened by the acceptor. It is the first byte of
 * every nonce on the stream.
 */
export type StreamClass = 0 | 1 | 2 | 3

/** The most plaintext one stream record carries; larger writes are split. */
export const maxRecordPlaintext = 65536

/** Bytes a sealed datagram adds to its payload: the 8-byte sequence and the 16-byte tag. */
export const datagramOverhead = 24

const tagLength = 16
const headerLength = 4
const sequenceLength = 8
const dataRecord = 0
const endRecord = 1
const datagramClass = 4
/** Per key, streams and datagrams together. */
const maxRecordsPerKey = 2 ** 24
/** Stream indexes are u24 in the nonce. */
const maxStreamsPerClass = 2 ** 24
/** Accepted stream indexes remembered above the low-water mark, per class. */
const maxIndexesAboveMark = 4096
const datagramWindow = 128
/**
 * Encryptions (or decryptions) in flight per stream. `crypto.subtle` calls are asynchronous
 * and run off the main thread; keeping a few in flight, in order, overlaps them with each
 * other and with the transport instead of paying a round trip per record.
 */
const pipelineDepth = 4

/** Options for {@link RecordLayer.create}. */
export interface RecordLayerOptions {
  /** The 32-byte key we seal with: `initiatorToResponder` on the dialer. */
  sendKey: Uint8Array
  /** The 32-byte key we open with: `responderToInitiator` on the dialer. */
  receiveKey: Uint8Array
  /** Whether we dialed (were the Noise initiator); it decides our streams' classes. */
  isDialer: boolean
  /**
   * @internal Lower limits, for tests only: records per send key (default 2^24) and streams
   * opened per class (default 2^24).
   */
  _limits?: { records?: number; streams?: number }
}

/** Options for {@link RecordLayer.acceptedBidi} and {@link RecordLayer.acceptedUni}. */
export interface AcceptOptions {
  /** Stops waiting for the preamble; the stream is cancelled with the signal's reason. */
  signal?: AbortSignal
}

function nonce(nonceClass: number, index: number, counter: number): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12)
  const view = new DataView(iv.buffer)
  view.setUint32(0, ((nonceClass << 24) | index) >>> 0)
  view.setUint32(4, Math.floor(counter / 0x1_0000_0000))
  view.setUint32(8, counter >>> 0)
  return iv
}

/**
 * A promise's outcome as a value. `crypto.subtle` promises are settled out of order but
 * consumed in order; converting them at once keeps a failure from counting as unhandled.
 */
type Outcome<T> = { ok: true; value: T } | { ok: false; error: unknown }

function settle<T>(promise: Promise<T>): Promise<Outcome<T>> {
  return promise.then(
    (value) => ({ ok: true, value }),
    (error: unknown) => ({ ok: false, error }),
  )
}

/** A stream preamble: the index as the shortest QUIC varint (< 2^24, so at most 4 bytes). */
function encodeIndex(index: number): Uint8Array {
  if (index < 0x40) return Uint8Array.of(index)
  if (index < 0x4000) return Uint8Array.of(0x40 | (index >> 8), index & 0xff)
  return Uint8Array.of(0x80, index >> 16, (index >> 8) & 0xff, index & 0xff)
}

/**
 * Parses a preamble at the start of `bytes`: `undefined` while more bytes are needed.
 *
 * @throws RecordError `MALFORMED` for a non-minimal varint or an index >= 2^24.
 */
function decodeIndex(bytes: Uint8Array): { index: number; length: number } | undefined {
  if (bytes.length === 0) return undefined
  const prefix = bytes[0]! >> 6
  const length = 1 << prefix
  if (bytes.length < length) return undefined
  // Up to 62 bits: a double is exact below 2^53, and anything larger fails both checks anyway.
  let value = bytes[0]! & 0x3f
  for (let i = 1; i < length; i++) value = value * 256 + bytes[i]!
  const minimum = [0, 0x40, 0x4000, 0x4000_0000][prefix]!
  if (value < minimum) {
    throw new RecordError('MALFORMED', `stream preamble: non-minimal ${length}-byte varint`)
  }
  if (value >= maxStreamsPerClass) {
    throw new RecordError('MALFORMED', `stream preamble: index ${value} is not below 2^24`)
  }
  return { index: value, length }
}

/** Why a record header is refused, or `undefined` if it is acceptable. */
function headerProblem(type: number, length: number): string | undefined {
  if (type === dataRecord) {
    return length > tagLength && length <= maxRecordPlaintext + tagLength
      ? undefined
      : `a data record of length ${length} (17 to ${maxRecordPlaintext + tagLength})`
  }
  if (type === endRecord) {
    return length === tagLength ? undefined : `an end record of length ${length} (must be 16)`
  }
  return `unknown record type ${type}`
}

/** The send key and its record budget, shared by every stream and datagram it seals. */
class SealingKey {
  private used = 0

  constructor(
    readonly key: AeadKey,
    private readonly limit: number,
  ) {}

  /** Claims one record's nonce. @throws RecordError `KEY_EXHAUSTED` past the budget. */
  claim(): void {
    if (this.used >= this.limit) {
      throw new RecordError(
        'KEY_EXHAUSTED',
        `this key has sealed its ${this.limit} records; the connection needs a new handshake`,
      )
    }
    this.used++
  }
}

/** The stream indexes of one class the peer has opened: a low-water mark and a set above it. */
class AcceptedIndexes {
  private mark = 0
  private readonly above = new Set<number>()

  /** Records `index` as accepted. @throws RecordError `REPLAYED` or `TOO_LARGE`. */
  accept(index: number): void {
    if (index < this.mark || this.above.has(index)) {
      throw new RecordError('REPLAYED', `stream index ${index} was already accepted`)
    }
    if (index === this.mark) {
      this.mark++
      while (this.above.delete(this.mark)) this.mark++
      return
    }
    if (this.above.size >= maxIndexesAboveMark) {
      throw new RecordError(
        'TOO_LARGE',
        `stream index ${index}: already ${maxIndexesAboveMark} indexes accepted above ${this.mark}, which has not arrived`,
      )
    }
    this.above.add(index)
  }
}

/** The sliding replay window over datagram sequence numbers. */
class DatagramWindow {
  private highest = -1
  /** `seen[s % 128]` for the sequences `highest - 127 .. highest`. */
  private readonly seen = new Uint8Array(datagramWindow)

  /** @throws RecordError `REPLAYED` for a duplicate or a sequence behind the window. */
  check(sequence: number): void {
    if (sequence > this.highest) return
    if (this.highest - sequence >= datagramWindow) {
      throw new RecordError('REPLAYED', `datagram ${sequence} is behind the replay window`)
    }
    if (this.seen[sequence % datagramWindow]) {
      throw new RecordError('REPLAYED', `datagram ${sequence} was already received`)
    }
  }

  /** Marks an authenticated `sequence` (already checked) as seen. */
  mark(sequence: number): void {
    if (sequence > this.highest) {
      const slide = Math.min(sequence - this.highest, datagramWindow)
      for (let i = 1; i <= slide; i++) this.seen[(this.highest + i) % datagramWindow] = 0
      this.highest = sequence
    }
    this.seen[sequence % datagramWindow] = 1
  }
}

/**
 * The sink behind a plaintext writable: splits writes into records, seals up to
 * `pipelineDepth` at once and writes them to the transport in order. Backpressure: no record
 * is sealed while the transport's writer is not ready, and `write()` settles only when its
 * last record has been handed to `crypto.subtle` (which copies the plaintext at once, so the
 * caller may reuse its buffer), so the plaintext writer's `ready` follows the transport's.
 */
class StreamSealer implements UnderlyingSink<Uint8Array> {
  private counter = 0
  /** Resolves when every record sealed so far has been handed to the transport. */
  private chain: Promise<void> = Promise.resolve()
  private readonly inFlight: Promise<void>[] = []
  private failure: { error: unknown } | undefined
  private controller: WritableStreamDefaultController | undefined

  constructor(
    private readonly writer: WritableStreamDefaultWriter<Uint8Array>,
    private readonly sealing: SealingKey,
    private readonly streamClass: StreamClass,
    private readonly index: number,
  ) {}

  start(controller: WritableStreamDefaultController): void {
    this.controller = controller
    // An abort must reach the transport even while a write waits on the transport's
    // backpressure (the stream would otherwise hold the abort until that write settles). The
    // outcome is reported by abort() below, which returns the same abort. (Engines without
    // `controller.signal` still abort, once the pending write settles.)
    controller.signal?.addEventListener(
      'abort',
      () => void this.writer.abort(controller.signal.reason).catch(() => undefined),
      { once: true },
    )
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (!(chunk instanceof Uint8Array)) throw new TypeError('chunk: expected a Uint8Array')
    try {
      for (let offset = 0; offset < chunk.length; offset += maxRecordPlaintext) {
        await this.seal(dataRecord, chunk.subarray(offset, offset + maxRecordPlaintext))
      }
    } catch (error) {
      throw this.fail(error)
    }
  }

  async close(): Promise<void> {
    try {
      await this.seal(endRecord, new Uint8Array(0))
      await this.chain
      this.rethrow()
      await this.writer.close()
    } catch (error) {
      throw this.fail(error)
    }
  }

  abort(reason: unknown): Promise<void> {
    return this.writer.abort(reason)
  }

  /** Writes the preamble now (the transport queues it; the writer is always ready at first). */
  preamble(bytes: Uint8Array): void {
    this.writer.write(bytes).catch((error: unknown) => this.fail(error))
  }

  private async seal(type: number, plaintext: Uint8Array): Promise<void> {
    for (;;) {
      this.rethrow()
      await this.writer.ready
      if (this.inFlight.length < pipelineDepth) break
      await this.inFlight[0]
    }
    this.rethrow()
    this.sealing.claim()
    const length = plaintext.length + tagLength
    const header = Uint8Array.of(type, length >> 16, (length >> 8) & 0xff, length & 0xff)
    const sealed = settle(
      this.sealing.key.seal(
        nonce(this.streamClass, this.index, this.counter++),
        header,
        plaintext,
        headerLength,
      ),
    )
    const step = this.chain
      .then(() => sealed)
      .then((outcome) => {
        if (!outcome.ok) throw outcome.error
        if (this.failure) return
        // The AEAD left room for the header: the transport gets one chunk per record.
        const record = outcome.value
        record.set(header)
        this.writer.write(record).catch((error: unknown) => this.fail(error))
      })
      .catch((error: unknown) => void this.fail(error))
      .finally(() => void this.inFlight.shift())
    this.chain = step
    this.inFlight.push(step)
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error
  }

  /**
   * Ends the stream on a failure: the plaintext writable errors with it and the transport
   * stream is aborted with it (so the peer sees a reset, not a hang). Returns the first error.
   */
  private fail(error: unknown): unknown {
    if (!this.failure) {
      this.failure = { error }
      this.controller?.error(error)
      this.writer.abort(error).catch(() => undefined)
    }
    return this.failure.error
  }
}

/**
 * The transformer between a transport readable and its plaintext readable: parses records
 * across any chunk boundaries, opens up to `pipelineDepth` at once and enqueues their
 * plaintexts in order. A failure is delivered in stream order too: the records before it are
 * enqueued first, then the readable errors (and the pipe cancels the transport stream with
 * the same error).
 */
class StreamOpener implements Transformer<Uint8Array, Uint8Array> {
  private controller!: TransformStreamDefaultController<Uint8Array>
  private counter = 0
  private readonly header = new Uint8Array(headerLength)
  private headerFill = 0
  /** A ciphertext that spans chunks, being assembled. */
  private record: Uint8Array<ArrayBuffer> | undefined
  private recordFill = 0
  /** The end record's header has been read. */
  private ended = false
  /** No more input is parsed: a failure is pending or delivered. */
  private stopped = false
  /** The readable has errored (or was cancelled): nothing more is enqueued. */
  private errored = false
  private chain: Promise<void> = Promise.resolve()
  private readonly inFlight: Promise<void>[] = []

  constructor(
    private readonly key: AeadKey,
    private readonly streamClass: StreamClass,
    private readonly index: number,
    /** Bytes that arrived with the preamble. */
    private readonly initial: Uint8Array,
  ) {}

  start(controller: TransformStreamDefaultController<Uint8Array>): Promise<void> | undefined {
    this.controller = controller
    // Parse at once: a record that came with the preamble must not wait for more input.
    return this.initial.length > 0 ? this.consume(this.initial) : undefined
  }

  transform(chunk: Uint8Array): Promise<void> {
    return this.consume(chunk)
  }

  async flush(): Promise<void> {
    // `ended` is set by the end record's header; its ciphertext may still be incomplete.
    if (!this.stopped && (!this.ended || this.record !== undefined)) {
      this.failInOrder(new RecordError('TRUNCATED', 'the stream ended without its end record'))
    }
    await this.chain
  }

  private async consume(chunk: Uint8Array): Promise<void> {
    if (this.stopped) return
    if (!(chunk instanceof Uint8Array)) {
      this.failInOrder(new TypeError('the transport stream gave a chunk that is not a Uint8Array'))
      return
    }
    let offset = 0
    while (offset < chunk.length && !this.stopped) {
      if (this.record === undefined) {
        if (this.ended) {
          this.failInOrder(new RecordError('MALFORMED', 'bytes after the end record'))
          return
        }
        const take = Math.min(headerLength - this.headerFill, chunk.length - offset)
        this.header.set(chunk.subarray(offset, offset + take), this.headerFill)
        this.headerFill += take
        offset += take
        if (this.headerFill < headerLength) return
        this.headerFill = 0
        const type = this.header[0]!
        const length = (this.header[1]! << 16) | (this.header[2]! << 8) | this.header[3]!
        const problem = headerProblem(type, length)
        if (problem !== undefined) {
          this.failInOrder(new RecordError('MALFORMED', problem))
          return
        }
        if (type === endRecord) this.ended = true
        if (chunk.length - offset >= length) {
          // The whole ciphertext is in this chunk: open it in place.
          await this.open(chunk.subarray(offset, offset + length))
          offset += length
          continue
        }
        this.record = new Uint8Array(length)
        this.recordFill = 0
      }
      const take = Math.min(this.record.length - this.recordFill, chunk.length - offset)
      this.record.set(chunk.subarray(offset, offset + take), this.recordFill)
      this.recordFill += take
      offset += take
      if (this.recordFill === this.record.length) {
        const ciphertext = this.record
        this.record = undefined
        await this.open(ciphertext)
      }
    }
  }

  private async open(ciphertext: Uint8Array): Promise<void> {
    const header = this.header.slice()
    while (this.inFlight.length >= pipelineDepth) await this.inFlight[0]
    if (this.stopped) return
    const opened = settle(
      this.key.open(nonce(this.streamClass, this.index, this.counter++), header, ciphertext),
    )
    const step = this.chain
      .then(() => opened)
      .then((outcome) => {
        if (!outcome.ok) {
          const message = 'a record did not authenticate (tampered, reordered or misplaced)'
          this.errorNow(new RecordError('AUTH_FAILED', message, { cause: outcome.error }))
        } else if (outcome.value.byteLength > 0) {
          this.deliver(outcome.value)
        }
      })
      .finally(() => void this.inFlight.shift())
    this.chain = step
    this.inFlight.push(step)
  }

  private deliver(plaintext: Uint8Array): void {
    if (this.errored) return
    try {
      this.controller.enqueue(plaintext)
    } catch {
      // The reader cancelled the plaintext readable: nobody wants the rest, and the pipe has
      // already cancelled the transport stream with the reader's reason.
      this.errored = this.stopped = true
    }
  }

  private errorNow(error: unknown): void {
    if (this.errored) return
    this.errored = this.stopped = true
    this.controller.error(error)
  }

  /** Stops parsing; errors the readable after the records already being opened. */
  private failInOrder(error: unknown): void {
    this.stopped = true
    this.chain = this.chain.then(() => this.errorNow(error))
  }
}

/**
 * Reads a stream preamble: the index and the bytes after it (a view of the transport's
 * chunk). On failure the transport readable is cancelled with the error.
 */
async function readPreamble(
  readable: ReadableStream<Uint8Array>,
  signal: AbortSignal | undefined,
): Promise<{ index: number; rest: Uint8Array }> {
  const reader = readable.getReader()
  let onAbort: (() => void) | undefined
  // Rejects with the signal's reason, as it is (whatever the caller aborted with).
  const aborted = new Promise<void>((resolve) => {
    if (!signal) return
    onAbort = () => resolve()
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', onAbort, { once: true })
  }).then((): never => {
    throw signal?.reason
  })
  // Raced below; when it loses, its later rejection is not an error.
  aborted.catch(() => undefined)
  try {
    let pending: Uint8Array = new Uint8Array(0)
    for (;;) {
      const parsed = decodeIndex(pending)
      if (parsed) {
        reader.releaseLock()
        return { index: parsed.index, rest: pending.subarray(parsed.length) }
      }
      const { value, done } = await Promise.race([reader.read(), aborted])
      if (done) throw new RecordError('TRUNCATED', 'the stream ended inside its preamble')
      if (!(value instanceof Uint8Array)) {
        throw new TypeError('the transport stream gave a chunk that is not a Uint8Array')
      }
      // Rarely more than one chunk: copy only then.
      pending = pending.length === 0 ? value : concat(pending, value)
    }
  } catch (error) {
    // The cancel settles any pending read, so the lock can go. Its own failure (the stream
    // already errored) changes nothing: the caller gets `error`.
    await reader.cancel(error).catch(() => undefined)
    reader.releaseLock()
    throw error
  } finally {
    if (signal && onAbort) signal.removeEventListener('abort', onAbort)
  }
}

/** Gives up on a transport stream we will not use. */
function abandon(stream: Partial<BidiStream>, reason: unknown): void {
  stream.readable?.cancel(reason).catch(() => undefined)
  stream.writable?.abort(reason).catch(() => undefined)
}

/**
 * The record layer of one encrypted connection: wraps every stream and datagram of the
 * connection, in both directions (the wire format is at the top of this file). Create it with
 * {@link RecordLayer.create} from the Noise `split()` keys.
 *
 * Stream wrappers keep the transport's semantics: backpressure end to end (a plaintext
 * writer's `ready` waits on the transport writable; nothing buffers without bound); closing
 * the plaintext writable writes the end record, then closes the transport writable; aborting
 * it aborts the transport writable with the same reason; cancelling the plaintext readable
 * cancels the transport readable with the same reason; an error of the transport readable
 * errors the plaintext readable; a {@link RecordError} errors the plaintext readable and
 * cancels the transport readable with it. Plaintext chunks are new arrays the reader owns.
 */
export class RecordLayer {
  private readonly nextIndex = [0, 0, 0, 0]
  private readonly accepted = [
    new AcceptedIndexes(),
    new AcceptedIndexes(),
    new AcceptedIndexes(),
    new AcceptedIndexes(),
  ]
  private nextSequence = 0
  private readonly datagrams = new DatagramWindow()

  private constructor(
    private readonly sealing: SealingKey,
    private readonly opening: AeadKey,
    private readonly isDialer: boolean,
    private readonly streamLimit: number,
  ) {}

  /**
   * Imports the two keys (non-extractable) and starts every counter at zero. Each key must be
   * used by one record layer only: a second layer with the same send key would repeat nonces.
   *
   * @throws TypeError if a key is not 32 bytes, the two keys are equal (that would repeat
   *   nonces across the two directions), or `isDialer` is not a boolean.
   */
  static async create(options: RecordLayerOptions): Promise<RecordLayer> {
    const { sendKey, receiveKey, isDialer, _limits } = options
    for (const [name, key] of [
      ['sendKey', sendKey],
      ['receiveKey', receiveKey],
    ] as const) {
      if (!(key instanceof Uint8Array) || key.length !== 32) {
        throw new TypeError(`${name}: expected 32 bytes`)
      }
    }
    if (sendKey.every((b, i) => b === receiveKey[i])) {
      throw new TypeError('sendKey and receiveKey must differ')
    }
    if (typeof isDialer !== 'boolean') throw new TypeError('isDialer: expected a boolean')
    const [send, receive] = await Promise.all([importAeadKey(sendKey), importAeadKey(receiveKey)])
    return new RecordLayer(
      new SealingKey(send, _limits?.records ?? maxRecordsPerKey),
      receive,
      isDialer,
      _limits?.streams ?? maxStreamsPerClass,
    )
  }

  /**
   * Wraps a bidi stream we opened: writes its preamble at once and returns the plaintext
   * ends (the readable carries the peer's answer).
   *
   * @throws RecordError `KEY_EXHAUSTED` after 2^24 bidi streams; the transport stream is
   *   then cancelled and aborted.
   */
  openedBidi(stream: BidiStream): BidiStream {
    const streamClass: StreamClass = this.isDialer ? 0 : 1
    const index = this.claimIndex(streamClass, stream)
    return {
      readable: this.openingReadable(stream.readable, streamClass, index, new Uint8Array(0)),
      writable: this.sealingWritable(stream.writable, streamClass, index, encodeIndex(index)),
    }
  }

  /**
   * Wraps a uni stream we opened: writes its preamble at once and returns the plaintext
   * writable.
   *
   * @throws RecordError `KEY_EXHAUSTED` after 2^24 uni streams; the transport stream is then
   *   aborted.
   */
  openedUni(writable: WritableStream<Uint8Array>): WritableStream<Uint8Array> {
    const streamClass: StreamClass = this.isDialer ? 2 : 3
    const index = this.claimIndex(streamClass, { writable })
    return this.sealingWritable(writable, streamClass, index, encodeIndex(index))
  }

  /**
   * Wraps a bidi stream the peer opened: reads its preamble first, then returns the plaintext
   * ends (our writable carries no preamble).
   *
   * @throws RecordError `MALFORMED` (bad preamble), `TRUNCATED` (the stream ended inside it),
   *   `REPLAYED` (an index accepted before) or `TOO_LARGE` (an index too far ahead); the
   *   transport stream is then cancelled and aborted with the error. An error of the
   *   transport readable, or the signal's reason, is passed on as it is.
   */
  async acceptedBidi(stream: BidiStream, options: AcceptOptions = {}): Promise<BidiStream> {
    const streamClass: StreamClass = this.isDialer ? 1 : 0
    const { index, rest } = await this.acceptPreamble(stream, streamClass, options.signal)
    return {
      readable: this.openingReadable(stream.readable, streamClass, index, rest),
      writable: this.sealingWritable(stream.writable, streamClass, index, undefined),
    }
  }

  /**
   * Wraps a uni stream the peer opened: reads its preamble first, then returns the plaintext
   * readable.
   *
   * @throws RecordError as {@link RecordLayer.acceptedBidi}; the transport stream is then
   *   cancelled with the error.
   */
  async acceptedUni(
    readable: ReadableStream<Uint8Array>,
    options: AcceptOptions = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const streamClass: StreamClass = this.isDialer ? 3 : 2
    const { index, rest } = await this.acceptPreamble({ readable }, streamClass, options.signal)
    return this.openingReadable(readable, streamClass, index, rest)
  }

  /**
   * Seals one datagram: `payload.length + 24` bytes, in a new array.
   *
   * @throws TypeError if `payload` is not a Uint8Array.
   * @throws RecordError `KEY_EXHAUSTED` once the send key has sealed 2^24 records.
   */
  async sealDatagram(payload: Uint8Array): Promise<Uint8Array> {
    if (!(payload instanceof Uint8Array)) throw new TypeError('payload: expected a Uint8Array')
    this.sealing.claim()
    const sequence = this.nextSequence++
    const head = new Uint8Array(sequenceLength)
    new DataView(head.buffer).setUint32(4, sequence)
    const ciphertext = await this.sealing.key.seal(nonce(datagramClass, 0, sequence), head, payload)
    const sealed = new Uint8Array(sequenceLength + ciphertext.byteLength)
    sealed.set(head)
    sealed.set(ciphertext, sequenceLength)
    return sealed
  }

  /**
   * Opens one sealed datagram and returns its payload (a new array).
   *
   * @throws TypeError if `sealed` is not a Uint8Array.
   * @throws RecordError `MALFORMED` (under 24 bytes), `AUTH_FAILED` (does not authenticate),
   *   `REPLAYED` (a duplicate, or older than the 128-datagram window).
   */
  async openDatagram(sealed: Uint8Array): Promise<Uint8Array> {
    if (!(sealed instanceof Uint8Array)) throw new TypeError('sealed: expected a Uint8Array')
    if (sealed.length < datagramOverhead) {
      throw new RecordError(
        'MALFORMED',
        `a sealed datagram has at least ${datagramOverhead} bytes, not ${sealed.length}`,
      )
    }
    const head = sealed.slice(0, sequenceLength)
    const view = new DataView(head.buffer)
    const sequence = view.getUint32(4)
    if (view.getUint32(0) !== 0 || sequence >= maxRecordsPerKey) {
      throw new RecordError('AUTH_FAILED', 'a datagram sequence no key can reach (>= 2^24)')
    }
    this.datagrams.check(sequence)
    let payload: Uint8Array
    try {
      payload = await this.opening.open(
        nonce(datagramClass, 0, sequence),
        head,
        sealed.subarray(sequenceLength),
      )
    } catch (cause) {
      throw new RecordError('AUTH_FAILED', 'a datagram did not authenticate', { cause })
    }
    // Two copies of one datagram may both have passed the first check while decrypting.
    this.datagrams.check(sequence)
    this.datagrams.mark(sequence)
    return payload
  }

  private claimIndex(streamClass: StreamClass, stream: Partial<BidiStream>): number {
    const index = this.nextIndex[streamClass]!
    if (index >= this.streamLimit) {
      const error = new RecordError(
        'KEY_EXHAUSTED',
        `all ${this.streamLimit} stream indexes of class ${streamClass} are used`,
      )
      abandon(stream, error)
      throw error
    }
    this.nextIndex[streamClass] = index + 1
    return index
  }

  private async acceptPreamble(
    stream: Partial<BidiStream> & { readable: ReadableStream<Uint8Array> },
    streamClass: StreamClass,
    signal: AbortSignal | undefined,
  ): Promise<{ index: number; rest: Uint8Array }> {
    try {
      const preamble = await readPreamble(stream.readable, signal)
      try {
        this.accepted[streamClass]!.accept(preamble.index)
      } catch (error) {
        stream.readable.cancel(error).catch(() => undefined)
        throw error
      }
      return preamble
    } catch (error) {
      // readPreamble cancelled the readable already.
      stream.writable?.abort(error).catch(() => undefined)
      throw error
    }
  }

  private sealingWritable(
    writable: WritableStream<Uint8Array>,
    streamClass: StreamClass,
    index: number,
    preamble: Uint8Array | undefined,
  ): WritableStream<Uint8Array> {
    const sealer = new StreamSealer(writable.getWriter(), this.sealing, streamClass, index)
    if (preamble) sealer.preamble(preamble)
    return new WritableStream(sealer)
  }

  private openingReadable(
    readable: ReadableStream<Uint8Array>,
    streamClass: StreamClass,
    index: number,
    initial: Uint8Array,
  ): ReadableStream<Uint8Array> {
    const opener = new StreamOpener(this.opening, streamClass, index, initial)
    return readable.pipeThrough(
      new TransformStream(opener, { highWaterMark: 1 }, { highWaterMark: 1 }),
    )
  }
}
