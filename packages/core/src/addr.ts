/**
 * Endpoint addresses: who an endpoint is and where to reach it.
 *
 * Binary layout (all lengths and counts are QUIC varints, RFC 9000 §16, shortest form):
 *
 * ```
 * EndpointAddr:
 *   id                32 bytes    Ed25519 public key (RFC 8032 encoding)
 *   flags             u8          bit 0: a relay URL follows; bits 1-7 must be 0
 *   [relay]           varint length + UTF-8 URL (https:), only if flags bit 0 is set
 *   direct count      varint      at most addrLimits.maxDirect (8)
 *   direct addresses  direct count times:
 *     url             varint length + UTF-8 URL (https:), at most addrLimits.maxUrlBytes (2048)
 *     hash count      varint      at most addrLimits.maxCertHashes (4)
 *     hashes          hash count times 32 bytes: SHA-256 of a certificate to pin
 * ```
 */
import type { ByteReader, ByteWriter } from './codec/varint.js'
import { DecodeError } from './errors.js'
import { PublicKey, type EndpointId } from './identity.js'

/** A WebTransport address of an endpoint that accepts connections itself. */
export interface DirectAddr {
  /** The `https:` URL of the endpoint's WebTransport path. */
  url: string
  /**
   * SHA-256 digests (32 bytes each) of certificates to accept, for WebTransport's
   * `serverCertificateHashes`; empty when the certificate chains to a trusted root.
   */
  certHashes: Uint8Array[]
}

/** Everything needed to dial an endpoint: its id and the ways to reach it. */
export interface EndpointAddr {
  /** The endpoint's public key; a connection is only accepted from the holder of its secret. */
  id: EndpointId
  /** The `https:` URL of a relay the endpoint is reachable through, if any. */
  relay?: string
  /** Addresses the endpoint accepts WebTransport on directly; may be empty. */
  direct: DirectAddr[]
}

/** Hard limits of an {@link EndpointAddr}, enforced when encoding and decoding. */
export const addrLimits = Object.freeze({
  /** Direct addresses in one address. */
  maxDirect: 8,
  /** Certificate hashes per direct address. */
  maxCertHashes: 4,
  /** UTF-8 bytes of one URL (relay or direct). */
  maxUrlBytes: 2048,
} as const)

const hashBytes = 32
const flagRelay = 0x01
const utf8Encoder = new TextEncoder()

/**
 * Checks that `url` is a string that parses as an `https:` URL of at most
 * `addrLimits.maxUrlBytes`.
 * @throws {TypeError} naming `field`, for a value that is no string or no URL.
 * @throws {RangeError} naming `field`, for a URL too long or not `https:`.
 */
export function checkUrl(url: unknown, field: string): void {
  if (typeof url !== 'string') throw new TypeError(`${field} must be a string`)
  if (utf8Encoder.encode(url).length > addrLimits.maxUrlBytes) {
    throw new RangeError(`${field} is longer than ${addrLimits.maxUrlBytes} bytes`)
  }
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch (e) {
    throw new TypeError(`${field} is not a URL`, { cause: e })
  }
  if (parsed.protocol !== 'https:') throw new RangeError(`${field} must be an https: URL`)
}

/**
 * Checks that `addr` can be encoded: `id` is a {@link PublicKey}; `relay` (if present) and
 * every direct `url` parse with `new URL`, are `https:` and fit `addrLimits.maxUrlBytes`; every
 * certificate hash is 32 bytes; the counts are within {@link addrLimits}.
 * @throws {TypeError} naming the field, for a value of the wrong type or a URL that does not
 *   parse.
 * @throws {RangeError} naming the field, for a count or size beyond the limits, a hash that is
 *   not 32 bytes, or a URL that is not `https:`.
 */
