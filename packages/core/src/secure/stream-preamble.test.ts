import { describe, expect, it } from 'vitest'
import type { RecordError } from '../errors.js'
import { concat, fromHex, toHex } from '../internal/bytes.js'
import {
  acceptAndRead,
  acceptorLayer,
  deferred,
  layers,
  openRecordFor,
  recordUni,
  source,
  utf8,
} from './record-fixtures.js'
import { decodeIndex } from './stream-preamble.js'

describe('stream preambles', () => {
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
      // The preamble goes out with the 20-byte open record, in one write.
      const write = (chunk: Uint8Array): void => first.resolve(toHex(chunk.subarray(0, -20)))
      dialer.openedUni(new WritableStream({ write }))
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
      const preamble = fromHex(hex)
      // A genuine open record follows the minimal preambles below 2^24; those must pass.
      let index = 0
      try {
        index = decodeIndex(preamble)?.index ?? 0
      } catch {
        // Refused before its open record is looked at: any record will do.
      }
      const open = await openRecordFor(index)
      const { readable, cancelled } = source([concat(preamble, open)], 'hang')
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
