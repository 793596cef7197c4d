/**
 * QPACK field sections (RFC 9204) for an endpoint without a dynamic table: we advertise
 * SETTINGS_QPACK_MAX_TABLE_CAPACITY = 0 and SETTINGS_QPACK_BLOCKED_STREAMS = 0, so a peer may
 * only use the static table and literals, and neither side ever opens an encoder or decoder
 * stream with anything to say.
 *
 * Text is handled as ISO-8859-1 ("isomorphic" decode/encode, as the Fetch standard does for
 * header bytes): one byte is one UTF-16 code unit of the same value. This is lossless, so the
 * HTTP layer sees exactly the bytes the peer sent, and it never throws on non-UTF-8 values.
 * Names are NOT validated here (lowercase, token characters): RFC 9114 §4.2 makes a bad name a
 * malformed message (a stream error, H3_MESSAGE_ERROR), not a QPACK failure (a connection
 * error), so that check belongs to the HTTP layer.
 */

import { LimitError, QpackError } from '../errors.js'
import { huffmanDecode, huffmanEncode, huffmanEncodedLength } from './huffman.js'

/** The QPACK static table, RFC 9204 Appendix A: 99 `[name, value]` entries, indexed from 0. */
export const STATIC_TABLE: readonly (readonly [string, string])[] = [
  [':authority', ''],
  [':path', '/'],
  ['age', '0'],
  ['content-disposition', ''],
  ['content-length', '0'],
  ['cookie', ''],
  ['date', ''],
  ['etag', ''],
  ['if-modified-since', ''],
  ['if-none-match', ''],
  ['last-modified', ''],
  ['link', ''],
  ['location', ''],
  ['referer', ''],
  ['set-cookie', ''],
  [':method', 'CONNECT'],
  [':method', 'DELETE'],
  [':method', 'GET'],
  [':method', 'HEAD'],
  [':method', 'OPTIONS'],
  [':method', 'POST'],
  [':method', 'PUT'],
  [':scheme', 'http'],
  [':scheme', 'https'],
  [':status', '103'],
  [':status', '200'],
  [':status', '304'],
  [':status', '404'],
  [':status', '503'],
  ['accept', '*/*'],
  ['accept', 'application/dns-message'],
  ['accept-encoding', 'gzip, deflate, br'],
  ['accept-ranges', 'bytes'],
  ['access-control-allow-headers', 'cache-control'],
  ['access-control-allow-headers', 'content-type'],
  ['access-control-allow-origin', '*'],
  ['cache-control', 'max-age=0'],
  ['cache-control', 'max-age=2592000'],
  ['cache-control', 'max-age=604800'],
  ['cache-control', 'no-cache'],
  ['cache-control', 'no-store'],
  ['cache-control', 'public, max-age=31536000'],
  ['content-encoding', 'br'],
  ['content-encoding', 'gzip'],
  ['content-type', 'application/dns-message'],
  ['content-type', 'application/javascript'],
  ['content-type', 'application/json'],
  ['content-type', 'application/x-www-form-urlencoded'],
  ['content-type', 'image/gif'],
  ['content-type', 'image/jpeg'],
  ['content-type', 'image/png'],
  ['content-type', 'text/css'],
  ['content-type', 'text/html; charset=utf-8'],
  ['content-type', 'text/plain'],
  ['content-type', 'text/plain;charset=utf-8'],
  ['range', 'bytes=0-'],
  ['strict-transport-security', 'max-age=31536000'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains'],
  ['strict-transport-security', 'max-age=31536000; includesubdomains; preload'],
  ['vary', 'accept-encoding'],
  ['vary', 'origin'],
  ['x-content-type-options', 'nosniff'],
  ['x-xss-protection', '1; mode=block'],
  [':status', '100'],
  [':status', '204'],
  [':status', '206'],
  [':status', '302'],
  [':status', '400'],
  [':status', '403'],
  [':status', '421'],
  [':status', '425'],
  [':status', '500'],
  ['accept-language', ''],
  ['access-control-allow-credentials', 'FALSE'],
  ['access-control-allow-credentials', 'TRUE'],
  ['access-control-allow-headers', '*'],
  ['access-control-allow-methods', 'get'],
  ['access-control-allow-methods', 'get, post, options'],
  ['access-control-allow-methods', 'options'],
  ['access-control-expose-headers', 'content-length'],
  ['access-control-request-headers', 'content-type'],
  ['access-control-request-method', 'get'],
  ['access-control-request-method', 'post'],
  ['alt-svc', 'clear'],
  ['authorization', ''],
  ['content-security-policy', "script-src 'none'; object-src 'none'; base-uri 'none'"],
  ['early-data', '1'],
  ['expect-ct', ''],
  ['forwarded', ''],
  ['if-range', ''],
  ['origin', ''],
  ['purpose', 'prefetch'],
  ['server', ''],
  ['timing-allow-origin', '*'],
  ['upgrade-insecure-requests', '1'],
  ['user-agent', ''],
  ['x-forwarded-for', ''],
  ['x-frame-options', 'deny'],
  ['x-frame-options', 'sameorigin'],
]

/** Options of {@link decodeFieldSection}. */
export interface DecodeFieldSectionOptions {
  /**
   * The most a field section may hold, counted as RFC 9114 §4.2.2 counts it (our
   * SETTINGS_MAX_FIELD_SECTION_SIZE): the sum over fields of name length + value length + 32.
   */
  maxHeaderBytes: number
}

/** RFC 9114 §4.2.2: the per-field overhead in the field section size. */
const FIELD_OVERHEAD = 32
/** Larger integers are rejected, so every one is an exact JS number. */
const MAX_INTEGER = 2 ** 53 - 1
/** Continuation bytes after the prefix: 9 carry 63 bits, one more allows zero-padding. */
const MAX_CONTINUATION_BYTES = 10

/** A read cursor over one encoded field section. */
interface Reader {
  readonly bytes: Uint8Array
  pos: number
}

/**
 * Decodes one encoded field section (the payload of a HEADERS frame, RFC 9204 §4.5).
 *
 * A reference to the dynamic table in any form (a non-zero Required Insert Count, an indexed
 * field line or name reference with T = 0, or a post-base form) is an error, since we allow the
 * peer no dynamic table. The Base is parsed and then ignored: with Required Insert Count 0
 * nothing can refer to it.
 *
 * Names and values are decoded as ISO-8859-1 (see the module comment); names are not checked
 * for case or token characters.
 *
 * @throws {QpackError} on any malformed or truncated input, a static index past the table, an
 *   integer above 2^53 − 1, or a dynamic-table reference.
 * @throws {LimitError} (`limit === 'maxHeaderBytes'`) as soon as the section is known to exceed
 *   `maxHeaderBytes`; nothing larger than the limit is allocated.
 * @throws {RangeError} if `maxHeaderBytes` is negative or not an integer.
 */
export function decodeFieldSection(
  block: Uint8Array,
  { maxHeaderBytes }: DecodeFieldSectionOptions,
): [name: string, value: string][] {
  if (!Number.isSafeInteger(maxHeaderBytes) || maxHeaderBytes < 0) {
    throw new RangeError(`maxHeaderBytes must be a non-negative integer, got ${maxHeaderBytes}`)
  }
  const r: Reader = { bytes: block, pos: 0 }

  // Field section prefix (§4.5.1): Required Insert Count (8-bit prefix), then S + Delta Base
  // (7-bit prefix).
  if (readInteger(r, 8) !== 0) {
    throw new QpackError('field section references the dynamic table (Required Insert Count > 0)')
  }
  readInteger(r, 7)

  const fields: [string, string][] = []
  let size = 0
  const budget = (): number => maxHeaderBytes - size - FIELD_OVERHEAD

  while (r.pos < block.length) {
    const first = block[r.pos]!
    let name: string
    let value: string
    if (first & 0x80) {
      // Indexed field line (§4.5.2): 1 T index(6).
      if (!(first & 0x40)) throw new QpackError('indexed field line references the dynamic table')
      const entry = staticEntry(readInteger(r, 6))
      ;[name, value] = entry
      if (name.length + value.length > budget()) throw tooLarge(maxHeaderBytes)
    } else if (first & 0x40) {
      // Literal field line with name reference (§4.5.4): 0 1 N T index(4), then the value.
      if (!(first & 0x10)) throw new QpackError('name reference into the dynamic table')
      name = staticEntry(readInteger(r, 4))[0]
      value = readString(r, 7, budget() - name.length, maxHeaderBytes)
    } else if (first & 0x20) {
      // Literal field line with literal name (§4.5.6): 0 0 1 N H length(3), name, value.
      name = readString(r, 3, budget(), maxHeaderBytes)
      value = readString(r, 7, budget() - name.length, maxHeaderBytes)
    } else if (first & 0x10) {
      throw new QpackError('indexed field line with post-base index (dynamic table)')
    } else {
      throw new QpackError('literal field line with post-base name reference (dynamic table)')
    }
    size += name.length + value.length + FIELD_OVERHEAD
    fields.push([name, value])
  }
  return fields
}

function staticEntry(index: number): readonly [string, string] {
  const entry = STATIC_TABLE[index]
  if (entry === undefined) throw new QpackError(`static table index ${index} out of range`)
  return entry
}

function tooLarge(maxHeaderBytes: number): LimitError {
  return new LimitError('maxHeaderBytes', `field section exceeds ${maxHeaderBytes} bytes`)
}

/**
 * Reads a prefixed integer (RFC 7541 §5.1) whose prefix is the low `prefixBits` bits of the
 * current byte.
 */
function readInteger(r: Reader, prefixBits: number): number {
  const { bytes } = r
  if (r.pos >= bytes.length) throw new QpackError('truncated field section')
  const mask = (1 << prefixBits) - 1
  let value = bytes[r.pos++]! & mask
  if (value < mask) return value
  let multiplier = 1
  for (let i = 0; i < MAX_CONTINUATION_BYTES; i++) {
    if (r.pos >= bytes.length) throw new QpackError('truncated integer')
    const byte = bytes[r.pos++]!
    value += (byte & 0x7f) * multiplier
    if (value > MAX_INTEGER) throw new QpackError('integer too large')
    if (!(byte & 0x80)) return value
    multiplier *= 128
  }
  throw new QpackError('integer has too many continuation bytes')
}

/**
 * Reads a string literal (RFC 7541 §5.2 as used by RFC 9204 §4.1.2): an H bit just above a
 * `prefixBits`-bit length, then that many bytes, Huffman-coded if H is set.
 *
 * @param budget - the most decoded bytes the section has room for; beyond it, LimitError.
 */
function readString(r: Reader, prefixBits: number, budget: number, maxHeaderBytes: number): string {
  if (r.pos >= r.bytes.length) throw new QpackError('truncated field section')
  const huffman = (r.bytes[r.pos]! >>> prefixBits) & 1
  const length = readInteger(r, prefixBits)
  if (length > r.bytes.length - r.pos) throw new QpackError('string literal is truncated')
  if (budget < 0) throw tooLarge(maxHeaderBytes)
  const raw = r.bytes.subarray(r.pos, r.pos + length)
  r.pos += length
  if (huffman === 0) {
    if (length > budget) throw tooLarge(maxHeaderBytes)
    return latin1Decode(raw)
  }
  try {
    return latin1Decode(huffmanDecode(raw, budget))
  } catch (e) {
    // huffmanDecode reports its own limit, which is our remaining budget; restate it as ours.
    if (e instanceof LimitError) throw tooLarge(maxHeaderBytes)
    throw e
  }
}

const LATIN1_CHUNK = 0x2000

/** Isomorphic decode: byte n becomes code unit n. */
function latin1Decode(bytes: Uint8Array): string {
  if (bytes.length <= LATIN1_CHUNK) return String.fromCharCode(...bytes)
  let s = ''
  for (let i = 0; i < bytes.length; i += LATIN1_CHUNK) {
    s += String.fromCharCode(...bytes.subarray(i, i + LATIN1_CHUNK))
  }
  return s
}

/** Isomorphic encode: code unit n becomes byte n; anything above U+00FF is refused. */
function latin1Encode(s: string, what: string): Uint8Array {
  const out = new Uint8Array(s.length)
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c > 0xff) {
      throw new TypeError(`${what} has a character above U+00FF at ${i}; encode it first`)
    }
    out[i] = c
  }
  return out
}

