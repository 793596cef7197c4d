import { describe, expect, it, vi } from 'vitest'
import { aead } from '#aead'
import { concat, toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { nonce, tagLength } from './record-format.js'
import {
  acceptAndRead,
  acceptorKey,
  dialerKey,
  expectRecordError,
  layers,
  openingFor,
  recordUni,
  splitRecords,
  utf8,
} from './record-fixtures.js'
import { keyInfo } from './record-keys.js'
import { RecordLayer } from './record-layer.js'
import { encodeIndex } from './stream-preamble.js'

/** The dialer's key for records `epoch · perKey` onward of stream `index` of `streamClass`. */
async function dialerRecordKey(streamClass: number, index: number, epoch: number) {
  return (await aead.importSecret(dialerKey())).deriveKey(keyInfo(streamClass, index, epoch))
}

/** Whether `record` (header and ciphertext) unseals as record `counter` under `key`. */
async function unseals(
  key: Awaited<ReturnType<typeof dialerRecordKey>>,
  streamClass: number,
  index: number,
  counter: number,
  record: Uint8Array,
): Promise<boolean> {
  return key
    .unseal(nonce(streamClass, index, counter), record.subarray(0, 4), record.subarray(4))
    .then(
      () => true,
      () => false,
    )
}

describe('record keys', () => {
  it('labels each key with its stream class, index and epoch', () => {
    const label = toHex(utf8('ferry/record/2'))
    expect(toHex(keyInfo(0, 7, 3))).toBe(`${label}00000007` + '0000000000000003')
    expect(toHex(keyInfo(4, 0, 2 ** 33 + 1))).toBe(`${label}04000000` + '0000000200000001')
    expect(toHex(keyInfo(3, 2 ** 24 - 1, 0))).toBe(`${label}03ffffff` + '0000000000000000')
  })

  it('moves a stream to a new key every run of records, which its reader follows', async () => {
    const perKey = 3
    const { dialer } = await layers({ recordsPerKey: perKey })
    const writes = Array.from({ length: 10 }, (_, i) => utf8(`record ${i}`))
    const wire = concat(...(await recordUni(dialer, writes)))
    // The open record (counter 0), ten data records, the end record: counters 0 to 11.
    const { preamble, records } = splitRecords(wire)
    expect(toHex(preamble)).toBe('00')
    expect(records.length).toBe(12)
    for (const [counter, record] of records.entries()) {
      const epoch = Math.floor(counter / perKey)
      const own = await dialerRecordKey(2, 0, epoch)
      expect(await unseals(own, 2, 0, counter, record)).toBe(true)
      // Not under the key before or after it, nor under another stream's.
      for (const other of [epoch - 1, epoch + 1].filter((e) => e >= 0)) {
        expect(await unseals(await dialerRecordKey(2, 0, other), 2, 0, counter, record)).toBe(false)
      }
      expect(await unseals(await dialerRecordKey(2, 1, epoch), 2, 0, counter, record)).toBe(false)
    }
    const { acceptor } = await layers({ recordsPerKey: perKey })
    const read = await acceptAndRead(acceptor, [wire])
    expect(read.error).toBeUndefined()
    expect(new TextDecoder().decode(read.data)).toBe(
      writes.map((w) => new TextDecoder().decode(w)).join(''),
    )
  })

  it('carries datagrams across key epochs, reordered over a boundary too', async () => {
    const { dialer, acceptor } = await layers({ recordsPerKey: 4 })
    const sealed = []
    for (let i = 0; i < 20; i++) sealed.push(await dialer.sealDatagram(utf8(`d${i}`)))
    // Swap the neighbours on each side of every boundary: 3 ↔ 4, 7 ↔ 8, 11 ↔ 12, 15 ↔ 16.
    const order = Array.from({ length: 20 }, (_, i) => i)
    for (const boundary of [4, 8, 12, 16]) {
      order[boundary - 1] = boundary
      order[boundary] = boundary - 1
    }
    const got = []
    for (const i of order)
      got.push(new TextDecoder().decode(await acceptor.unsealDatagram(sealed[i]!)))
    expect(got).toEqual(order.map((i) => `d${i}`))
  })

  it('refuses a datagram two key epochs ahead before deriving a key, without counting it as a forgery', async () => {
    const onIntegrityLimit = vi.fn()
    const acceptor = await RecordLayer.create({
      sendKey: acceptorKey(),
      receiveKey: dialerKey(),
      isDialer: false,
      _limits: { recordsPerKey: 4, forgeries: 0 },
    })
    acceptor.onIntegrityLimit = onIntegrityLimit
    const { dialer } = await layers({ recordsPerKey: 4 })
    const sealed = []
    for (let i = 0; i < 9; i++) sealed.push(await dialer.sealDatagram(utf8(`d${i}`)))
    // Sequence 8 is epoch 2; nothing of epoch 0 has authenticated yet.
    await acceptor.unsealDatagram(sealed[8]!).then(
      () => expect.fail('a datagram two epochs ahead was accepted'),
      (e: unknown) => expectRecordError(e, ['AUTH_FAILED']),
    )
    expect(onIntegrityLimit).not.toHaveBeenCalled()
    // With epoch 1 reached, epoch 2 is next, and the same datagram passes.
    expect(await acceptor.unsealDatagram(sealed[4]!)).toEqual(utf8('d4'))
    expect(await acceptor.unsealDatagram(sealed[8]!)).toEqual(utf8('d8'))
  })

  it('counts forged openings and forged records against the integrity limit, then refuses openings', async () => {
    const prng = new Prng(9)
    const onIntegrityLimit = vi.fn()
    const acceptor = await RecordLayer.create({
      sendKey: acceptorKey(),
      receiveKey: dialerKey(),
      isDialer: false,
      _limits: { forgeries: 2 },
    })
    acceptor.onIntegrityLimit = onIntegrityLimit
    // A preamble and an open record header with a random tag: a forged opening.
    const forgedOpening = (index: number): Uint8Array =>
      concat(encodeIndex(index), Uint8Array.of(2, 0, 0, tagLength), prng.bytes(tagLength))
    for (const index of [0, 1]) {
      expectRecordError((await acceptAndRead(acceptor, [forgedOpening(index)])).error, [
        'AUTH_FAILED',
      ])
    }
    expect(onIntegrityLimit).not.toHaveBeenCalled()
    // A genuine opening, then a data record that does not authenticate: the third forgery.
    const forgedRecord = concat(Uint8Array.of(0, 0, 0, 20), prng.bytes(20))
    const read = await acceptAndRead(acceptor, [concat(await openingFor(5), forgedRecord)])
    expectRecordError(read.error, ['AUTH_FAILED'])
    expect(onIntegrityLimit).toHaveBeenCalledTimes(1)
    // From then on no stream opens, genuine or not.
    expectRecordError((await acceptAndRead(acceptor, [await openingFor(6)])).error, ['TOO_MANY'])
    expect(onIntegrityLimit).toHaveBeenCalledTimes(1)
  })

  it('wipes the secrets it is given', async () => {
    const sendKey = dialerKey()
    const receiveKey = acceptorKey()
    await RecordLayer.create({ sendKey, receiveKey, isDialer: true })
    expect(sendKey.every((b) => b === 0)).toBe(true)
    expect(receiveKey.every((b) => b === 0)).toBe(true)
  })
})
