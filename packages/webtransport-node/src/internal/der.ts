import { concat } from '@ferry/wire'
/**
 * A minimal DER encoder (ITU-T X.690 §10), just enough to write an X.509 certificate. Every
 * function returns one complete TLV as a new `Uint8Array`; constructed values take their
 * children already encoded, so a structure is written inside out, the way it reads in ASN.1.
 *
 * Encoding only: ferry never has to parse a certificate itself (node:crypto does that).
 */

/** Universal tag numbers (X.690 §8.1.2.2) used here, with the constructed bit where it applies. */
const TAG = {
  boolean: 0x01,
  integer: 0x02,
  bitString: 0x03,
  octetString: 0x04,
  null: 0x05,
  oid: 0x06,
  utf8String: 0x0c,
  printableString: 0x13,
  ia5String: 0x16,
  utcTime: 0x17,
  generalizedTime: 0x18,
  sequence: 0x30,
  set: 0x31,
} as const

/**
 * The length octets (X.690 §8.1.3): short form below 128, otherwise 0x80 | count followed by
 * the length in that many big-endian bytes, with no leading zero (§10.1).
 *
 * @throws {RangeError} `length` is not a non-negative safe integer.
 */
export function encodeLength(length: number): Uint8Array<ArrayBuffer> {
  if (!Number.isSafeInteger(length) || length < 0) {
    throw new RangeError(`length must be a non-negative safe integer, got ${String(length)}`)
  }
  if (length < 0x80) return Uint8Array.of(length)
  const bytes: number[] = []
  // Division rather than shifts: shifts would truncate lengths above 2^32 to 32 bits.
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n % 256)
  return Uint8Array.of(0x80 | bytes.length, ...bytes)
}

/**
 * One TLV with a single-byte identifier: `tag` is the whole identifier octet (class,
 * constructed bit and a tag number below 31).
 *
 * @throws {RangeError} `tag` is not a byte whose tag number is below 31.
 */
export function tlv(tag: number, content: Uint8Array): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(tag) || tag < 0 || tag > 0xff || (tag & 0x1f) === 0x1f) {
    throw new RangeError(`tag must be a one-byte identifier with number < 31, got ${String(tag)}`)
  }
  return concat(Uint8Array.of(tag), encodeLength(content.length), content)
}

/** SEQUENCE of the given encoded elements, in order. */
export function sequence(...elements: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(TAG.sequence, concat(...elements))
}

/**
 * SET of the given encoded elements. DER sorts a SET OF by encoding (§11.6); this writes the
 * elements as given, so pass one element or sort them yourself.
 */
export function set(...elements: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(TAG.set, concat(...elements))
}

/** BOOLEAN: DER writes TRUE as 0xff (§11.1). */
export function boolean(value: boolean): Uint8Array<ArrayBuffer> {
  return tlv(TAG.boolean, Uint8Array.of(value ? 0xff : 0x00))
}

/** NULL. */
export function nullValue(): Uint8Array<ArrayBuffer> {
  return tlv(TAG.null, new Uint8Array(0))
}

/**
 * INTEGER of a signed value, in the fewest two's-complement bytes (§8.3.2): 127 is `02 01 7f`,
 * 128 needs a sign byte, `02 02 00 80`, and -128 is `02 01 80`.
 *
 * @throws {RangeError} `value` is a number that is not a safe integer.
 */
export function integer(value: bigint | number): Uint8Array<ArrayBuffer> {
  if (typeof value === 'number' && !Number.isSafeInteger(value)) {
    throw new RangeError(`value must be a safe integer, got ${String(value)}`)
  }
  let n = BigInt(value)
  const bytes: number[] = []
  // Emit low bytes until what is left is pure sign extension of the last byte's top bit.
  for (;;) {
    const byte = Number(n & 0xffn)
    bytes.unshift(byte)
    n >>= 8n
    if ((n === 0n && (byte & 0x80) === 0) || (n === -1n && (byte & 0x80) !== 0)) break
  }
  return tlv(TAG.integer, Uint8Array.from(bytes))
}

/**
 * INTEGER of the non-negative number whose big-endian magnitude is `magnitude` (a serial
 * number, an ECDSA `r` or `s`): leading zero bytes are dropped, and a zero byte is put back in
 * front when the top bit is set, so the value stays positive. Empty means zero.
 */
