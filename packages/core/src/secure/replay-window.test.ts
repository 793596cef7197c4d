import { describe, expect, it } from 'vitest'
import { toHex } from '../internal/bytes.js'
import {
  acceptAndRead,
  acceptorLayer,
  expectRecordError,
  layers,
  openingFor,
  recordUni,
  source,
  utf8,
} from './record-fixtures.js'

describe('replay windows: streams', () => {
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

  it('slides a 4096-wide window over stream indexes: gaps are forgotten, not fatal', async () => {
    const acceptor = await acceptorLayer()
    // Each stream opening: the preamble and a genuine open record.
    const accept = async (index: number): Promise<unknown> =>
      acceptor.acceptedUni(source([await openingFor(index)], 'hang').readable)
    // Index 0 never arrives (its stream was reset before its preamble was sent): the streams
    // after it go on being accepted, far past the window.
    for (let index = 1; index <= 5000; index++) await accept(index)
    await expect(accept(5000)).rejects.toMatchObject({ name: 'RecordError', code: 'REPLAYED' })
    // 5000 - 4095: the oldest index the window still holds; one below is refused unseen.
    await expect(accept(904)).rejects.toMatchObject({ code: 'REPLAYED' })
    await expect(accept(0)).rejects.toMatchObject({ code: 'REPLAYED' })
    // Indexes within the window that never arrived are still welcome, once.
    await accept(5002)
    await accept(5001)
    await expect(accept(5001)).rejects.toMatchObject({ code: 'REPLAYED' })
    // A jump past the whole window forgets it.
    await accept(20_000)
    await accept(17_000)
    await expect(accept(15_904)).rejects.toMatchObject({ code: 'REPLAYED' })
  })
})

describe('replay windows: datagrams', () => {
  it('refuses duplicates and datagrams behind the window, and accepts reordering within it', async () => {
    const { dialer, acceptor } = await layers()
    const sealed: Uint8Array[] = []
    for (let i = 0; i < 300; i++) sealed.push(await dialer.sealDatagram(Uint8Array.of(i & 0xff)))
    expect(toHex(sealed[1]!.subarray(0, 8))).toBe('0000000000000001')

    await acceptor.unsealDatagram(sealed[5]!)
    await acceptor.unsealDatagram(sealed[3]!)
    await acceptor.unsealDatagram(sealed[4]!)
    await expect(acceptor.unsealDatagram(sealed[4]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    await acceptor.unsealDatagram(sealed[200]!)
    // 200 - 73 = 127: the oldest the window holds; 72 is one behind it.
    expect(await acceptor.unsealDatagram(sealed[73]!)).toEqual(Uint8Array.of(73))
    await expect(acceptor.unsealDatagram(sealed[72]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    await expect(acceptor.unsealDatagram(sealed[5]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    await expect(acceptor.unsealDatagram(sealed[73]!)).rejects.toMatchObject({ code: 'REPLAYED' })
    expect(await acceptor.unsealDatagram(sealed[199]!)).toEqual(Uint8Array.of(199))
    // A jump past the whole window forgets it.
    expect(await acceptor.unsealDatagram(sealed[299]!)).toEqual(Uint8Array.of(299 & 0xff))
    expect(await acceptor.unsealDatagram(sealed[250]!)).toEqual(Uint8Array.of(250))
    await expect(acceptor.unsealDatagram(sealed[199]!)).rejects.toMatchObject({ code: 'REPLAYED' })

    // Two copies unsealed at once: exactly one gets through.
    const twice = await Promise.allSettled([
      acceptor.unsealDatagram(sealed[280]!),
      acceptor.unsealDatagram(sealed[280]!),
    ])
    expect(twice.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected'])
  })
})
