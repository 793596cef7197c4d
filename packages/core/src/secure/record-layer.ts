import { RecordError } from '../errors.js'
import type { AeadKey } from './aead.js'
import type { BidiStream } from '../session.js'
import {
  closeRecord,
  datagramClass,
  datagramOverhead,
  maxDatagramSequence,
  maxStreamsPerClass,
  recordsPerKey,
  maxCloseReasonBytes,
  nonce,
  sequenceLength,
  tagLength,
  type StreamClass,
} from './record-format.js'
import { concat, utf8 } from '../internal/bytes.js'
import { transportResetError } from './stream-reset.js'
import { DatagramWindow, StreamIndexWindow } from './replay-window.js'
import { DirectionKeys, type KeyRun } from './record-keys.js'
import { encodeIndex } from './stream-preamble.js'
import { readOpening, type Opening } from './stream-opening.js'
import { StreamSealer } from './stream-sealer.js'
import { StreamUnsealer } from './stream-unsealer.js'

/** Options for {@link RecordLayer.create}. */
export interface RecordLayerOptions {
  /**
   * The 32-byte secret our record keys derive from: `initiatorToResponder` on the dialer.
   * It is wiped once imported.
   */
  sendKey: Uint8Array
  /**
   * The 32-byte secret the peer's record keys derive from: `responderToInitiator` on the
   * dialer. It is wiped once imported.
   */
  receiveKey: Uint8Array
  /** Whether we dialed (were the Noise initiator); it decides our streams' classes. */
  isDialer: boolean
  /**
   * @internal Other limits, for tests only: records per key (default 2^20), streams opened
   * per class (default 2^24), streams waiting for their open record (default 256), how long
   * one may wait (default 10 s), and failures to authenticate (default 2^20).
   */
  _limits?: {
    recordsPerKey?: number
    streams?: number
    pendingOpenings?: number
    openingMs?: number
    forgeries?: number
  }
}

/** Streams the peer opened that may wait for their open record at once. */
const maxPendingOpenings = 256
/** How long a stream the peer opened may take to authenticate its opening. */
const openingTimeoutMs = 10_000
/**
 * Records, openings and datagrams that may fail to authenticate under the peer's keys before
 * the connection is given up (the integrity limit). Every failed unseal is a forgery attempt,
 * and an attacker's chance to get one accepted grows with their number. RFC 9001 §6.6 puts
 * QUIC's integrity limit for AES-GCM at 2^52 failed packets (the bound of RFC 8446 §5.5's
 * analysis, advantage about v·l / 2^128 for v forgeries of l blocks); 2^20 is far below that
 * (advantage under 2^-95 for our largest records), while a genuine peer behind an honest
 * relay produces no failures at all (the transport has its own integrity per hop), so a
 * million of them can only come from someone forging, or from a path too broken to use.
 * It also bounds the AES work an attacker can make the receiver do for nothing.
 */
const maxForgeries = 2 ** 20
/** Datagram key epochs kept for unsealing: reordering may straddle an epoch's boundary. */
const datagramKeysKept = 4

/** Options for {@link RecordLayer.acceptedBidi} and {@link RecordLayer.acceptedUni}. */
export interface AcceptOptions {
  /** Stops waiting for the preamble; the stream is cancelled with the signal's reason. */
  signal?: AbortSignal
}

/** A connection close the peer authenticated: its close record's code and reason. */
export interface AuthenticatedClose {
  code: number
  reason: string
}

/** What a uni stream the peer opened turned out to be: an application stream, or its close. */
export type IncomingUni =
  | { readable: ReadableStream<Uint8Array>; close?: undefined }
  | { close: AuthenticatedClose; readable?: undefined }

const strictUtf8 = new TextDecoder('utf-8', { fatal: true })

/** Gives up on a transport stream we will not use. */
function abandon(stream: Partial<BidiStream>, reason: unknown): void {
  stream.readable?.cancel(reason).catch(() => undefined)
  stream.writable?.abort(reason).catch(() => undefined)
}