/** Where a name sits in the static table: its first index, and the index of each value. */
interface StaticName {
  readonly index: number
  readonly values: Map<string, number>
}

const STATIC_BY_NAME: ReadonlyMap<string, StaticName> = (() => {
  const map = new Map<string, StaticName>()
  STATIC_TABLE.forEach(([name, value], index) => {
    let entry = map.get(name)
    if (entry === undefined) map.set(name, (entry = { index, values: new Map() }))
    if (!entry.values.has(value)) entry.values.set(value, index)
  })
  return map
})()

/** A growable output buffer. */
class Writer {
  bytes = new Uint8Array(256)
  length = 0

  private reserve(n: number): void {
    if (this.length + n <= this.bytes.length) return
    let size = this.bytes.length * 2
    while (size < this.length + n) size *= 2
    const next = new Uint8Array(size)
    next.set(this.bytes.subarray(0, this.length))
    this.bytes = next
  }

  /** A prefixed integer (RFC 7541 §5.1); `flags` fills the bits above the prefix. */
  integer(flags: number, prefixBits: number, value: number): void {
    this.reserve(10)
    const mask = (1 << prefixBits) - 1
    if (value < mask) {
      this.bytes[this.length++] = flags | value
      return
    }
    this.bytes[this.length++] = flags | mask
    value -= mask
    while (value >= 128) {
      this.bytes[this.length++] = (value % 128) | 0x80
      value = Math.floor(value / 128)
    }
    this.bytes[this.length++] = value
  }

