import { describe, expect, it } from 'vitest'
import { RecordError } from '../errors.js'
import { concat, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import {
  acceptAndRead,
  acceptorLayer,
  deferred,
  expectRecordError,
  layers,
  openingFor,
  openRecordFor,
  recordUni,
  sink,
  source,
  splitRecords,
  transportPair,
  utf8,
} from './record-fixtures.js'
import { readBytes } from '../testing.js'

describe('StreamUnsealer: transport semantics', () => {
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
})

describe('StreamUnsealer: tampering', () => {
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
    // records[0] is the open record, records[1] the first data record.
    tampered[2]![10]! ^= 0x80
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
    const [open, r0, r1, r2, end] = records as [
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
      Uint8Array,
    ]
    // Stream 1 of the same sender, and the answer direction of a bidi stream (other key).
    const other = splitRecords(concat(...(await recordUni(dialer, [utf8('zero')])))).records
    const answer = sink()
    // The opening of the dialer's bidi stream 0 (class 0), to get an answer record.
    const bidiOpening = concat(Uint8Array.of(0), await openRecordFor(0, 0))
    const accepted = await acceptor.acceptedBidi({
      readable: source([bidiOpening], 'hang').readable,
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
      ['a record of another stream', [other[1]!, r1, r2, end], 'AUTH_FAILED'],
      ['the open record again', [open, r1, r2, end], 'MALFORMED'],
      ['a record of the other direction', [answerRecord, r1, r2, end], 'AUTH_FAILED'],
      ['the end record early', [r0, end], 'AUTH_FAILED'],
      ['bytes after the end record', [r0, r1, r2, end, r2], 'MALFORMED'],
    ]
    for (const [name, parts, code] of cases) {
      const result = await acceptAndRead(await acceptorLayer(), [concat(preamble, open, ...parts)])
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
      ['type 2 (an open record after the start)', concat(Uint8Array.of(2, 0, 0, 16), tag)],
      ['type 3', concat(Uint8Array.of(3, 0, 0, 17), new Uint8Array(17))],
      ['type 255', concat(Uint8Array.of(255, 0, 0, 17), new Uint8Array(17))],
      ['empty data record', concat(Uint8Array.of(0, 0, 0, 16), tag)],
      ['length below the tag', concat(Uint8Array.of(0, 0, 0, 15), new Uint8Array(15))],
      ['data record above 64 KiB', concat(Uint8Array.of(0, 1, 0, 17), new Uint8Array(17))],
      ['long end record', concat(Uint8Array.of(1, 0, 0, 17), new Uint8Array(17))],
      ['short end record', concat(Uint8Array.of(1, 0, 0, 0))],
    ]
    for (const [name, bytes] of cases) {
      const opening = await openingFor(0)
      const result = await acceptAndRead(await acceptorLayer(), [concat(opening, bytes)])
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
      // Some rounds start like a real stream: a small index and a plausible open record
      // header, or a genuine opening (of an index maybe used already) and a plausible header.
      const start = prng.int(3)
      if (start === 1) garbage = concat(Uint8Array.of(prng.int(64), 2, 0, 0, 16), garbage)
      if (start === 2) {
        const header = Uint8Array.of(prng.int(2), 0, 0, 17 + prng.int(40))
        const index = prng.int(8)
        garbage = concat(Uint8Array.of(index), await openRecordFor(index, 0), header, garbage)
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
        await readBytes(accepted.readable)
      } catch (e) {
        error = e
      }
      expect(error).toBeInstanceOf(RecordError)
      codes.add((error as RecordError).code)
    }
    expect([...codes].sort()).toEqual(['AUTH_FAILED', 'MALFORMED', 'REPLAYED', 'TRUNCATED'])
  })
})