export function validateAddr(addr: EndpointAddr): void {
  if (typeof addr !== 'object' || addr === null) throw new TypeError('addr must be an object')
  if (!(addr.id instanceof PublicKey)) throw new TypeError('addr.id must be a PublicKey')
  if (addr.relay !== undefined) checkUrl(addr.relay, 'addr.relay')
  if (!Array.isArray(addr.direct)) throw new TypeError('addr.direct must be an array')
  if (addr.direct.length > addrLimits.maxDirect) {
    throw new RangeError(`addr.direct has more than ${addrLimits.maxDirect} addresses`)
  }
  addr.direct.forEach((direct: DirectAddr | undefined, i) => {
    const field = `addr.direct[${i}]`
    if (typeof direct !== 'object' || direct === null) {
      throw new TypeError(`${field} must be an object`)
    }
    checkUrl(direct.url, `${field}.url`)
    if (!Array.isArray(direct.certHashes)) {
      throw new TypeError(`${field}.certHashes must be an array`)
    }
    if (direct.certHashes.length > addrLimits.maxCertHashes) {
      throw new RangeError(`${field}.certHashes has more than ${addrLimits.maxCertHashes} hashes`)
    }
    direct.certHashes.forEach((hash, j) => {
      if (!(hash instanceof Uint8Array)) {
        throw new TypeError(`${field}.certHashes[${j}] must be a Uint8Array`)
      }
      if (hash.length !== hashBytes) {
        throw new RangeError(`${field}.certHashes[${j}] must be ${hashBytes} bytes`)
      }
    })
  })
}

/**
 * Writes `addr` in the layout above.
 * @throws {TypeError | RangeError} if `addr` is not valid (see {@link validateAddr}).
 */
export function encodeAddr(writer: ByteWriter, addr: EndpointAddr): void {
  validateAddr(addr)
  writer.bytes(addr.id.toBytes())
  writer.u8(addr.relay !== undefined ? flagRelay : 0)
  if (addr.relay !== undefined) writer.string(addr.relay)
  writer.varint(addr.direct.length)
  for (const direct of addr.direct) {
    writer.string(direct.url)
    writer.varint(direct.certHashes.length)
    for (const hash of direct.certHashes) writer.bytes(hash)
  }
}

/**
 * Reads an address in the layout above. Every byte array in the result is a copy, so the
 * input may be reused. Counts and lengths are checked against {@link addrLimits} before
 * anything they describe is read.
 * @throws {DecodeError} `TRUNCATED` if the input ends inside the address; `TOO_LARGE` for a
 *   count or URL beyond {@link addrLimits}; `INVALID` for an id that is not a public key,
 *   unknown flags, or a URL that is not UTF-8, does not parse or is not `https:`;
 *   `NON_CANONICAL` for a varint not in its shortest form.
 */
export function decodeAddr(reader: ByteReader): EndpointAddr {
  const id = PublicKey.fromBytes(reader.bytes(32))
  const flags = reader.u8()
  if ((flags & ~flagRelay) !== 0) {
    throw new DecodeError('INVALID', `unknown address flags 0x${flags.toString(16)}`)
  }
  const addr: EndpointAddr = { id, direct: [] }
  if (flags & flagRelay) addr.relay = reader.string(addrLimits.maxUrlBytes)
  const count = reader.varint()
  if (count > addrLimits.maxDirect) {
    throw new DecodeError('TOO_LARGE', `${count} direct addresses, above ${addrLimits.maxDirect}`)
  }
  for (let i = 0; i < count; i++) {
    const url = reader.string(addrLimits.maxUrlBytes)
    const hashCount = reader.varint()
    if (hashCount > addrLimits.maxCertHashes) {
      throw new DecodeError(
        'TOO_LARGE',
        `${hashCount} certificate hashes, above ${addrLimits.maxCertHashes}`,
      )
    }
    const certHashes: Uint8Array[] = []
    for (let j = 0; j < hashCount; j++) certHashes.push(reader.bytes(hashBytes).slice())
    addr.direct.push({ url, certHashes })
  }
  // The same rules as encoding, so whatever decodes also encodes (and builds a ticket). Limits
  // were enforced above as TOO_LARGE; what is left here is an unusable URL.
  try {
    validateAddr(addr)
  } catch (e) {
    throw new DecodeError('INVALID', `an address that does not validate: ${String(e)}`, {
      cause: e,
    })
  }
  return addr
}
