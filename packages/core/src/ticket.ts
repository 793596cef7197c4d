/**
 * Tickets: everything needed to reach something, as one line of text to paste, link or put in a
 * QR code. A ticket's text is its kind (`endpoint`) followed directly by the lowercase unpadded
 * base32 of its binary form; the binary form is a version byte (1) and the kind's body, with
 * nothing after it. Kinds are prefix-free, so the text needs no separator.
 */
import { decodeAddr, encodeAddr, validateAddr, type EndpointAddr } from './addr.js'
import { base32Decode, base32Encode } from './codec/base32.js'
import { ByteReader, ByteWriter } from './codec/varint.js'
import { DecodeError } from './errors.js'

/** The longest ticket text accepted (longer → {@link DecodeError} `TOO_LARGE`). */
export const maxTicketChars = 4096

/** The ticket format version this code writes and reads. */
const ticketVersion = 1
/** Kinds other packages will define; recognised so the error can say what is missing. */
const reservedKinds = ['blob', 'doc'] as const

function checkText(text: string): void {
  if (typeof text !== 'string') throw new TypeError('text must be a string')
  if (text.length > maxTicketChars) {
    throw new DecodeError(
      'TOO_LARGE',
      `a ticket of ${text.length} characters is above ${maxTicketChars}`,
    )
  }
}

/** Copies `addr` deeply, so a ticket does not change when the caller's arrays do. */
function copyAddr(addr: EndpointAddr): EndpointAddr {
  const copy: EndpointAddr = {
    id: addr.id,
    direct: addr.direct.map((d) => ({
      url: d.url,
      certHashes: d.certHashes.map((h) => h.slice()),
    })),
  }
  if (addr.relay !== undefined) copy.relay = addr.relay
  return copy
}

/**
 * A ticket to an endpoint: its {@link EndpointAddr}. Text form `endpoint<base32>`; body the
 * address as `encodeAddr` writes it.
 */
export class EndpointTicket {
  /** The ticket's kind, its text prefix. */
  static readonly kind = 'endpoint'

  /** The address this ticket carries (a copy of the one it was made with). */
  readonly addr: EndpointAddr

  /**
   * @throws {TypeError | RangeError} if `addr` is not valid (see `validateAddr`).
   */
  constructor(addr: EndpointAddr) {
    validateAddr(addr)
    this.addr = copyAddr(addr)
  }

  /** The binary form: version byte, then the address. */
  toBytes(): Uint8Array<ArrayBuffer> {
    const writer = new ByteWriter(128)
    writer.u8(ticketVersion)
    encodeAddr(writer, this.addr)
    return writer.finish()
  }

  /** The text form: `endpoint` and the base32 of {@link EndpointTicket.toBytes}. */
  toString(): string {
    return EndpointTicket.kind + base32Encode(this.toBytes())
  }

  /** The text form, so a ticket inside `JSON.stringify` reads as its text. */
  toJSON(): string {
    return this.toString()
  }

  /**
   * Parses the text form.
   * @throws {DecodeError} `TOO_LARGE` above 4096 characters; `INVALID` if the
   *   text does not start with `endpoint`; the errors of `base32Decode` and
   *   {@link EndpointTicket.fromBytes}.
   * @throws {TypeError} if `text` is not a string.
   */
  static parse(text: string): EndpointTicket {
    checkText(text)
    if (!text.startsWith(EndpointTicket.kind)) {
      throw new DecodeError('INVALID', `not an ${EndpointTicket.kind} ticket`)
    }
    const body = text.slice(EndpointTicket.kind.length)
    return EndpointTicket.fromBytes(base32Decode(body, maxTicketChars))
  }

  /**
   * Parses the binary form; `bytes` is not kept.
   * @throws {DecodeError} `UNKNOWN_VERSION` for a version other than 1; `TRUNCATED` if the
   *   bytes end early; `TRAILING_BYTES` if bytes follow the address; the errors of `decodeAddr`.
   * @throws {TypeError} if `bytes` is not a `Uint8Array`.
   */
  static fromBytes(bytes: Uint8Array): EndpointTicket {
    const reader = new ByteReader(bytes)
    const version = reader.u8()
    if (version !== ticketVersion) {
      throw new DecodeError('UNKNOWN_VERSION', `ticket version ${version} is unknown`)
    }
    const addr = decodeAddr(reader)
    reader.end()
    return new EndpointTicket(addr)
  }
}

/**
 * Parses any ticket by its kind prefix. Only `endpoint` tickets exist yet.
 * @throws {DecodeError} `UNKNOWN_VERSION` for the reserved kinds `blob` and `doc`, which this
 *   version does not support yet; `INVALID` for text that starts with no known kind; the errors
 *   of {@link EndpointTicket.parse} otherwise.
 * @throws {TypeError} if `text` is not a string.
 */
export function parseTicket(text: string): EndpointTicket {
  checkText(text)
  if (text.startsWith(EndpointTicket.kind)) return EndpointTicket.parse(text)
  const reserved = reservedKinds.find((kind) => text.startsWith(kind))
  if (reserved !== undefined) {
    throw new DecodeError('UNKNOWN_VERSION', `${reserved} tickets are not supported yet`)
  }
  throw new DecodeError('INVALID', 'text that starts with no known ticket kind')
}