export function unsignedInteger(magnitude: Uint8Array): Uint8Array<ArrayBuffer> {
  let start = 0
  while (start < magnitude.length - 1 && magnitude[start] === 0) start++
  const body = magnitude.subarray(start)
  if (body.length === 0) return tlv(TAG.integer, Uint8Array.of(0))
  if ((body[0] ?? 0) & 0x80) return tlv(TAG.integer, concat(Uint8Array.of(0), body))
  return tlv(TAG.integer, body)
}

/**
 * `ECDSA-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER }` (RFC 3279 §2.2.3), the signature
 * X.509 carries, from the fixed-width `r || s` (IEEE P1363) that WebCrypto's ECDSA `sign`
 * returns: each half loses its leading zero bytes and gains one if its top bit is set.
 *
 * @throws {RangeError} `raw` is empty or of odd length.
 */
export function ecdsaSigValue(raw: Uint8Array): Uint8Array<ArrayBuffer> {
  if (raw.length === 0 || raw.length % 2 !== 0) {
    throw new RangeError(`raw must be r || s of equal halves, got ${raw.length} bytes`)
  }
  const half = raw.length / 2
  return sequence(unsignedInteger(raw.subarray(0, half)), unsignedInteger(raw.subarray(half)))
}

/**
 * OBJECT IDENTIFIER from dotted text (§8.19): the first two arcs share one subidentifier,
 * `40 * first + second`, and each subidentifier is base 128, high bit set on all but its last
 * byte. `1.2.840.10045.4.3.2` (ecdsa-with-SHA256) is `06 08 2a 86 48 ce 3d 04 03 02`.
 *
 * @throws {TypeError} `dotted` is not at least two dot-separated decimal arcs.
 * @throws {RangeError} the first arc is above 2, or the second is above 39 under arc 0 or 1.
 */
export function oid(dotted: string): Uint8Array<ArrayBuffer> {
  if (typeof dotted !== 'string' || !/^\d+(\.\d+)+$/.test(dotted)) {
    throw new TypeError(`oid must be dotted decimal arcs, got ${JSON.stringify(dotted)}`)
  }
  const arcs = dotted.split('.').map((arc) => BigInt(arc))
  const [first = 0n, second = 0n, ...rest] = arcs
  if (first > 2n || (first < 2n && second > 39n)) {
    throw new RangeError(`oid ${dotted}: first arc must be 0..2, and second 0..39 under 0 or 1`)
  }
  const bytes: number[] = []
  for (const sub of [first * 40n + second, ...rest]) {
    const group = [Number(sub & 0x7fn)]
    for (let n = sub >> 7n; n > 0n; n >>= 7n) group.unshift(Number(n & 0x7fn) | 0x80)
    bytes.push(...group)
  }
  return tlv(TAG.oid, Uint8Array.from(bytes))
}

/**
 * BIT STRING of whole bytes, with `unusedBits` (0..7) unused low bits in the last byte
 * (§8.6.2). DER wants those bits zero (§11.2.1), and for a named bit list, no trailing zero
 * bits (§11.2.2): that is the caller's to choose.
 *
 * @throws {RangeError} `unusedBits` is not 0..7, or not 0 for an empty string.
 */
export function bitString(bytes: Uint8Array, unusedBits = 0): Uint8Array<ArrayBuffer> {
  if (!Number.isInteger(unusedBits) || unusedBits < 0 || unusedBits > 7) {
    throw new RangeError(`unusedBits must be 0..7, got ${String(unusedBits)}`)
  }
  if (bytes.length === 0 && unusedBits !== 0) {
    throw new RangeError('unusedBits must be 0 for an empty bit string')
  }
  return tlv(TAG.bitString, concat(Uint8Array.of(unusedBits), bytes))
}

/** OCTET STRING. */
export function octetString(bytes: Uint8Array): Uint8Array<ArrayBuffer> {
  return tlv(TAG.octetString, bytes)
}

/** UTF8String. */
export function utf8String(text: string): Uint8Array<ArrayBuffer> {
  return tlv(TAG.utf8String, new TextEncoder().encode(text))
}

/**
 * PrintableString: letters, digits, space and `'()+,-./:=?`.
 *
 * @throws {TypeError} `text` holds another character.
 */
