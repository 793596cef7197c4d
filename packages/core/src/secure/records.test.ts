import { describe, expect, it } from 'vitest'
import { RecordError } from '../errors.js'
import { concat, fromHex, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import type { BidiStream } from '../session.js'
import { NoiseXX, generateDhKeyPair } from './noise.js'
import {
  type RecordLayerOptions,
  RecordLayer,
  datagramOverhead,
  maxRecordPlaintext,
} from './records.js'

const dialerKey = new Prng(1).bytes(32)
const acceptorKey = new Prng(2).bytes(32)

async function layers(
  limits?: RecordLayerOptions['_limits'],
): Promise<{ dialer: RecordLayer; acceptor: RecordLayer }> {
  const [dialer, acceptor] = await Promise.all([
    RecordLayer.create({
      sendKey: dialerKey,
      receiveKey: acceptorKey,
      isDialer: true,
      _limits: limits,
    }),
    RecordLayer.create({ sendKey: acceptorKey, receiveKey: dialerKey, isDialer: false }),
  ])
  return { dialer, acceptor }
}

function acceptorLayer(): Promise<RecordLayer> {
  return RecordLayer.create({ sendKey: acceptorKey, receiveKey: dialerKey, isDialer: false })
}

interface Deferred<T> {
  promise: Promise<T>
  resolve: (value: T) => void
}

function deferred<T = void>(): Deferred<T> {
  let resolve!: (value: T) => void
  const promise = new Promise<T>((r) => (resolve = r))
  return { promise, resolve }
}

/** One macrotask turn, so that pending promise reactions run. No timing is assumed. */
function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0))
}

/**
 * A transport hop that splits every chunk into seeded random pieces of 1..`maxPiece` bytes.
 * (It never holds bytes back: a real transport delivers what it has.)
 */
