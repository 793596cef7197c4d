import { RecordError } from '../errors.js'
import { pipelineDepth, settle } from './pipeline.js'
import {
  endRecord,
  headerLength,
  headerProblem,
  nonce,
  resetRecord,
  type StreamClass,
} from './record-format.js'
import type { KeyRun } from './record-keys.js'
import { authenticatedResetError } from './stream-reset.js'

/**
 * The transformer between a transport readable and its plaintext readable: parses records
 * across any chunk boundaries, unseals up to `pipelineDepth` at once and enqueues their
 * plaintexts in order. A failure is delivered in stream order too: the records before it are
 * enqueued first, then the readable errors (and the pipe cancels the transport stream with
 * the same error).
 */
export class StreamUnsealer implements Transformer<Uint8Array, Uint8Array> {
  private controller!: TransformStreamDefaultController<Uint8Array>
  private readonly header = new Uint8Array(headerLength)
  private headerFill = 0
  /** A ciphertext that spans chunks, being assembled. */
  private record: Uint8Array<ArrayBuffer> | undefined
  private recordFill = 0
  /** The end (or reset) record's header has been read: it is the direction's last record. */
  private ended = false
  /** No more input is parsed: a failure is pending or delivered. */
  private stopped = false
  /** The readable has errored (or was cancelled): nothing more is enqueued. */
  private errored = false
  private chain: Promise<void> = Promise.resolve()
  private readonly inFlight: Promise<void>[] = []

  constructor(
    private readonly keys: KeyRun,
    private readonly streamClass: StreamClass,
    private readonly index: number,
    /** Bytes that arrived with the opening. */
    private readonly initial: Uint8Array,
    /** The first record's counter: 1 on the opener's direction, after its open record. */
    private counter: number,
    /** Told of each record that fails to authenticate (the integrity limit counts them). */
    private readonly onForgery: () => void,
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
          this.failInOrder(new RecordError('MALFORMED', 'bytes after the end or reset record'))
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
        if (type === endRecord || type === resetRecord) this.ended = true
        if (chunk.length - offset >= length) {
          // The whole ciphertext is in this chunk: unseal it in place.
          await this.unseal(chunk.subarray(offset, offset + length))
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
        await this.unseal(ciphertext)
      }
    }
  }

  private async unseal(ciphertext: Uint8Array): Promise<void> {
    const header = this.header.slice()
    while (this.inFlight.length >= pipelineDepth) await this.inFlight[0]
    if (this.stopped) return
    const recordNonce = nonce(this.streamClass, this.index, this.counter)
    const key = this.keys.keyFor(this.counter++)
    const unsealed = settle(
      'then' in key
        ? key.then((k) => k.unseal(recordNonce, header, ciphertext))
        : key.unseal(recordNonce, header, ciphertext),
    )
    const step = this.chain
      .then(() => unsealed)
      .then((outcome) => {
        if (!outcome.ok) {
          this.onForgery()
          const message = 'a record did not authenticate (tampered, reordered or misplaced)'
          this.errorNow(new RecordError('AUTH_FAILED', message, { cause: outcome.error }))
        } else if (header[0] === resetRecord) {
          // The peer's own abort, authenticated: its code is the peer's word.
          const code = new DataView(outcome.value.buffer, outcome.value.byteOffset).getUint32(0)
          this.errorNow(authenticatedResetError(code))
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

  /** Stops parsing; errors the readable after the records already being unsealed. */
  private failInOrder(error: unknown): void {
    this.stopped = true
    this.chain = this.chain.then(() => this.errorNow(error))
  }
}