export function printableString(text: string): Uint8Array<ArrayBuffer> {
  if (!isPrintable(text)) {
    throw new TypeError(`printableString: ${JSON.stringify(text)} holds a non-printable character`)
  }
  return tlv(TAG.printableString, new TextEncoder().encode(text))
}

/** Whether `text` fits the PrintableString alphabet (X.680 §41.4). */
export function isPrintable(text: string): boolean {
  return /^[A-Za-z0-9 '()+,\-./:=?]*$/.test(text)
}

/**
 * IA5String: 7-bit ASCII (what X.509 wants for dNSName).
 *
 * @throws {TypeError} `text` holds a character above U+007F.
 */
export function ia5String(text: string): Uint8Array<ArrayBuffer> {
  return tlv(TAG.ia5String, ascii(text, 'ia5String'))
}

/**
 * UTCTime `YYMMDDHHMMSSZ` (§11.8), whole seconds, for years 1950..2049 only.
 *
 * @throws {RangeError} `date` is invalid or outside 1950..2049.
 */
export function utcTime(date: Date): Uint8Array<ArrayBuffer> {
  const year = checkedYear(date, 1950, 2049, 'utcTime')
  return tlv(TAG.utcTime, ascii(pad(year % 100, 2) + timeOfYear(date), 'utcTime'))
}

/**
 * GeneralizedTime `YYYYMMDDHHMMSSZ` (§11.7), whole seconds, for years 0..9999.
 *
 * @throws {RangeError} `date` is invalid or outside 0..9999.
 */
export function generalizedTime(date: Date): Uint8Array<ArrayBuffer> {
  const year = checkedYear(date, 0, 9999, 'generalizedTime')
  return tlv(TAG.generalizedTime, ascii(pad(year, 4) + timeOfYear(date), 'generalizedTime'))
}

/**
 * An X.509 `Time` (RFC 5280 §4.1.2.5): UTCTime through 2049, GeneralizedTime otherwise.
 *
 * @throws {RangeError} `date` is invalid or outside years 0..9999.
 */
export function x509Time(date: Date): Uint8Array<ArrayBuffer> {
  const year = checkedYear(date, 0, 9999, 'x509Time')
  return year >= 1950 && year <= 2049 ? utcTime(date) : generalizedTime(date)
}

/**
 * EXPLICIT `[number]`: a constructed context-specific tag around complete encodings
 * (X.690 §8.14.3), such as a certificate's `[0] version` and `[3] extensions`.
 *
 * @throws {RangeError} `number` is not 0..30.
 */
export function explicit(number: number, ...elements: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return tlv(0xa0 | contextNumber(number), concat(...elements))
}

/**
 * IMPLICIT `[number]`: `encoded` with its identifier octet replaced by the context-specific
 * `[number]`, keeping its constructed bit (X.690 §8.14.2), such as a GeneralName's
 * `[2] dNSName` over an IA5String.
 *
 * @throws {RangeError} `number` is not 0..30, or `encoded` is empty.
 */
export function implicit(number: number, encoded: Uint8Array): Uint8Array<ArrayBuffer> {
  const identifier = encoded[0]
  if (identifier === undefined) throw new RangeError('implicit: encoded is empty')
  const out = Uint8Array.from(encoded)
  out[0] = 0x80 | (identifier & 0x20) | contextNumber(number)
  return out
}

function contextNumber(number: number): number {
  if (!Number.isInteger(number) || number < 0 || number > 30) {
    throw new RangeError(`context tag number must be 0..30, got ${String(number)}`)
  }
  return number
}

function checkedYear(date: Date, min: number, max: number, what: string): number {
  const year = date.getUTCFullYear()
  if (!(year >= min && year <= max)) {
    throw new RangeError(`${what}: year must be ${min}..${max}, got ${String(year)}`)
  }
  return year
}

function timeOfYear(date: Date): string {
  return (
    pad(date.getUTCMonth() + 1, 2) +
    pad(date.getUTCDate(), 2) +
    pad(date.getUTCHours(), 2) +
    pad(date.getUTCMinutes(), 2) +
    pad(date.getUTCSeconds(), 2) +
    'Z'
  )
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0')
}

function ascii(text: string, what: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(text.length)
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i)
    if (code > 0x7f) {
      throw new TypeError(`${what}: ${JSON.stringify(text)} holds a non-ASCII character`)
    }
    out[i] = code
  }
  return out
}
