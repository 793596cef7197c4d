import { aead } from '#aead'
import { RecordError } from '../errors.js'
import type { AeadKey } from './aead.js'
import type { BidiStream } from '../session.js'
import {
  datagramClass,
  datagramOverhead,
  maxRecordsPerKey,
  maxStreamsPerClass,
  nonce,
  sequenceLength,
  type StreamClass,
} from './record-format.js'
import { DatagramWindow, StreamIndexWindow } from './replay-window.js'
import { SealingKey } from './sealing-key.js'
import { encodeIndex, readPreamble } from './stream-preamble.js'
import { StreamSealer } from './stream-sealer.js'
import { StreamUnsealer } from './stream-unsealer.js'

/** Options for {@link RecordLayer.create}. */
export interface RecordLayerOptions {
  /** The 32-byte key we seal with: `initiatorToResponder` on the dialer. */
  sendKey: Uint8Array
  /** The 32-byte key we unseal with: `responderToInitiator` on the dialer. */
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
 * it aborts the transport writable with the same reason; cancelling the plaintext readable
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
  private readonly datagrams = new DatagramWindow()

  private constructor(
    private readonly sealing: SealingKey,
    private readonly unsealing: AeadKey,
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
    const [send, receive] = await Promise.all([aead.importKey(sendKey), aead.importKey(receiveKey)])
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
      readable: this.unsealingReadable(stream.readable, streamClass, index, new Uint8Array(0)),
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
   *   `REPLAYED` (an index accepted before, or behind the window); the
   *   transport stream is then cancelled and aborted with the error. An error of the
   *   transport readable, or the signal's reason, is passed on as it is.
   */
  async acceptedBidi(stream: BidiStream, options: AcceptOptions = {}): Promise<BidiStream> {
    const streamClass: StreamClass = this.isDialer ? 1 : 0
    const { index, rest } = await this.acceptPreamble(stream, streamClass, options.signal)
    return {
      readable: this.unsealingReadable(stream.readable, streamClass, index, rest),
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
    return this.unsealingReadable(readable, streamClass, index, rest)
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
   * Unseals one sealed datagram and returns its payload (a new array).
   *
   * @throws TypeError if `sealed` is not a Uint8Array.
   * @throws RecordError `MALFORMED` (under 24 bytes), `AUTH_FAILED` (does not authenticate),
   *   `REPLAYED` (a duplicate, or older than the 128-datagram window).
   */
  async unsealDatagram(sealed: Uint8Array): Promise<Uint8Array> {
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
      payload = await this.unsealing.unseal(
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
        const window = this.accepted[streamClass]!
        window.check(preamble.index)
        window.mark(preamble.index)
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

  private unsealingReadable(
    readable: ReadableStream<Uint8Array>,
    streamClass: StreamClass,
    index: number,
    initial: Uint8Array,
  ): ReadableStream<Uint8Array> {
    const unsealer = new StreamUnsealer(this.unsealing, streamClass, index, initial)
    return readable.pipeThrough(
      new TransformStream(unsealer, { highWaterMark: 1 }, { highWaterMark: 1 }),
    )
  }
}
