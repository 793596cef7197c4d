/**
 * A strict DER reader for tests: it walks what `src/internal/der.ts` writes without sharing
 * any of its code, and refuses what DER forbids (indefinite or non-minimal lengths, a TLV
 * that runs past its parent, trailing bytes), so a test that reads a structure back also
 * checks that it is DER.
 */

/** One TLV: the identifier octet, the content (a view into the input) and the whole TLV. */
export interface Tlv {
  tag: number
  content: Uint8Array
  /** The complete encoding, identifier and length included (a view into the input). */
  bytes: Uint8Array
}

/**
 * Reads the TLV at `offset`.
 *
 * @throws {Error} truncation, a multi-byte tag, or a length DER forbids.
 */
export function readTlv(input: Uint8Array, offset = 0): Tlv {
  const tag = byteAt(input, offset)
  if ((tag & 0x1f) === 0x1f) throw new Error(`multi-byte tag at ${offset}`)
  const first = byteAt(input, offset + 1)
  let length = first
  let header = 2
  if (first === 0x80) throw new Error(`indefinite length at ${offset}`)
  if (first > 0x80) {
    const count = first & 0x7f
    if (count > 6) throw new Error(`length of ${count} bytes at ${offset}`)
    if (byteAt(input, offset + 2) === 0) throw new Error(`length with a leading zero at ${offset}`)
    length = 0
    for (let i = 0; i < count; i++) length = length * 256 + byteAt(input, offset + 2 + i)
    if (length < 0x80) throw new Error(`long-form length ${length} at ${offset}`)
    header = 2 + count
  }
  const end = offset + header + length
  if (end > input.length) throw new Error(`TLV at ${offset} runs past the input`)
  return {
    tag,
    content: input.subarray(offset + header, end),
    bytes: input.subarray(offset, end),
  }
}

/**
 * Reads `input` as exactly one TLV.
 *
 * @throws {Error} as {@link readTlv}, or bytes are left over.
 */
export function readOne(input: Uint8Array): Tlv {
  const tlv = readTlv(input)
  if (tlv.bytes.length !== input.length) throw new Error('trailing bytes after the TLV')
  return tlv
}

/** The TLVs that make up a constructed value's content, in order. */
export function children(content: Uint8Array): Tlv[] {
  const out: Tlv[] = []
  for (let offset = 0; offset < content.length;) {
    const tlv = readTlv(content, offset)
    out.push(tlv)
    offset += tlv.bytes.length
  }
  return out
}

/**
 * Element `index` of a constructed value.
 *
 * @throws {Error} there is no such element.
 */
export function child(parent: Tlv, index: number): Tlv {
  const found = children(parent.content)[index]
  if (found === undefined)
    throw new Error(`no element ${index} in tag 0x${parent.tag.toString(16)}`)
  return found
}

/**
 * The value of an INTEGER's content as two's complement.
 *
 * @throws {Error} empty, or not in the fewest bytes.
 */
export function integerValue(content: Uint8Array): bigint {
  const first = byteAt(content, 0)
  const second = content[1]
  if (second !== undefined) {
    if ((first === 0x00 && second < 0x80) || (first === 0xff && second >= 0x80)) {
      throw new Error('INTEGER is not in its fewest bytes')
    }
  }
  let value = 0n
  for (const byte of content) value = (value << 8n) | BigInt(byte)
  if (first & 0x80) value -= 1n << BigInt(8 * content.length)
  return value
}

/** Dotted text of an OBJECT IDENTIFIER's content. */
export function oidText(content: Uint8Array): string {
  const subs: bigint[] = []
  let current = 0n
  for (const byte of content) {
    current = (current << 7n) | BigInt(byte & 0x7f)
    if ((byte & 0x80) === 0) {
      subs.push(current)
      current = 0n
    }
  }
  const [first = 0n, ...rest] = subs
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n]
  return [...head, ...rest].join('.')
}

function byteAt(input: Uint8Array, offset: number): number {
  const byte = input[offset]
  if (byte === undefined) throw new Error(`truncated at ${offset}`)
  return byte
}