/**
 * The record layer of one encrypted connection: wraps every stream and datagram of the
 * connection, in both directions (the wire format is in `record-format.ts`). Create it with
 * {@link RecordLayer.create} from the Noise `split()` keys.
 *
 * Stream wrappers keep the transport's semantics: backpressure end to end (a plaintext
 * writer's `ready` waits on the transport writable; nothing buffers without bound); closing
 * the plaintext writable writes the end record, then closes the transport writable; aborting
 * it sends the reason's `streamErrorCode` in a reset record and ends the transport writable,
 * where the stream is idle, or else aborts the transport writable with the same reason (the
 * peer then reads `RecordError` `RESET`); cancelling the plaintext readable
 * cancels the transport readable with the same reason; an error of the transport readable
 * errors the plaintext readable; a {@link RecordError} errors the plaintext readable and
 * cancels the transport readable with it. Plaintext chunks are new arrays the reader owns.
 */
export class RecordLayer {
  private readonly nextIndex = [0, 0, 0, 0]
  private readonly accepted = [
    new StreamIndexWindow(),
    new StreamIndexWindow(),
    new StreamIndexWindow(),
    new StreamIndexWindow(),
  ]
  private nextSequence = 0
  private readonly datagramSealing: KeyRun
  private readonly datagrams = new DatagramWindow()
  /** The datagram keys derived for unsealing, by epoch (the newest few). */
  private readonly datagramKeys = new Map<number, Promise<AeadKey>>()
  /** The epoch of the highest datagram sequence that authenticated. */
  private datagramEpoch = 0
  /** Streams the peer opened whose opening has not authenticated yet. */
  private pendingOpenings = 0
  /** Records, openings and datagrams that failed to authenticate (the integrity limit). */
  private forgeries = 0
  /**
   * Called once when more records, openings and datagrams have failed to authenticate than
   * the integrity limit allows (2^20): the connection should close with `INTEGRITY_LIMIT`.
   */
  onIntegrityLimit: (() => void) | undefined

  private constructor(
    private readonly sending: DirectionKeys,
    private readonly receiving: DirectionKeys,
    private readonly isDialer: boolean,
    private readonly streamLimit: number,
    private readonly pendingLimit: number,
    private readonly openingMs: number,
    private readonly forgeryLimit: number,
  ) {
    this.datagramSealing = sending.run(datagramClass, 0)
  }

  /**
   * Imports the two secrets (non-extractable), wipes the caller's copies, and starts every
   * counter at zero. Each secret must be used by one record layer only: a second layer with
   * the same send secret would repeat keys and nonces.
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
    const perKey = _limits?.recordsPerKey ?? recordsPerKey
    const [send, receive] = await Promise.all([
      DirectionKeys.import(sendKey, perKey),
      DirectionKeys.import(receiveKey, perKey),
    ])
    return new RecordLayer(
      send,
      receive,
      isDialer,
      _limits?.streams ?? maxStreamsPerClass,
      _limits?.pendingOpenings ?? maxPendingOpenings,
      _limits?.openingMs ?? openingTimeoutMs,
      _limits?.forgeries ?? maxForgeries,
    )
  }

  /**
   * Wraps a bidi stream we opened: writes its preamble and open record at once and returns
   * the plaintext ends (the readable carries the peer's answer).
   *
   * @throws RecordError `KEY_EXHAUSTED` after 2^24 bidi streams; the transport stream is
   *   then cancelled and aborted.
   */
  openedBidi(stream: BidiStream): BidiStream {
    const streamClass: StreamClass = this.isDialer ? 0 : 1
    const index = this.claimIndex(streamClass, stream)
    return {
      readable: this.unsealingReadable(stream.readable, streamClass, index, new Uint8Array(0), 0),
      writable: this.sealingWritable(stream.writable, streamClass, index, encodeIndex(index)),
    }
  }

  /**
   * Wraps a uni stream we opened: writes its preamble and open record at once and returns the
   * plaintext writable.
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
   * Wraps a bidi stream the peer opened: reads its preamble and open record, and returns the
   * plaintext ends only once the open record has authenticated (our writable carries no
   * preamble). Only then is the stream's index used up.
   *
   * @throws RecordError `MALFORMED` (bad preamble, no open record), `TRUNCATED` (the stream
   *   ended inside its opening), `AUTH_FAILED` (the open record does not authenticate),
   *   `REPLAYED` (an index accepted before, or behind the window), `TIMEOUT` (no authentic
   *   opening within 10 s) or `TOO_MANY` (256 streams wait for theirs already); the transport
   *   stream is then cancelled and aborted with the error. An error of the transport
   *   readable, or the signal's reason, is passed on as it is.
   */
  async acceptedBidi(stream: BidiStream, options: AcceptOptions = {}): Promise<BidiStream> {
    const streamClass: StreamClass = this.isDialer ? 1 : 0
    const opening = await this.acceptOpening(stream, streamClass, options.signal, false)
    const { index, rest, key } = opening
    return {
      readable: this.unsealingReadable(stream.readable, streamClass, index, rest, 1, key),
      writable: this.sealingWritable(stream.writable, streamClass, index, undefined),
    }
  }

