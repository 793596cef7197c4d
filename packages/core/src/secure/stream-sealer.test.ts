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

/**
 * Makes `writable` report each wait on it: `onBlocked` runs, with the pending `ready`, each time
 * the `ready` of the writer it hands out is read while the stream has backpressure.
 */
function onBlockedWrite(
  writable: WritableStream<Uint8Array>,
  onBlocked: (ready: Promise<undefined>) => void,
): void {
  const getWriter = writable.getWriter.bind(writable)
  writable.getWriter = () => {
    const writer = getWriter()
    Object.defineProperty(writer, 'ready', {
      get: () => {
        // The platform's own getter, on this writer.
        const ready = Reflect.get(
          WritableStreamDefaultWriter.prototype,
          'ready',
          writer,
        ) as Promise<undefined>
        if ((writer.desiredSize ?? 1) <= 0) onBlocked(ready)
        return ready
      },
    })
    return writer
  }
}

describe('StreamSealer', () => {
  it('splits one huge write into full-size records', async () => {
    const { dialer, acceptor } = await layers()
    const data = new Prng(9).bytes(3 * maxRecordPlaintext + 5)
    const chunks = await recordUni(dialer, [data])
    const { preamble, records } = splitRecords(concat(...chunks))
    expect(toHex(preamble)).toBe('00')
    expect(records.map((r) => toHex(r.subarray(0, 4)))).toEqual([
      '02000010',
      '00010010',
      '00010010',
      '00010010',
      '00000015',
      '01000010',
    ])
    const { data: got } = await acceptAndRead(acceptor, chunks)
    expect(toHex(got ?? new Uint8Array())).toBe(toHex(data))
  })

  it('carries an empty stream as a preamble, an open record and an end record', async () => {
    const { dialer, acceptor } = await layers()
    const chunks = await recordUni(dialer, [])
    const wire = concat(...chunks)
    expect(wire.length).toBe(1 + 20 + 20)
    expect(toHex(wire.subarray(0, 5))).toBe('0002000010')
    expect(toHex(wire.subarray(21, 25))).toBe('01000010')
    const result = await acceptAndRead(acceptor, chunks)
    expect(result.error).toBeUndefined()
    expect(result.data?.length).toBe(0)
  })

  it('keeps backpressure end to end', async () => {
    const { dialer } = await layers()
    // The preamble with the open record (one chunk), 10 data records, the end record.
    const total = 1 + 10 + 1
    const arrivals: Uint8Array[] = []
    let pushed = 0
    // The most chunks ever queued in the transport and not yet taken by its sink, measured on
    // every write to the transport (`size()` runs on each).
    let mostQueued = 0
    // The sealer is waiting on the transport's `ready`, which has not resolved yet.
    let sealerWaits = false
    let pushedAtFirstWait: number | undefined
    let wakeSink: (() => void) | undefined
    // The sink holds each chunk until the sealer waits on the transport (or has written all it
    // will), so the sealer always gets the chance to run ahead, and every step is an event.
    const transport = new WritableStream<Uint8Array>(
      {
        write(chunk) {
          arrivals.push(chunk)
          if (sealerWaits || pushed === total) return
          return new Promise<void>((resolve) => (wakeSink = resolve))
        },
      },
      {
        highWaterMark: 1,
        size: () => {
          pushed++
          mostQueued = Math.max(mostQueued, pushed - arrivals.length)
          if (pushed === total) wakeSink?.()
          return 1
        },
      },
    )
    onBlockedWrite(transport, (ready) => {
      pushedAtFirstWait ??= pushed
      sealerWaits = true
      void ready.then(() => (sealerWaits = false))
      wakeSink?.()
      wakeSink = undefined
    })
    const writer = dialer.openedUni(transport).getWriter()
    // How many chunks the transport had taken when the plaintext write settled, and when the
    // plaintext writer was ready again.
    const written = writer
      .write(new Prng(3).bytes(10 * maxRecordPlaintext))
      .then(() => arrivals.length)
    const ready = writer.ready.then(() => arrivals.length)
    await written
    await writer.close()

    // While the opening sat in the transport, the sealer sealed nothing and waited.
    expect(pushedAtFirstWait).toBe(1)
    // Nothing is sealed while the transport's writer is not ready: no more than the sealing
    // window (4) ever queued in the transport.
    expect(mostQueued).toBeLessThanOrEqual(4)
    // The plaintext writer waited on the transport: its write settled, and it became ready,
    // only once the transport had taken all but the sealing window's records.
    expect(await written).toBeGreaterThanOrEqual(11 - 4)
    expect(await ready).toBeGreaterThanOrEqual(11 - 4)
    expect(arrivals.length).toBe(total)
    const wire = concat(...arrivals)
    expect(wire.length).toBe(1 + 20 + 10 * (4 + 65536 + 16) + 4 + 16)
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
    // The preamble and the open record go out in one write.
    expect(events).toEqual(['write 21', 'write 23', 'write 20', 'close'])

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
