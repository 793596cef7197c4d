import { describe, expect, it } from 'vitest'
import { concat, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { maxRecordPlaintext } from './record-format.js'
import {
  acceptAndRead,
  deferred,
  layers,
  recordUni,
  splitRecords,
  utf8,
} from './record-fixtures.js'

/** One macrotask turn, so that pending promise reactions run. No timing is assumed. */
function settled(): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, 0))
}

describe('StreamSealer', () => {
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
})