  /** A string literal, Huffman-coded when that is shorter; H is the bit above the prefix. */
  string(flags: number, prefixBits: number, raw: Uint8Array): void {
    const huffmanLength = huffmanEncodedLength(raw)
    const coded = huffmanLength < raw.length ? huffmanEncode(raw) : raw
    this.integer(coded === raw ? flags : flags | (1 << prefixBits), prefixBits, coded.length)
    this.reserve(coded.length)
    this.bytes.set(coded, this.length)
    this.length += coded.length
  }
}

/**
 * Encodes a field section using only the static table (RFC 9204 §4.5): Required Insert Count 0
 * and Base 0, then per field an indexed field line when name and value are a static entry, a
 * literal with a static name reference when only the name is, and a literal name otherwise.
 * Each string is Huffman-coded when that is shorter. The N (never-index) bit is never set: with
 * no dynamic table nothing is indexed anyway.
 *
 * Strings are written as ISO-8859-1 (see the module comment). Names are written as given; the
 * caller supplies lowercase names.
 *
 * @throws {TypeError} if a name or value has a character above U+00FF.
 */
export function encodeFieldSection(fields: Iterable<readonly [string, string]>): Uint8Array {
  const w = new Writer()
  w.integer(0, 8, 0) // Required Insert Count
  w.integer(0, 7, 0) // S = 0, Delta Base = 0
  for (const [name, value] of fields) {
    const known = STATIC_BY_NAME.get(name)
    if (known !== undefined) {
      const exact = known.values.get(value)
      if (exact !== undefined) {
        w.integer(0xc0, 6, exact) // 1 T=1 index
      } else {
        w.integer(0x50, 4, known.index) // 0 1 N=0 T=1 index
        w.string(0x00, 7, latin1Encode(value, 'field value'))
      }
    } else {
      w.string(0x20, 3, latin1Encode(name, 'field name')) // 0 0 1 N=0 H length
      w.string(0x00, 7, latin1Encode(value, 'field value'))
    }
  }
  return w.bytes.slice(0, w.length)
}