  /**
   * Wraps a uni stream the peer opened: reads its preamble and open record, and returns the
   * plaintext readable once the open record has authenticated.
   *
   * @throws RecordError as {@link RecordLayer.acceptedBidi}; the transport stream is then
   *   cancelled with the error.
   */
  async acceptedUni(
    readable: ReadableStream<Uint8Array>,
    options: AcceptOptions = {},
  ): Promise<ReadableStream<Uint8Array>> {
    const streamClass: StreamClass = this.isDialer ? 3 : 2
    const opening = await this.acceptOpening({ readable }, streamClass, options.signal, false)
    const { index, rest, key } = opening
    return this.unsealingReadable(readable, streamClass, index, rest, 1, key)
  }

  /**
   * As {@link RecordLayer.acceptedUni}, but a uni stream may also carry the peer's close record
   * (see {@link RecordLayer.sendClose}): then the result is the authenticated close, and the
   * transport stream is cancelled (nothing may follow the record).
   *
   * @throws RecordError as {@link RecordLayer.acceptedUni}, and `MALFORMED` for a close record
   *   whose reason is not UTF-8.
   */
  async acceptedIncomingUni(
    readable: ReadableStream<Uint8Array>,
    options: AcceptOptions = {},
  ): Promise<IncomingUni> {
    const streamClass: StreamClass = this.isDialer ? 3 : 2
    const opening = await this.acceptOpening({ readable }, streamClass, options.signal, true)
    if (opening.kind === 'open') {
      const { index, rest, key } = opening
      return { readable: this.unsealingReadable(readable, streamClass, index, rest, 1, key) }
    }
    readable.cancel().catch(() => undefined)
    const plaintext = opening.plaintext
    const code = new DataView(plaintext.buffer, plaintext.byteOffset).getUint32(0)
    let reason: string
    try {
      reason = strictUtf8.decode(plaintext.subarray(4))
    } catch (cause) {
      throw new RecordError('MALFORMED', 'a close reason that is not UTF-8', { cause })
    }
    return { close: { code, reason } }
  }

  /**
   * Sends this side's close of the connection, authenticated: a uni stream of its own with
   * its preamble and a close record (code, reason), then its end. Resolves once the transport
   * has taken the stream's end (the caller closes the transport session after that, so the
   * record goes out first).
   *
   * @throws RangeError if `code` is not a u32 or `reason` is above 1024 bytes of UTF-8.
   * @throws RecordError `KEY_EXHAUSTED` once the uni indexes are used up. An error of the
   *   transport writable is passed on as it is.
   */
  async sendClose(
    writable: WritableStream<Uint8Array>,
    code: number,
    reason: string,
  ): Promise<void> {
    if (!Number.isInteger(code) || code < 0 || code > 0xffff_ffff) {
      throw new RangeError('code: expected an integer in [0, 2^32)')
    }
    const reasonBytes = utf8(reason)
    if (reasonBytes.length > maxCloseReasonBytes) {
      throw new RangeError(`reason: above ${maxCloseReasonBytes} bytes of UTF-8`)
    }
    const streamClass: StreamClass = this.isDialer ? 2 : 3
    const index = this.claimIndex(streamClass, { writable })
    const writer = writable.getWriter()
    try {
      const plaintext = new Uint8Array(4 + reasonBytes.length)
      new DataView(plaintext.buffer).setUint32(0, code)
      plaintext.set(reasonBytes, 4)
      const length = plaintext.length + tagLength
      const header = Uint8Array.of(closeRecord, length >> 16, (length >> 8) & 0xff, length & 0xff)
      const key = await this.sending.key(streamClass, index, 0)
      const ciphertext = await key.seal(nonce(streamClass, index, 0), header, plaintext)
      await writer.write(concat(encodeIndex(index), header, ciphertext))
      await writer.close()
    } catch (error) {
      writer.abort(error).catch(() => undefined)
      throw error
    }
  }