function rechunker(prng: Prng, maxPiece: number): TransformStream<Uint8Array, Uint8Array> {
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
function transportPair(prng?: Prng, maxPiece = 1): [BidiStream, BidiStream] {
  const hop = (): TransformStream<Uint8Array, Uint8Array> =>
    prng ? rechunker(prng, maxPiece) : new TransformStream()
  const toAcceptor = hop()
  const toDialer = hop()
  return [
    { readable: toDialer.readable, writable: toAcceptor.writable },
    { readable: toAcceptor.readable, writable: toDialer.writable },
  ]
}

async function readAll(readable: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = []
  const reader = readable.getReader()
  for (;;) {
    const { value, done } = await reader.read()
    if (done) return concat(...chunks)
    chunks.push(value)
  }
}

/** Writes `data` in seeded random pieces of up to `maxWrite` bytes, then closes. */
async function writeAll(
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
function source(
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
function sink(): { writable: WritableStream<Uint8Array>; chunks: Uint8Array[] } {
  const chunks: Uint8Array[] = []
  const writable = new WritableStream<Uint8Array>({
    write(chunk) {
      chunks.push(chunk.slice())
    },
  })
  return { writable, chunks }
}

/** The wire bytes of a uni stream opened by `layer` carrying `writes`, one chunk per write. */
async function recordUni(layer: RecordLayer, writes: Uint8Array[]): Promise<Uint8Array[]> {
  const { writable, chunks } = sink()
  const writer = layer.openedUni(writable).getWriter()
  for (const w of writes) await writer.write(w)
  await writer.close()
  return chunks
}

/** What reading a stream the peer opened from `chunks` gives: its bytes or its error. */
async function acceptAndRead(
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

function expectRecordError(error: unknown, codes: RecordError['code'][]): void {
  expect(error).toBeInstanceOf(RecordError)
  expect(codes).toContain((error as RecordError).code)
}

/** Splits a uni stream's wire bytes (1-byte preamble) into the preamble and its records. */
function splitRecords(wire: Uint8Array): { preamble: Uint8Array; records: Uint8Array[] } {
  const records: Uint8Array[] = []
  let offset = 1
  while (offset < wire.length) {
    const length = (wire[offset + 1]! << 16) | (wire[offset + 2]! << 8) | wire[offset + 3]!
    records.push(wire.subarray(offset, offset + 4 + length))
    offset += 4 + length
  }
  return { preamble: wire.subarray(0, 1), records }
}

const utf8 = (text: string): Uint8Array => new TextEncoder().encode(text)

describe('RecordLayer streams: round trips', () => {
  it('round-trips seeded random writes over random chunkings, both ways on bidi streams', async () => {
    const cases = [
      { seed: 1, maxPiece: 1, size: 20_000, maxWrite: 3000 },
      { seed: 2, maxPiece: 7, size: 60_000, maxWrite: 70_000 },
      { seed: 3, maxPiece: 1500, size: 400_000, maxWrite: 9000 },
      { seed: 4, maxPiece: 100_000, size: 700_000, maxWrite: 300_000 },
      { seed: 5, maxPiece: 70_000, size: 1, maxWrite: 1 },
      { seed: 6, maxPiece: 3, size: 5000, maxWrite: 1 },
    ]
    for (const { seed, maxPiece, size, maxWrite } of cases) {
      const prng = new Prng(seed)
      const { dialer, acceptor } = await layers()
      const [dialerSide, acceptorSide] = transportPair(prng, maxPiece)
      const opened = dialer.openedBidi(dialerSide)
      const accepted = await acceptor.acceptedBidi(acceptorSide)
      const request = prng.bytes(size)
      const response = prng.bytes(1 + prng.int(size))
      const [, , gotRequest, gotResponse] = await Promise.all([
        writeAll(opened.writable, request, new Prng(seed * 7), maxWrite),
        writeAll(accepted.writable, response, new Prng(seed * 11), maxWrite),
        readAll(accepted.readable),
        readAll(opened.readable),
      ])
      expect(toHex(gotRequest)).toBe(toHex(request))
      expect(toHex(gotResponse)).toBe(toHex(response))
    }
  })

  it('splits one huge write into full-size records', async () => {
    const { dialer, acceptor } = await layers()
    const data = new Prng(9).bytes(3 * maxRecordPlaintext + 5)
    const chunks = await recordUni(dialer, [data])
    const { preamble, records } = splitRecords(concat(...chunks))
    expect(toHex(preamble)).toBe('00')
    expect(records.map((r) => toHex(r.subarray(0, 4)))).toEqual([
      '00010010',
      '00010010',
      '00010010',
      '00000015',
      '01000010',
    ])
    const { data: got } = await acceptAndRead(acceptor, chunks)
    expect(toHex(got ?? new Uint8Array())).toBe(toHex(data))
  })

  it('carries an empty stream as a preamble and an end record', async () => {
    const { dialer, acceptor } = await layers()
    const chunks = await recordUni(dialer, [])
    const wire = concat(...chunks)
    expect(wire.length).toBe(1 + 4 + 16)
    expect(toHex(wire.subarray(0, 5))).toBe('0001000010')
    const result = await acceptAndRead(acceptor, chunks)
    expect(result.error).toBeUndefined()
    expect(result.data?.length).toBe(0)
  })

  it('lets the acceptor answer a bidi stream the opener has not written to', async () => {
    const { dialer, acceptor } = await layers()
    const [dialerSide, acceptorSide] = transportPair()
    const opened = dialer.openedBidi(dialerSide)
    const accepted = await acceptor.acceptedBidi(acceptorSide)
    const answer = accepted.writable.getWriter()
    await answer.write(utf8('pong'))
    const reader = opened.readable.getReader()
    expect(await reader.read()).toEqual({ value: utf8('pong'), done: false })
    await answer.close()
    expect((await reader.read()).done).toBe(true)
    await writeAll(opened.writable, utf8('ping'), new Prng(1), 10)
    expect(await readAll(accepted.readable)).toEqual(utf8('ping'))
  })

  it('works with the keys of a real Noise handshake, datagrams included', async () => {
    const i = await NoiseXX.initiator({ staticKey: await generateDhKeyPair(), prologue: utf8('x') })
    const r = await NoiseXX.responder({ staticKey: await generateDhKeyPair(), prologue: utf8('x') })
    await r.readMessage(await i.writeMessage(new Uint8Array(0)))
    await i.readMessage(await r.writeMessage(new Uint8Array(0)))
    await r.readMessage(await i.writeMessage(new Uint8Array(0)))
    const ik = i.split()
    const rk = r.split()
    const dialer = await RecordLayer.create({
      sendKey: ik.initiatorToResponder,
      receiveKey: ik.responderToInitiator,
      isDialer: true,
    })
    const acceptor = await RecordLayer.create({
      sendKey: rk.responderToInitiator,
      receiveKey: rk.initiatorToResponder,
      isDialer: false,
    })
    const [dialerSide, acceptorSide] = transportPair()
    const opened = dialer.openedBidi(dialerSide)
    const accepted = await acceptor.acceptedBidi(acceptorSide)
    // Both directions are read while they are written: backpressure holds a writer whose
    // reader is not reading.
    const [, , got, back] = await Promise.all([
      writeAll(opened.writable, utf8('hello'), new Prng(1), 2),
      writeAll(accepted.writable, utf8('world'), new Prng(2), 3),
      readAll(accepted.readable),
      readAll(opened.readable),
    ])
    expect(got).toEqual(utf8('hello'))
    expect(back).toEqual(utf8('world'))
    expect(await dialer.openDatagram(await acceptor.sealDatagram(utf8('d')))).toEqual(utf8('d'))
  })
})

describe('RecordLayer streams: transport semantics', () => {
  it('keeps backpressure end to end', async () => {
    const { dialer } = await layers()
    const gates: (() => void)[] = []
    const arrivals: Uint8Array[] = []
    let arrived = deferred()
    let pushed = 0
    const transport = new WritableStream<Uint8Array>(
      {
        write(chunk) {
          arrivals.push(chunk)
          arrived.resolve()
          return new Promise<void>((resolve) => gates.push(resolve))
        },
      },
      {
        highWaterMark: 1,
        size: () => {
          pushed++
          return 1
        },
      },
    )
    const writer = dialer.openedUni(transport).getWriter()
    let writeDone = false
    let readyDone = false
    const write = writer.write(new Prng(3).bytes(10 * maxRecordPlaintext)).then(() => {
      writeDone = true
    })
    await arrived.promise
    void writer.ready.then(() => (readyDone = true))
    await settled()
    // The preamble sits in the transport; nothing more is sealed, nothing is buffered, and
    // the plaintext writer waits.
    expect(arrivals.length).toBe(1)
    expect(pushed).toBe(1)
    expect(writeDone).toBe(false)
    expect(readyDone).toBe(false)
    expect(writer.desiredSize).toBeLessThanOrEqual(0)

    // Released one chunk at a time, records flow, and at most 4 (the sealing window) ever
    // wait in the transport.
    while (arrivals.length < 11) {
      arrived = deferred()
      gates.shift()!()
      await arrived.promise
      expect(pushed - arrivals.length).toBeLessThanOrEqual(4)
    }
    await write
    expect(writeDone).toBe(true)
    arrived = deferred()
    const close = writer.close()
    gates.shift()!()
    await arrived.promise
    expect(arrivals.length).toBe(12)
    gates.shift()!()
    await close
    const wire = concat(...arrivals)
    expect(wire.length).toBe(1 + 10 * (4 + 65536 + 16) + 4 + 16)
  })

  it('closes the transport after the end record, and passes aborts through', async () => {
    const { dialer } = await layers()
    const events: string[] = []
    const closed = new WritableStream<Uint8Array>({
      write(chunk) {
        events.push(`write ${chunk.length}`)
      },
      close() {
        events.push('close')
      },
    })
    const writer = dialer.openedUni(closed).getWriter()
    await writer.write(utf8('abc'))
    await writer.close()
    expect(events).toEqual(['write 1', 'write 23', 'write 20', 'close'])

    // An abort reaches the transport even while a write waits on its backpressure.
    const aborted = deferred<unknown>()
    const stuck = new WritableStream<Uint8Array>({
      write: () => new Promise<void>(() => undefined),
      abort: (reason) => aborted.resolve(reason),
    })
    const stuckWriter = dialer.openedUni(stuck).getWriter()
    const blocked = stuckWriter.write(utf8('never'))
    const reason = new Error('give up')
    await stuckWriter.abort(reason)
    expect(await aborted.promise).toBe(reason)
    await expect(blocked).rejects.toBe(reason)
  })

  it('cancels the transport readable with the reader’s reason, and passes transport errors on', async () => {
    const { dialer, acceptor } = await layers()
    const chunks = await recordUni(dialer, [utf8('one'), utf8('two')])
    const { readable, cancelled } = source(chunks, 'hang')
    const plaintext = await acceptor.acceptedUni(readable)
    const reader = plaintext.getReader()
    expect((await reader.read()).value).toEqual(utf8('one'))
    const reason = new Error('enough')
    await reader.cancel(reason)
    expect(await cancelled).toBe(reason)

    const failure = new Error('connection lost')
    const pulledAgain = deferred<(error: unknown) => void>()
    let sent = false
    const failing = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (!sent) {
          sent = true
          controller.enqueue(concat(...chunks.slice(0, 2)))
        } else {
          pulledAgain.resolve((error) => controller.error(error))
        }
      },
    })
    const second = await (await acceptorLayer()).acceptedUni(failing)
    const secondReader = second.getReader()
    expect((await secondReader.read()).value).toEqual(utf8('one'))
    const next = secondReader.read()
    ;(await pulledAgain.promise)(failure)
    await expect(next).rejects.toBe(failure)
  })

  it('numbers streams with the shortest varint preamble', async () => {
    const { dialer } = await layers()
    const watched = [0, 1, 63, 64, 16383, 16384]
    const preambles: Record<number, string> = {}
    for (let index = 0; index <= 16384; index++) {
      if (!watched.includes(index)) {
        dialer.openedUni(new WritableStream())
        continue
      }
      const first = deferred<string>()
      dialer.openedUni(new WritableStream({ write: (chunk) => first.resolve(toHex(chunk)) }))
      preambles[index] = await first.promise
    }
    expect(preambles).toEqual({
      0: '00',
      1: '01',
      63: '3f',
      64: '4040',
      16383: '7fff',
      16384: '80004000',
    })
  })
})

describe('RecordLayer streams: preambles and replay', () => {
  it('accepts only minimal varint preambles below 2^24 (RFC 9000 §16 examples)', async () => {
    const accepted: Record<string, string> = {}
    for (const hex of [
      '25', // 37
      '7bbd', // 15293
      '80ffffff', // 2^24 - 1
      '4025', // 37, non-minimal
      '9d7f3e7d', // 494878333
      '81000000', // 2^24
      'c2197c5eff14e88c', // 151288809941952652
      'c000000000000001', // 1, non-minimal
    ]) {
      const layer = await acceptorLayer()
      const { readable, cancelled } = source([fromHex(hex)], 'hang')
      try {
        await layer.acceptedUni(readable)
        accepted[hex] = 'ok'
      } catch (error) {
        expect(await cancelled).toBe(error)
        accepted[hex] = (error as RecordError).code
      }
    }
    expect(accepted).toEqual({
      '25': 'ok',
      '7bbd': 'ok',
      '80ffffff': 'ok',
      '4025': 'MALFORMED',
      '9d7f3e7d': 'MALFORMED',
      '81000000': 'MALFORMED',
      c2197c5eff14e88c: 'MALFORMED',
      c000000000000001: 'MALFORMED',
    })
  })

  it('reads a preamble split over chunks and one that arrives with its first record', async () => {
    const { dialer } = await layers()
    const chunks: Uint8Array[] = []
    for (let i = 0; i < 64; i++) chunks.push(concat(...(await recordUni(dialer, [utf8('x')]))))
    // Stream 63 has a 1-byte preamble; stream 64 needs two. Feed 64 byte by byte.
    const stream64 = await recordUni(dialer, [utf8('sixty-four')])
    const wire = concat(...stream64)
    expect(toHex(wire.subarray(0, 2))).toBe('4040')
    const acceptor = await acceptorLayer()
    const byteByByte = Array.from(wire, (b) => Uint8Array.of(b))
    expect((await acceptAndRead(acceptor, byteByByte)).data).toEqual(utf8('sixty-four'))
    expect((await acceptAndRead(acceptor, [chunks[5]!])).data).toEqual(utf8('x'))
  })

  it('refuses a replayed stream and tracks indexes accepted out of order', async () => {
    const { dialer } = await layers()
    const streams: Uint8Array[][] = []
    for (let i = 0; i < 4; i++) streams.push(await recordUni(dialer, [utf8(`stream ${i}`)]))
    const acceptor = await acceptorLayer()
    expect((await acceptAndRead(acceptor, streams[0]!)).data).toEqual(utf8('stream 0'))
    const replay = await acceptAndRead(acceptor, streams[0]!)
    expectRecordError(replay.error, ['REPLAYED'])
    expect(await replay.cancelled).toBe(replay.error)

    for (const i of [3, 1]) {
      expect((await acceptAndRead(acceptor, streams[i]!)).data).toEqual(utf8(`stream ${i}`))
    }
    for (const i of [3, 1, 0]) {
      expectRecordError((await acceptAndRead(acceptor, streams[i]!)).error, ['REPLAYED'])
    }
    expect((await acceptAndRead(acceptor, streams[2]!)).data).toEqual(utf8('stream 2'))
    expectRecordError((await acceptAndRead(acceptor, streams[2]!)).error, ['REPLAYED'])
  })

  it('remembers at most 4096 indexes above the low-water mark', async () => {
    const acceptor = await acceptorLayer()
    const preamble = (index: number): Uint8Array =>
      index < 64
        ? Uint8Array.of(index)
        : index < 16384
          ? Uint8Array.of(0x40 | (index >> 8), index & 0xff)
          : Uint8Array.of(0x80, index >> 16, (index >> 8) & 0xff, index & 0xff)
    const accept = (index: number): Promise<unknown> =>
      acceptor.acceptedUni(source([preamble(index)], 'hang').readable)
    for (let index = 1; index <= 4096; index++) await accept(index)
    await expect(accept(4097)).rejects.toMatchObject({ name: 'RecordError', code: 'TOO_LARGE' })
    await accept(0) // the mark moves past 4096
    await accept(4097)
    await expect(accept(4096)).rejects.toMatchObject({ code: 'REPLAYED' })
    await expect(accept(17)).rejects.toMatchObject({ code: 'REPLAYED' })
    await accept(9000)
  })
})

describe('RecordLayer streams: tampering', () => {
  async function recorded(): Promise<Uint8Array> {
    const { dialer } = await layers()
    return concat(
      ...(await recordUni(dialer, [utf8('a'.repeat(40)), utf8('b'.repeat(70)), utf8('c')])),
    )
  }

  it('refuses a flipped bit in every byte of a recorded stream', async () => {
    const wire = await recorded()
    const { records } = splitRecords(wire)
    // Byte positions of record headers: flipping them changes a type or a length.
    const headers = new Set<number>()
    let offset = 1
    for (const record of records) {
      for (let i = 0; i < 4; i++) headers.add(offset + i)
      offset += record.length
    }
    for (let position = 0; position < wire.length; position++) {
      const tampered = wire.slice()
      tampered[position]! ^= 1 << (position % 8)
      const { error, data } = await acceptAndRead(await acceptorLayer(), [tampered])
      expect(data).toBeUndefined()
      if (position === 0 || headers.has(position)) {
        expectRecordError(error, ['AUTH_FAILED', 'MALFORMED', 'TRUNCATED'])
      } else {
        expectRecordError(error, ['AUTH_FAILED'])
      }
    }
  })

  it('delivers the records before a failure, then errors and cancels the transport with it', async () => {
    const wire = await recorded()
    const { preamble, records } = splitRecords(wire)
    const tampered = records.map((r) => r.slice())
    tampered[1]![10]! ^= 0x80
    const result = await acceptAndRead(await acceptorLayer(), [preamble, ...tampered])
    expectRecordError(result.error, ['AUTH_FAILED'])
    expect(result.delivered).toEqual(utf8('a'.repeat(40)))

    // With the transport still open, the error cancels it.
    const { readable, cancelled } = source([preamble, ...tampered], 'hang')
    const reader = (await (await acceptorLayer()).acceptedUni(readable)).getReader()
    expect((await reader.read()).value).toEqual(utf8('a'.repeat(40)))
    const error: unknown = await reader.read().catch((e: unknown) => e)
    expectRecordError(error, ['AUTH_FAILED'])
    expect(await cancelled).toBe(error)
  })

  it('refuses dropped, duplicated, swapped and misplaced records', async () => {
    const { dialer, acceptor } = await layers()
    const wire = concat(...(await recordUni(dialer, [utf8('zero'), utf8('one'), utf8('two')])))
    const { preamble, records } = splitRecords(wire)
    const [r0, r1, r2, end] = records as [Uint8Array, Uint8Array, Uint8Array, Uint8Array]
    // Stream 1 of the same sender, and the answer direction of a bidi stream (other key).
    const other = splitRecords(concat(...(await recordUni(dialer, [utf8('zero')])))).records
    const answer = sink()
    const accepted = await acceptor.acceptedBidi({
      readable: source([preamble], 'hang').readable,
      writable: answer.writable,
    })
    const answerWriter = accepted.writable.getWriter()
    await answerWriter.write(utf8('zero'))
    await answerWriter.close()
    const answerRecord = answer.chunks[0]!

    const cases: [string, Uint8Array[], RecordError['code']][] = [
      ['drop', [r0, r2, end], 'AUTH_FAILED'],
      ['duplicate', [r0, r1, r1, r2, end], 'AUTH_FAILED'],
      ['swap', [r1, r0, r2, end], 'AUTH_FAILED'],
      ['drop the end record', [r0, r1, r2], 'TRUNCATED'],
      ['a record of another stream', [other[0]!, r1, r2, end], 'AUTH_FAILED'],
      ['a record of the other direction', [answerRecord, r1, r2, end], 'AUTH_FAILED'],
      ['the end record early', [r0, end], 'AUTH_FAILED'],
      ['bytes after the end record', [r0, r1, r2, end, r2], 'MALFORMED'],
    ]
    for (const [name, parts, code] of cases) {
      const result = await acceptAndRead(await acceptorLayer(), [concat(preamble, ...parts)])
      expect({ name, code: (result.error as RecordError | undefined)?.code }).toEqual({
        name,
        code,
      })
    }
  })

  it('refuses a stream cut anywhere before the end of its end record', async () => {
    const wire = await recorded()
    const plaintext = utf8('a'.repeat(40) + 'b'.repeat(70) + 'c')
    for (let n = 0; n < wire.length; n++) {
      const result = await acceptAndRead(await acceptorLayer(), [wire.subarray(0, n)])
      expectRecordError(result.error, ['TRUNCATED'])
      // Whatever was delivered is a prefix of the data.
      expect(toHex(plaintext.subarray(0, result.delivered.length))).toBe(toHex(result.delivered))
    }
    expect((await acceptAndRead(await acceptorLayer(), [wire])).data).toEqual(plaintext)
  })

  it('refuses bad record headers before decrypting', async () => {
    const tag = new Uint8Array(16)
    const cases: [string, Uint8Array][] = [
      ['type 2', concat(Uint8Array.of(2, 0, 0, 17), new Uint8Array(17))],
      ['type 255', concat(Uint8Array.of(255, 0, 0, 17), new Uint8Array(17))],
      ['empty data record', concat(Uint8Array.of(0, 0, 0, 16), tag)],
      ['length below the tag', concat(Uint8Array.of(0, 0, 0, 15), new Uint8Array(15))],
      ['data record above 64 KiB', concat(Uint8Array.of(0, 1, 0, 17), new Uint8Array(17))],
      ['long end record', concat(Uint8Array.of(1, 0, 0, 17), new Uint8Array(17))],
      ['short end record', concat(Uint8Array.of(1, 0, 0, 0))],
    ]
    for (const [name, bytes] of cases) {
      const result = await acceptAndRead(await acceptorLayer(), [concat(Uint8Array.of(0), bytes)])
      expect({ name, code: (result.error as RecordError | undefined)?.code }).toEqual({
        name,
        code: 'MALFORMED',
      })
    }
  })

  it('gives only RecordError for seeded garbage', async () => {
    const prng = new Prng(0xbad)
    const acceptor = await acceptorLayer()
    const codes = new Set<string>()
    for (let round = 0; round < 400; round++) {
      let garbage = prng.bytes(prng.int(300))
      // Some rounds start like a real stream: a small index and a plausible header.
      if (prng.int(2) === 0) {
        garbage = concat(Uint8Array.of(prng.int(64), prng.int(2), 0, 0, 17 + prng.int(40)), garbage)
      }
      const chunks: Uint8Array[] = []
      for (let offset = 0; offset < garbage.length;) {
        const n = 1 + prng.int(50)
        chunks.push(garbage.subarray(offset, offset + n))
        offset += n
      }
      const [stream] = transportPair()
      const { readable } = source(chunks)
      let error: unknown
      try {
        const accepted = await acceptor.acceptedBidi({ readable, writable: stream.writable })
        await readAll(accepted.readable)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(RecordError)
      codes.add((error as RecordError).code)
    }
    expect([...codes].sort()).toEqual(['AUTH_FAILED', 'MALFORMED', 'REPLAYED', 'TRUNCATED'])
  })
})

describe('RecordLayer datagrams', () => {
  it('round-trips datagrams with 24 bytes of overhead', async () => {
    const { dialer, acceptor } = await layers()
    for (const size of [0, 1, 1000, 65536]) {
      const payload = new Prng(size).bytes(size)
      const sealed = await dialer.sealDatagram(payload)
      expect(sealed.length).toBe(size + datagramOverhead)
      expect(await acceptor.openDatagram(sealed)).toEqual(payload)
    }
    const back = await acceptor.sealDatagram(utf8('back'))
    expect(await dialer.openDatagram(back)).toEqual(utf8('back'))
    // Sealed by the acceptor for the dialer: an acceptor cannot open it.
    await expect((await acceptorLayer()).openDatagram(back)).rejects.toMatchObject({
      code: 'AUTH_FAILED',
    })
  })

  it('refuses duplicates and datagrams behind the window, and accepts reordering within it', async () => {
    const { dialer, acceptor } = await layers()
    const sealed: Uint8Array[] = []
    for (let i = 0; i < 300; i++) sealed.push(await dialer.sealDatagram(Uint8Array.of(i & 0xff)))
    expect(toHex(sealed[1]!.subarray(0, 8))).toBe('0000000000000001')

    await acceptor.openDatagram(sealed[5]!)
    await acceptor.openDatagram(sealed[3]!)
    await acceptor.openDatagram(sealed[4]!)
    await expect(acceptor.openDatagram(sealed[4]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    await acceptor.openDatagram(sealed[200]!)
    // 200 - 73 = 127: the oldest the window holds; 72 is one behind it.
    expect(await acceptor.openDatagram(sealed[73]!)).toEqual(Uint8Array.of(73))
    await expect(acceptor.openDatagram(sealed[72]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    await expect(acceptor.openDatagram(sealed[5]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    await expect(acceptor.openDatagram(sealed[73]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    expect(await acceptor.openDatagram(sealed[199]!)).toEqual(Uint8Array.of(199))
    // A jump past the whole window forgets it.
    expect(await acceptor.openDatagram(sealed[299]!)).toEqual(Uint8Array.of(299 & 0xff))
    expect(await acceptor.openDatagram(sealed[250]!)).toEqual(Uint8Array.of(250))
    await expect(acceptor.openDatagram(sealed[199]!)).rejects.toMatchObject({ code: 'REPLAYED' })

    // Two copies opened at once: exactly one gets through.
    const twice = await Promise.allSettled([
      acceptor.openDatagram(sealed[280]!),
      acceptor.openDatagram(sealed[280]!),
    ])
    expect(twice.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
  })

  it('refuses a flipped bit in any byte, and short datagrams', async () => {
    const { dialer } = await layers()
    const sealed = await dialer.sealDatagram(utf8('payload'))
    for (let position = 0; position < sealed.length; position++) {
      const tampered = sealed.slice()
      tampered[position]! ^= 1 << (position % 8)
      const error = await (await acceptorLayer()).openDatagram(tampered).catch((e: unknown) => e)
      expectRecordError(error, ['AUTH_FAILED'])
    }
    for (const length of [0, 8, 23]) {
      const error = await (
        await acceptorLayer()
      )
        .openDatagram(new Uint8Array(length))
        .catch((e: unknown) => e)
      expectRecordError(error, ['MALFORMED'])
    }
  })

  it('gives only RecordError for seeded garbage', async () => {
    const prng = new Prng(77)
    const acceptor = await acceptorLayer()
    for (let round = 0; round < 500; round++) {
      const garbage = prng.bytes(prng.int(80))
      if (prng.int(2) === 0) garbage.fill(0, 0, Math.min(5, garbage.length))
      const error = await acceptor.openDatagram(garbage).catch((e: unknown) => e)
      expect(error).toBeInstanceOf(RecordError)
    }
  })
})

describe('RecordLayer limits and options', () => {
  it('stops sealing after the record budget of a key, streams and datagrams together', async () => {
    const { dialer, acceptor } = await layers({ records: 4 })
    await dialer.sealDatagram(utf8('1'))
    await dialer.sealDatagram(utf8('2'))
    const chunks = await recordUni(dialer, [utf8('3')]) // a data record and the end record
    expect((await acceptAndRead(acceptor, chunks)).data).toEqual(utf8('3'))
    await expect(dialer.sealDatagram(utf8('5'))).rejects.toMatchObject({ code: 'KEY_EXHAUSTED' })

    const aborted = deferred<unknown>()
    const transport = new WritableStream<Uint8Array>({ abort: (reason) => aborted.resolve(reason) })
    const writer = dialer.openedUni(transport).getWriter()
    const error: unknown = await writer.write(utf8('6')).catch((e: unknown) => e)
    expectRecordError(error, ['KEY_EXHAUSTED'])
    expect(await aborted.promise).toBe(error)
  })

  it('stops opening streams after the index budget of a class', async () => {
    const { dialer } = await layers({ streams: 2 })
    dialer.openedUni(new WritableStream())
    dialer.openedUni(new WritableStream())
    const aborted = deferred<unknown>()
    let thrown: unknown
    try {
      dialer.openedUni(new WritableStream({ abort: (reason) => aborted.resolve(reason) }))
    } catch (error) {
      thrown = error
    }
    expectRecordError(thrown, ['KEY_EXHAUSTED'])
    expect(await aborted.promise).toBe(thrown)
    // Bidi streams are another class, with their own budget.
    const [stream] = transportPair()
    dialer.openedBidi(stream)
  })

  it('refuses malformed keys', async () => {
    const good = { sendKey: dialerKey, receiveKey: acceptorKey, isDialer: true }
    await expect(RecordLayer.create({ ...good, sendKey: new Uint8Array(16) })).rejects.toThrow(
      TypeError,
    )
    await expect(RecordLayer.create({ ...good, receiveKey: dialerKey })).rejects.toThrow(TypeError)
  })

  it('stops waiting for a preamble when the signal aborts', async () => {
    const acceptor = await acceptorLayer()
    const controller = new AbortController()
    const { readable, cancelled } = source([], 'hang')
    const accepting = acceptor.acceptedUni(readable, { signal: controller.signal })
    const reason = new Error('timeout')
    controller.abort(reason)
    await expect(accepting).rejects.toBe(reason)
    expect(await cancelled).toBe(reason)
  })
})
