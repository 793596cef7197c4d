import { describe, expect, it } from 'vitest'
import {
  acceptAndRead,
  deferred,
  expectRecordError,
  layers,
  recordUni,
  utf8,
} from './record-fixtures.js'

describe('SealingKey', () => {
  it('stops sealing after the record budget of a key, streams and datagrams together', async () => {
    const { dialer, acceptor } = await layers({ records: 5 })
    await dialer.sealDatagram(utf8('1'))
    await dialer.sealDatagram(utf8('2'))
    // The open record, a data record and the end record.
    const chunks = await recordUni(dialer, [utf8('3')])
    expect((await acceptAndRead(acceptor, chunks)).data).toEqual(utf8('3'))
    await expect(dialer.sealDatagram(utf8('5'))).rejects.toMatchObject({ code: 'KEY_EXHAUSTED' })

    const aborted = deferred<unknown>()
    const transport = new WritableStream<Uint8Array>({ abort: (reason) => aborted.resolve(reason) })
    const writer = dialer.openedUni(transport).getWriter()
    const error: unknown = await writer.write(utf8('6')).catch((e: unknown) => e)
    expectRecordError(error, ['KEY_EXHAUSTED'])
    expect(await aborted.promise).toBe(error)
  })
})