  /**
   * Seals one datagram: `payload.length + 24` bytes, in a new array.
   *
   * @throws TypeError if `payload` is not a Uint8Array.
   * @throws RecordError `KEY_EXHAUSTED` once 2^48 datagrams have been sealed.
   */
  async sealDatagram(payload: Uint8Array): Promise<Uint8Array> {
    if (!(payload instanceof Uint8Array)) throw new TypeError('payload: expected a Uint8Array')
    if (this.nextSequence >= maxDatagramSequence) {
      throw new RecordError('KEY_EXHAUSTED', 'this connection has sealed 2^48 datagrams')
    }
    const sequence = this.nextSequence++
    const head = new Uint8Array(sequenceLength)
    const view = new DataView(head.buffer)
    view.setUint32(0, Math.floor(sequence / 0x1_0000_0000))
    view.setUint32(4, sequence >>> 0)
    const key = await this.datagramSealing.keyFor(sequence)
    const ciphertext = await key.seal(nonce(datagramClass, 0, sequence), head, payload)
    const sealed = new Uint8Array(sequenceLength + ciphertext.byteLength)
    sealed.set(head)
    sealed.set(ciphertext, sequenceLength)
    return sealed
  }

  /**
   * Unseals one sealed datagram and returns its payload (a new array).
   *
   * @throws TypeError if `sealed` is not a Uint8Array.
   * @throws RecordError `MALFORMED` (under 24 bytes), `AUTH_FAILED` (does not authenticate,
   *   or its sequence lies beyond the next key epoch), `REPLAYED` (a duplicate, or older than
   *   the 128-datagram window), `TOO_MANY` (more than 2^20 records, openings and datagrams
   *   have failed to authenticate: the integrity limit; from then on every datagram is
   *   refused so, and the connection is to be closed).
   */
  async unsealDatagram(sealed: Uint8Array): Promise<Uint8Array> {
    if (!(sealed instanceof Uint8Array)) throw new TypeError('sealed: expected a Uint8Array')
    this.checkIntegrityLimit()
    if (sealed.length < datagramOverhead) {
      throw new RecordError(
        'MALFORMED',
        `a sealed datagram has at least ${datagramOverhead} bytes, not ${sealed.length}`,
      )
    }
    const head = sealed.slice(0, sequenceLength)
    const view = new DataView(head.buffer)
    const sequence = view.getUint32(0) * 0x1_0000_0000 + view.getUint32(4)
    const epoch = Math.floor(sequence / this.receiving.perKey)
    // The sender moves to a key epoch only after sealing every sequence of the one before,
    // so a datagram two epochs ahead would take a million losses in a row: it is refused
    // before any key is derived for it (forging one costs the receiver nothing).
    if (sequence >= maxDatagramSequence || epoch > this.datagramEpoch + 1) {
      throw new RecordError('AUTH_FAILED', 'a datagram sequence beyond the next key epoch')
    }
    this.datagrams.check(sequence)
    let payload: Uint8Array
    try {
      const key = await this.datagramKey(epoch)
      payload = await key.unseal(
        nonce(datagramClass, 0, sequence),
        head,
        sealed.subarray(sequenceLength),
      )
    } catch (cause) {
      // Only a failed unseal is a forgery attempt against the key; what is refused before
      // decrypting (malformed, replayed, unreachable sequence) costs the key nothing.
      this.forgery()
      this.checkIntegrityLimit()
      throw new RecordError('AUTH_FAILED', 'a datagram did not authenticate', { cause })
    }
    // Two copies of one datagram may both have passed the first check while decrypting.
    this.datagrams.check(sequence)
    this.datagrams.mark(sequence)
    this.datagramEpoch = Math.max(this.datagramEpoch, epoch)
    return payload
  }

  /** The receive key of datagram epoch `epoch`, derived once while it is among the newest. */
  private datagramKey(epoch: number): Promise<AeadKey> {
    let key = this.datagramKeys.get(epoch)
    if (!key) {
      key = this.receiving.key(datagramClass, 0, epoch)
      this.datagramKeys.set(epoch, key)
      if (this.datagramKeys.size > datagramKeysKept) {
        this.datagramKeys.delete(Math.min(...this.datagramKeys.keys()))
      }
    }
    return key
  }

