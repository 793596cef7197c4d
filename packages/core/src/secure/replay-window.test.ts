import { describe, expect, it } from 'vitest'
import { toHex } from '../internal/bytes.js'
import {
  acceptAndRead,
  acceptorLayer,
  expectRecordError,
  layers,
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
