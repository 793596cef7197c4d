import { pipelineDepth, settle } from './pipeline.js'
import {
  dataRecord,
  endRecord,
  headerLength,
  maxRecordPlaintext,
  nonce,
  openRecord,
  tagLength,
  type StreamClass,
} from './record-format.js'
import type { SealingKey } from './sealing-key.js'
import { concat } from '../internal/bytes.js'

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
  private controller: WritableStreamDefaultController | undefined

  constructor(
    private readonly writer: WritableStreamDefaultWriter<Uint8Array>,
    private readonly sealing: SealingKey,
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
