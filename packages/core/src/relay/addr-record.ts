/**
 * Signed address records: an endpoint publishes its {@link EndpointAddr} to its relay, signed
 * with its identity key and dated, so a dialer that knows only the EndpointId (or holds a
 * stale ticket) can look up where to reach it, and check that the endpoint itself said so,
 * lately.
 *
 *     record    = version u8 (1) | timestamp varint (ms since 1970, UTC) | EndpointAddr |
 *                 signature (64 bytes)
 *     signature = the endpoint's Ed25519 signature, under the context `ferry/addr/1`, of every
 *                 byte before it
 *
 * The EndpointAddr encoding is `addr.ts`'s; its id is the signer.
 */
import { decodeAddr, encodeAddr, type EndpointAddr } from '../addr.js'
import { ByteReader, ByteWriter } from '../codec/varint.js'
import { DecodeError } from '../errors.js'
import { _signRaw, type SecretKey, signatureInput } from '../identity.js'

/** The record format's version byte. */
export const addrRecordVersion = 1
/** The signing context of an address record. */
export const addrRecordContext = 'ferry/addr/1'
/** How old a record may be and still be believed, by default: a day. */
export const defaultRecordMaxAgeMs = 24 * 60 * 60 * 1000
/** How far in the future a record's timestamp may be (clocks differ): five minutes. */
export const recordMaxSkewMs = 5 * 60 * 1000

/** A record that verified: the address, and when the endpoint signed it. */
export interface AddrRecord {
  addr: EndpointAddr
  /** When it was signed, ms since 1970 (UTC), by the endpoint's clock. */
  timestamp: number
}

/**
 * `addr`, signed by `secretKey` (which must be `addr.id`'s key) and dated `timestamp`.
 * @throws {TypeError} if `secretKey` is not `addr.id`'s key.
 */
export async function signAddrRecord(
  secretKey: SecretKey,
  addr: EndpointAddr,
  timestamp: number = Date.now(),
): Promise<Uint8Array> {
  if (!secretKey.publicKey.equals(addr.id)) {
    throw new TypeError('an address record is signed by the key of its own id')
  }
  const writer = new ByteWriter(256).u8(addrRecordVersion).varint(Math.floor(timestamp))
  encodeAddr(writer, addr)
  const body = writer.finish()
  const signature = await _signRaw(secretKey, signatureInput(addrRecordContext, body))
  return new ByteWriter(body.length + 64).bytes(body).bytes(signature).finish()
}

/** Options of {@link verifyAddrRecord}. */
export interface VerifyAddrRecordOptions {
  /** The time to check freshness against, ms since 1970. Default now. */
  now?: number
  /** The oldest record to believe. Default a day. */
  maxAgeMs?: number
}

/**
 * The address `bytes` carries, once its signature and freshness check.
 * @throws {DecodeError} `UNKNOWN_VERSION`, `TRUNCATED`, `TRAILING_BYTES`, `NON_CANONICAL`,
 *   `TOO_LARGE`, or `INVALID` (a bad address, a signature that does not verify, a record
 *   older than `maxAgeMs` or dated more than five minutes ahead).
 */
export async function verifyAddrRecord(
  bytes: Uint8Array,
  options: VerifyAddrRecordOptions = {},
): Promise<AddrRecord> {
  const { now = Date.now(), maxAgeMs = defaultRecordMaxAgeMs } = options
  if (bytes.length < 64) throw new DecodeError('TRUNCATED', 'an address record is too short')
  const body = bytes.subarray(0, bytes.length - 64)
  const signature = bytes.subarray(bytes.length - 64)
  const reader = new ByteReader(body)
  const version = reader.u8()
  if (version !== addrRecordVersion) {
    throw new DecodeError('UNKNOWN_VERSION', `an address record of version ${version}`)
  }
  const timestamp = reader.varint()
  const addr = decodeAddr(reader)
  reader.end()
  if (!(await addr.id.verify(addrRecordContext, body, signature))) {
    throw new DecodeError('INVALID', 'the address record is not signed by its endpoint')
  }
  if (timestamp < now - maxAgeMs) {
    throw new DecodeError('INVALID', 'the address record is stale')
  }
  if (timestamp > now + recordMaxSkewMs) {
    throw new DecodeError('INVALID', 'the address record is dated in the future')
  }
  return { addr, timestamp }
}
