import { describe, expect, it } from 'vitest'
import type { EndpointAddr } from '../addr.js'
import { DecodeError } from '../errors.js'
import { SecretKey } from '../identity.js'
import { toHex } from '../internal/bytes.js'
import { Prng } from '../internal/prng.js'
import { signAddrRecord, verifyAddrRecord } from './addr-record.js'

const key = await SecretKey.fromBytes(new Uint8Array(32).fill(7))
const addr: EndpointAddr = {
  id: key.publicKey,
  relay: 'https://relay.example/ferry',
  direct: [{ url: 'https://127.0.0.1:4433/ferry', certHashes: [new Prng(1).bytes(32)] }],
}
const now = 1_800_000_000_000

async function rejects(promise: Promise<unknown>, code: DecodeError['code']): Promise<void> {
  const error = await promise.then(
    () => expect.fail('the record was accepted'),
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(DecodeError)
  expect((error as DecodeError).code).toBe(code)
}

describe('address records', () => {
  it('verify when signed by their own id, recently, and give the address back', async () => {
    const record = await signAddrRecord(key, addr, now - 1000)
    // version 1, then the timestamp varint (8 bytes, 0b11 prefix), then the address.
    expect(toHex(record.subarray(0, 2))).toBe('01c0')
    const verified = await verifyAddrRecord(record, { now })
    expect(verified.timestamp).toBe(now - 1000)
    expect(verified.addr.id.equals(key.publicKey)).toBe(true)
    expect(verified.addr.relay).toBe(addr.relay)
    expect(verified.addr.direct[0]!.url).toBe(addr.direct[0]!.url)
    expect(toHex(verified.addr.direct[0]!.certHashes[0]!)).toBe(
      toHex(addr.direct[0]!.certHashes[0]!),
    )
  })

  it('refuse any changed byte, stale or future records, and other versions', async () => {
    const record = await signAddrRecord(key, addr, now)
    const prng = new Prng(2)
    for (let i = 0; i < 40; i++) {
      const changed = record.slice()
      changed[prng.int(changed.length)]! ^= 1 << prng.int(8)
      await expect(verifyAddrRecord(changed, { now })).rejects.toBeInstanceOf(DecodeError)
    }
    await rejects(verifyAddrRecord(record, { now: now + 24 * 3600_000 + 1 }), 'INVALID')
    await rejects(verifyAddrRecord(record, { now: now + 10_000, maxAgeMs: 5_000 }), 'INVALID')
    await rejects(verifyAddrRecord(record, { now: now - 5 * 60_000 - 1 }), 'INVALID')
    const version2 = record.slice()
    version2[0] = 2
    await rejects(verifyAddrRecord(version2, { now }), 'UNKNOWN_VERSION')
    await rejects(verifyAddrRecord(record.subarray(0, 63), { now }), 'TRUNCATED')
  })

  it('are signed only by the key of the id they carry', async () => {
    const other = await SecretKey.generate()
    await expect(signAddrRecord(other, addr, now)).rejects.toBeInstanceOf(TypeError)
  })
})
