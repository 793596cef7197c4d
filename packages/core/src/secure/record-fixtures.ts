/**
 * Helpers shared by the record layer's tests: layers with fixed keys, in-process transport
 * streams, and recorded wire bytes.
 */
import { expect } from 'vitest'
import { RecordError } from '../errors.js'
import { concat } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import type { BidiStream } from '../session.js'
import { aead } from '#aead'
import { nonce, openRecord, tagLength } from './record-format.js'
import { keyInfo } from './record-keys.js'
import { RecordLayer, type RecordLayerOptions } from './record-layer.js'
import { encodeIndex } from './stream-preamble.js'

/** The dialer's send secret (the acceptor's receive secret), a fresh copy: layers wipe theirs. */
export const dialerKey = (): Uint8Array => new Prng(1).bytes(32)
/** The acceptor's send secret (the dialer's receive secret), a fresh copy. */
export const acceptorKey = (): Uint8Array => new Prng(2).bytes(32)
/** A dialer and an acceptor whose keys match, both with `limits`. */
export async function layers(
  limits?: RecordLayerOptions['_limits'],
): Promise<{ dialer: RecordLayer; acceptor: RecordLayer }> {
  const [dialer, acceptor] = await Promise.all([
    RecordLayer.create({
      sendKey: dialerKey(),
      receiveKey: acceptorKey(),
      isDialer: true,
      _limits: limits,
    }),
    RecordLayer.create({
      sendKey: acceptorKey(),
      receiveKey: dialerKey(),
      isDialer: false,
      _limits: limits,
    }),
  ])
  return { dialer, acceptor }
}
/** A fresh acceptor: its replay state is new, its keys those of {@link layers}. */
export function acceptorLayer(): Promise<RecordLayer> {
  return RecordLayer.create({ sendKey: acceptorKey(), receiveKey: dialerKey(), isDialer: false })
}
/** A promise with its resolver. */
export interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

export function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}
/**
 * A transport hop that splits every chunk into seeded random pieces of 1..`maxPiece` bytes.
 * (It never holds bytes back: a real transport delivers what it has.)
 */
export function rechunker(prng: Prng, maxPiece: number): TransformStream<Uint8Array, Uint8Array> {
  return new TransformStream({
    transform(chunk, controller) {
      for (let offset = 0; offset < chunk.length;) {
        const n = 1 + prng.int(maxPiece)
        controller.enqueue(chunk.slice(offset, offset + n))
        offset += n
      }
    },
  })
}

/** Two ends of a bidi transport stream, each direction through its own TransformStream. */
export function transportPair(prng?: Prng, maxPiece = 1): [BidiStream, BidiStream] {
  const hop = (): TransformStream<Uint8Array, Uint8Array> =>
    prng ? rechunker(prng, maxPiece) : new TransformStream()
  const toAcceptor = hop()
  const toDialer = hop()
  return [
    { readable: toDialer.readable, writable: toAcceptor.writable },
    { readable: toAcceptor.readable, writable: toDialer.writable },
  ]
}

/** Writes `data` in seeded random pieces of up to `maxWrite` bytes, then closes. */
export async function writeAll(
  writable: WritableStream<Uint8Array>,
  data: Uint8Array,
  prng: Prng,
  maxWrite: number,
): Promise<void> {
  const writer = writable.getWriter()
  const writes: Promise<void>[] = []
  for (let offset = 0; offset < data.length;) {
    const n = 1 + prng.int(maxWrite)
    await writer.ready
    writes.push(writer.write(data.slice(offset, offset + n)))
    offset += n
  }
  writes.push(writer.close())
  await Promise.all(writes)
}

/**
 * A transport readable that yields `chunks`, then ends (or, with `hang`, stays open), and
 * records the reason it is cancelled with.
 */
export function source(
  chunks: Uint8Array[],
  end: 'close' | 'hang' = 'close',
): { readable: ReadableStream<Uint8Array>; cancelled: Promise<unknown> } {
  const cancelled = deferred<unknown>()
  let i = 0
  const readable = new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!.slice())
      else if (end === 'close') controller.close()
      else return new Promise<void>(() => undefined)
    },
    cancel(reason) {
      cancelled.resolve(reason)
    },
  })
  return { readable, cancelled: cancelled.promise }
}

/** A transport writable that keeps every chunk. */
export function sink(): { writable: WritableStream<Uint8Array>; chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = []
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(chunk.slice())
    },
  })
  return { writable, chunks }
}

/** The wire bytes of a uni stream opened by `layer` carrying `writes`, one chunk per write. */
export async function recordUni(layer: RecordLayer, writes: Uint8Array[]): Promise<Uint8Array[]> {
  const { writable, chunks } = sink()
  const writer = layer.openedUni(writable).getWriter()
  for (const w of writes) await writer.write(w)
  await writer.close()
  return chunks
}

/** What reading a stream the peer opened from `chunks` gives: its bytes or its error. */
export async function acceptAndRead(
  layer: RecordLayer,
  chunks: Uint8Array[],
): Promise<{
  data?: Uint8Array
  error?: unknown
  delivered: Uint8Array
  cancelled: Promise<unknown>
}> {
  const { readable, cancelled } = source(chunks)
  const delivered: Uint8Array[] = []
  try {
    const plaintext = await layer.acceptedUni(readable)
    const reader = plaintext.getReader()
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      delivered.push(value)
    }
    return { data: concat(...delivered), delivered: concat(...delivered), cancelled }
  } catch (error) {
    return { error, delivered: concat(...delivered), cancelled }
  }
}

export function expectRecordError(error: unknown, codes: RecordError['code'][]): void {
  expect(error).toBeInstanceOf(RecordError)
  expect(codes).toContain((error as RecordError).code)
}

const dialerSecret = aead.importSecret(dialerKey())
/** The open record the dialer writes on its stream `index` of `streamClass` (default 2, uni). */
export async function openRecordFor(index: number, streamClass = 2): Promise<Uint8Array> {
  const key = await (await dialerSecret).deriveKey(keyInfo(streamClass, index, 0))
  const header = Uint8Array.of(openRecord, 0, 0, tagLength)
  const tag = await key.seal(nonce(streamClass, index, 0), header, new Uint8Array(0))
  return concat(header, tag)
}

/** A genuine opening (preamble and open record) of the dialer's uni stream `index`. */
export async function openingFor(index: number): Promise<Uint8Array> {
  return concat(encodeIndex(index), await openRecordFor(index))
}

/**
 * Splits a uni stream's wire bytes (1-byte preamble) into the preamble and its records, the
 * open record first.
 */
export function splitRecords(wire: Uint8Array): { preamble: Uint8Array; records: Uint8Array[] } {
  const records: Uint8Array[] = []
  let offset = 1
  while (offset < wire.length) {
    const length = (wire[offset + 1]! << 16) | (wire[offset + 2]! << 8) | wire[offset + 3]!
    records.push(wire.subarray(offset, offset + 4 + length))
    offset += 4 + length
  }
  return { preamble: wire.subarray(0, 1), records }
}
/** `text` as UTF-8 bytes. */
export const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)
