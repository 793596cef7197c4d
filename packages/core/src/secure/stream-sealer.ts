import { pipelineDepth, settle } from './pipeline.js'
import {
  dataRecord,
  endRecord,
  headerLength,
  maxRecordPlaintext,
  nonce,
  openRecord,
  resetRecord,
  resetPlaintextLength,
  tagLength,
  type StreamClass,
} from './record-format.js'
import type { KeyRun } from './record-keys.js'
import { concat } from '../internal/bytes.js'
import { streamErrorCodeOf } from '@ferry/wire'
import { transportResetError } from './stream-reset.js'

/**
 * The sink behind a plaintext writable: splits writes into records, seals up to
 * `pipelineDepth` at once and writes them to the transport in order. Backpressure: no record
 * is sealed while the transport's writer is not ready, and `write()` settles only when its
 * last record has been handed to `crypto.subtle` (which copies the plaintext at once, so the
 * caller may reuse its buffer), so the plaintext writer's `ready` follows the transport's.
 */
export class StreamSealer implements UnderlyingSink<Uint8Array> {
  private counter = 0
  /** Resolves when every record sealed so far has been handed to the transport. */
  private chain: Promise<void> = Promise.resolve()
  private readonly inFlight: Promise<void>[] = []
  private failure: { error: unknown } | undefined
  /** The application aborted: what went to the transport (a reset record, or a reset). */
  private aborting: Promise<void> | undefined
  private abortReason: { reason: unknown } | undefined
  private controller: WritableStreamDefaultController | undefined

  constructor(
    private readonly writer: WritableStreamDefaultWriter<Uint8Array>,
    private readonly keys: KeyRun,
    private readonly streamClass: StreamClass,
    private readonly index: number,
    /**
     * The stream's preamble, on a stream we opened: it goes out with the open record, in one
     * transport write, as the stream starts. `undefined` on the acceptor's direction.
     */
    private readonly preamble: Uint8Array | undefined,
  ) {}

  start(controller: WritableStreamDefaultController): void {
    this.controller = controller
    if (this.preamble) {
      // Sealed at once, so the open record takes counter 0 before any write is sealed.
      try {
        this.sealNow(openRecord, new Uint8Array(0), this.preamble)
      } catch (error) {
        this.fail(error)
      }
    }
    // An abort must reach the transport even while a write waits on the transport's
    // backpressure (the stream would otherwise hold the abort until that write settles). The
    // outcome is reported by abort() below, which returns the same promise. (Engines without
    // `controller.signal` still abort, once the pending write settles.)
    controller.signal?.addEventListener(
      'abort',
      () => void this.abortWith(controller.signal.reason).catch(() => undefined),
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
    return this.abortWith(reason)
  }

  /**
   * The application's abort. Where the transport can take one more record now (nothing is
   * waiting to be written and its writer is ready), the code goes in an authenticated reset record after the records already sealed,
   * and the transport stream ends with a FIN: the peer's read fails with this code, and only
   * with a code this side sent. Otherwise (the transport is full or already failed) the
   * transport stream is reset, which the peer reads as `RecordError` `RESET`.
   */
  private abortWith(reason: unknown): Promise<void> {
    if (this.aborting) return this.aborting
    // Only when every record sealed so far is with the transport and it has room: a reset
    // record queued behind a write stuck on flow control would hold the abort indefinitely.
    const desired = this.writer.desiredSize
    if (this.failure || this.inFlight.length > 0 || desired === null || desired <= 0) {
      this.aborting = this.writer.abort(reason)
      return this.aborting
    }
    const plaintext = new Uint8Array(resetPlaintextLength)
    new DataView(plaintext.buffer).setUint32(0, streamErrorCodeOf(reason))
    try {
      this.sealNow(resetRecord, plaintext, undefined)
    } catch {
      // No key left for a record: the transport reset is all that can go out.
      this.aborting = this.writer.abort(reason)
      return this.aborting
    }
    // Nothing may be sealed after the reset record.
    this.abortReason = { reason }
    this.aborting = this.chain
      .then(() => {
        if (this.failure) throw this.failure.error
        return this.writer.close()
      })
      // The record could not go out: the transport reset still tells the peer.
      .catch(() => this.writer.abort(reason))
    return this.aborting
  }

  private async seal(type: number, plaintext: Uint8Array): Promise<void> {
    for (;;) {
      this.rethrow()
      await this.writer.ready
      if (this.inFlight.length < pipelineDepth) break
      await this.inFlight[0]
    }
    this.rethrow()
    this.sealNow(type, plaintext, undefined)
  }

  /** Seals one record now and queues its transport write, after `prefix` if given. */
  private sealNow(type: number, plaintext: Uint8Array, prefix: Uint8Array | undefined): void {
    const length = plaintext.length + tagLength
    const header = Uint8Array.of(type, length >> 16, (length >> 8) & 0xff, length & 0xff)
    const counter = this.counter++
    const recordNonce = nonce(this.streamClass, this.index, counter)
    const key = this.keys.keyFor(counter)
    const sealed = settle(
      'then' in key
        ? // The first record under a new key waits for its derivation: it seals a copy, as
          // the caller may reuse its buffer once this write settles.
          key.then((k) => k.seal(recordNonce, header, plaintext.slice(), headerLength))
        : key.seal(recordNonce, header, plaintext, headerLength),
    )
    const step = this.chain
      .then(() => sealed)
      .then((outcome) => {
        if (!outcome.ok) throw outcome.error
        if (this.failure) return
        // The AEAD left room for the header: the transport gets one chunk per record (the
        // open record and the preamble before it share one).
        const record = outcome.value
        record.set(header)
        this.writer
          .write(prefix ? concat(prefix, record) : record)
          .catch((error: unknown) => this.fail(error))
      })
      .catch((error: unknown) => void this.fail(error))
      .finally(() => void this.inFlight.shift())
    this.chain = step
    this.inFlight.push(step)
  }

  private rethrow(): void {
    if (this.failure) throw this.failure.error
    if (this.abortReason) throw this.abortReason.reason
  }

  /**
   * Ends the stream on a failure: the plaintext writable errors with it and the transport
   * stream is aborted with it (so the peer sees a reset, not a hang). Returns the first error.
   */
  private fail(error: unknown): unknown {
    if (!this.failure) {
      // A stop (or reset) from the transport: its code is nobody's authenticated word.
      error = transportResetError(error, 'stopped')
      this.failure = { error }
      this.controller?.error(error)
      this.writer.abort(error).catch(() => undefined)
    }
    return this.failure.error
  }
}