  /** Counts one failure to authenticate; past the integrity limit, tells the connection. */
  private forgery(): void {
    this.forgeries++
    if (this.forgeries === this.forgeryLimit + 1) this.onIntegrityLimit?.()
  }

  private checkIntegrityLimit(): void {
    if (this.forgeries > this.forgeryLimit) {
      throw new RecordError(
        'TOO_MANY',
        `more than ${this.forgeryLimit} records, openings and datagrams failed to authenticate (integrity limit)`,
      )
    }
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

  /**
   * Reads and authenticates a stream's opening, within the time limit and the cap on streams
   * waiting for theirs; marks its index used only then.
   */
  private async acceptOpening(
    stream: Partial<BidiStream> & { readable: ReadableStream<Uint8Array> },
    streamClass: StreamClass,
    signal: AbortSignal | undefined,
    closeAllowed: boolean,
  ): Promise<Opening & { plaintext: Uint8Array; key: AeadKey }> {
    this.checkIntegrityLimit()
    if (this.pendingOpenings >= this.pendingLimit) {
      const error = new RecordError(
        'TOO_MANY',
        `${this.pendingLimit} streams already wait for their open record`,
      )
      abandon(stream, error)
      throw error
    }
    this.pendingOpenings++
    const stop = new AbortController()
    const onAbort = (): void => stop.abort(signal?.reason)
    if (signal?.aborted) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => {
      const ms = this.openingMs
      stop.abort(new RecordError('TIMEOUT', `no authentic stream opening within ${ms} ms`))
    }, this.openingMs)
    let opening: Opening | undefined
    try {
      opening = await readOpening(stream.readable, stop.signal)
      const { index, header, tag } = opening
      if (opening.kind === 'close' && !closeAllowed) {
        throw new RecordError('MALFORMED', 'a close record on a stream that cannot carry one')
      }
      const window = this.accepted[streamClass]!
      window.check(index)
      const key = await this.receiving.key(streamClass, index, 0)
      let plaintext: Uint8Array
      try {
        plaintext = await key.unseal(nonce(streamClass, index, 0), header, tag)
      } catch (cause) {
        this.forgery()
        const message = `the ${opening.kind} record of stream ${index} did not authenticate`
        throw new RecordError('AUTH_FAILED', message, { cause })
      }
      // Two copies of one opening may both have passed the first check while unsealing.
      window.check(index)
      window.mark(index)
      return { ...opening, plaintext, key }
    } catch (error) {
      // readOpening cancelled the readable already if it failed; otherwise cancel it here.
      if (opening) stream.readable.cancel(error).catch(() => undefined)
      stream.writable?.abort(error).catch(() => undefined)
      throw error
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
      this.pendingOpenings--
    }
  }

  private sealingWritable(
    writable: WritableStream<Uint8Array>,
    streamClass: StreamClass,
    index: number,
    preamble: Uint8Array | undefined,
  ): WritableStream<Uint8Array> {
    const sealer = new StreamSealer(
      writable.getWriter(),
      this.sending.run(streamClass, index),
      streamClass,
      index,
      preamble,
    )
    return new WritableStream(sealer)
  }

  private unsealingReadable(
    readable: ReadableStream<Uint8Array>,
    streamClass: StreamClass,
    index: number,
    initial: Uint8Array,
    firstCounter: number,
    /** The key of epoch 0, derived already to authenticate the opening. */
    openingKey?: AeadKey,
  ): ReadableStream<Uint8Array> {
    const keys = this.receiving.run(streamClass, index)
    if (openingKey) keys.prime(openingKey)
    const unsealer = new StreamUnsealer(keys, streamClass, index, initial, firstCounter, () =>
      this.forgery(),
    )
    const transform = new TransformStream(unsealer, { highWaterMark: 1 }, { highWaterMark: 1 })
    // As pipeThrough, except for an error of the transport readable: a transport reset is
    // nobody's authenticated word, so its code must not pass for the peer's (RESET).
    readable
      .pipeTo(transform.writable, { preventAbort: true })
      .catch((error: unknown) => transform.writable.abort(transportResetError(error)))
      .catch(() => undefined)
    return transform.readable
  }
}
