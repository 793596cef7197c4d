/**
 * The static Huffman code of HPACK (RFC 7541 §5.2, Appendix B), which QPACK reuses unchanged
 * (RFC 9204 §4.1.2) for string literals.
 *
 * Decoding walks a 4-bit state machine built once at module load from the code table: 256
 * states (the internal nodes of the code tree) × 16 nibbles. The shortest code is 5 bits, so a
 * nibble completes at most one symbol, and each input byte costs two table lookups.
 */

import { LimitError, QpackError } from '../errors.js'

/**
 * The code of each symbol 0..255 and EOS (256), right-aligned (RFC 7541 Appendix B,
 * "code as hex"). The code is canonical: the tests rebuild it from {@link CODE_LENGTHS} alone.
 */
const CODES: readonly number[] = [
  0x1ff8, 0x7fffd8, 0xfffffe2, 0xfffffe3, 0xfffffe4, 0xfffffe5, 0xfffffe6, 0xfffffe7, 0xfffffe8,
  0xffffea, 0x3ffffffc, 0xfffffe9, 0xfffffea, 0x3ffffffd, 0xfffffeb, 0xfffffec, 0xfffffed,
  0xfffffee, 0xfffffef, 0xffffff0, 0xffffff1, 0xffffff2, 0x3ffffffe, 0xffffff3, 0xffffff4,
  0xffffff5, 0xffffff6, 0xffffff7, 0xffffff8, 0xffffff9, 0xffffffa, 0xffffffb, 0x14, 0x3f8, 0x3f9,
  0xffa, 0x1ff9, 0x15, 0xf8, 0x7fa, 0x3fa, 0x3fb, 0xf9, 0x7fb, 0xfa, 0x16, 0x17, 0x18, 0x0, 0x1,
  0x2, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x1f, 0x5c, 0xfb, 0x7ffc, 0x20, 0xffb, 0x3fc, 0x1ffa,
  0x21, 0x5d, 0x5e, 0x5f, 0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68, 0x69, 0x6a, 0x6b,
  0x6c, 0x6d, 0x6e, 0x6f, 0x70, 0x71, 0x72, 0xfc, 0x73, 0xfd, 0x1ffb, 0x7fff0, 0x1ffc, 0x3ffc, 0x22,
  0x7ffd, 0x3, 0x23, 0x4, 0x24, 0x5, 0x25, 0x26, 0x27, 0x6, 0x74, 0x75, 0x28, 0x29, 0x2a, 0x7, 0x2b,
  0x76, 0x2c, 0x8, 0x9, 0x2d, 0x77, 0x78, 0x79, 0x7a, 0x7b, 0x7ffe, 0x7fc, 0x3ffd, 0x1ffd,
  0xffffffc, 0xfffe6, 0x3fffd2, 0xfffe7, 0xfffe8, 0x3fffd3, 0x3fffd4, 0x3fffd5, 0x7fffd9, 0x3fffd6,
  0x7fffda, 0x7fffdb, 0x7fffdc, 0x7fffdd, 0x7fffde, 0xffffeb, 0x7fffdf, 0xffffec, 0xffffed,
  0x3fffd7, 0x7fffe0, 0xffffee, 0x7fffe1, 0x7fffe2, 0x7fffe3, 0x7fffe4, 0x1fffdc, 0x3fffd8,
  0x7fffe5, 0x3fffd9, 0x7fffe6, 0x7fffe7, 0xffffef, 0x3fffda, 0x1fffdd, 0xfffe9, 0x3fffdb, 0x3fffdc,
  0x7fffe8, 0x7fffe9, 0x1fffde, 0x7fffea, 0x3fffdd, 0x3fffde, 0xfffff0, 0x1fffdf, 0x3fffdf,
  0x7fffeb, 0x7fffec, 0x1fffe0, 0x1fffe1, 0x3fffe0, 0x1fffe2, 0x7fffed, 0x3fffe1, 0x7fffee,
  0x7fffef, 0xfffea, 0x3fffe2, 0x3fffe3, 0x3fffe4, 0x7ffff0, 0x3fffe5, 0x3fffe6, 0x7ffff1,
  0x3ffffe0, 0x3ffffe1, 0xfffeb, 0x7fff1, 0x3fffe7, 0x7ffff2, 0x3fffe8, 0x1ffffec, 0x3ffffe2,
  0x3ffffe3, 0x3ffffe4, 0x7ffffde, 0x7ffffdf, 0x3ffffe5, 0xfffff1, 0x1ffffed, 0x7fff2, 0x1fffe3,
  0x3ffffe6, 0x7ffffe0, 0x7ffffe1, 0x3ffffe7, 0x7ffffe2, 0xfffff2, 0x1fffe4, 0x1fffe5, 0x3ffffe8,
  0x3ffffe9, 0xffffffd, 0x7ffffe3, 0x7ffffe4, 0x7ffffe5, 0xfffec, 0xfffff3, 0xfffed, 0x1fffe6,
  0x3fffe9, 0x1fffe7, 0x1fffe8, 0x7ffff3, 0x3fffea, 0x3fffeb, 0x1ffffee, 0x1ffffef, 0xfffff4,
  0xfffff5, 0x3ffffea, 0x7ffff4, 0x3ffffeb, 0x7ffffe6, 0x3ffffec, 0x3ffffed, 0x7ffffe7, 0x7ffffe8,
  0x7ffffe9, 0x7ffffea, 0x7ffffeb, 0xffffffe, 0x7ffffec, 0x7ffffed, 0x7ffffee, 0x7ffffef, 0x7fffff0,
  0x3ffffee, 0x3fffffff,
]

/** The bit length of each code in {@link CODES} (RFC 7541 Appendix B, "len in bits"). */
const CODE_LENGTHS: readonly number[] = [
  13, 23, 28, 28, 28, 28, 28, 28, 28, 24, 30, 28, 28, 30, 28, 28, 28, 28, 28, 28, 28, 28, 30, 28,
  28, 28, 28, 28, 28, 28, 28, 28, 6, 10, 10, 12, 13, 6, 8, 11, 10, 10, 8, 11, 8, 6, 6, 6, 5, 5, 5,
  6, 6, 6, 6, 6, 6, 6, 7, 8, 15, 6, 12, 10, 13, 6, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7, 7,
  7, 7, 7, 7, 7, 7, 8, 7, 8, 13, 19, 13, 14, 6, 15, 5, 6, 5, 6, 5, 6, 6, 6, 5, 7, 7, 6, 6, 6, 5, 6,
  7, 6, 5, 5, 6, 7, 7, 7, 7, 7, 15, 11, 14, 13, 28, 20, 22, 20, 20, 22, 22, 22, 23, 22, 23, 23, 23,
  23, 23, 24, 23, 24, 24, 22, 23, 24, 23, 23, 23, 23, 21, 22, 23, 22, 23, 23, 24, 22, 21, 20, 22,
  22, 23, 23, 21, 23, 22, 22, 24, 21, 22, 23, 23, 21, 21, 22, 21, 23, 22, 23, 23, 20, 22, 22, 22,
  23, 22, 22, 23, 26, 26, 20, 19, 22, 23, 22, 25, 26, 26, 26, 27, 27, 26, 24, 25, 19, 21, 26, 27,
  27, 26, 27, 24, 21, 21, 26, 26, 28, 27, 27, 27, 20, 24, 20, 21, 22, 21, 21, 23, 22, 22, 25, 25,
  24, 24, 26, 23, 26, 27, 26, 26, 27, 27, 27, 27, 27, 28, 27, 27, 27, 27, 27, 26, 30,
]

/** The EOS symbol, which must never be decoded (RFC 7541 §5.2). */
const EOS = 256

/** @internal The code table, for the table-integrity tests. */
export const _HUFFMAN_CODES = CODES
/** @internal The code lengths, for the table-integrity tests. */
export const _HUFFMAN_CODE_LENGTHS = CODE_LENGTHS

// Transition entry layout: bits 0-7 next state, bits 8-15 emitted symbol, then two flags.
const EMIT = 1 << 16
const FAIL = 1 << 17

/** `TRANSITIONS[state << 4 | nibble]`, see the entry layout above. */
const TRANSITIONS = new Uint32Array(256 * 16)
/**
 * 1 where the decoder may stop: the bits since the last symbol are all ones and fewer than 8,
 * i.e. valid padding (a prefix of EOS, RFC 7541 §5.2).
 */
const ACCEPTS = new Uint8Array(256)

buildDecoder()

function buildDecoder(): void {
  // The code tree. Internal nodes are numbered from 0 (the root); a child slot holds an internal
  // node number, or `-1 - symbol` for a leaf, or NaN while unassigned.
  const children: number[] = [NaN, NaN]
  let nodes = 1
  for (let symbol = 0; symbol <= EOS; symbol++) {
    const code = CODES[symbol]!
    const length = CODE_LENGTHS[symbol]!
    let node = 0
    for (let i = length - 1; i > 0; i--) {
      const slot = node * 2 + ((code >>> i) & 1)
      let next = children[slot]!
      if (Number.isNaN(next)) {
        next = nodes++
        children[slot] = next
        children.push(NaN, NaN)
      }
      if (next < 0) throw new Error('huffman: code table is not prefix-free')
      node = next
    }
    const slot = node * 2 + (code & 1)
    if (!Number.isNaN(children[slot]!)) throw new Error('huffman: code table is not prefix-free')
    children[slot] = -1 - symbol
  }
  if (nodes !== 256 || children.some((c) => Number.isNaN(c))) {
    throw new Error('huffman: code table is not a complete prefix code')
  }

  for (let state = 0; state < 256; state++) {
    for (let nibble = 0; nibble < 16; nibble++) {
      let node = state
      let entry = 0
      for (let bit = 3; bit >= 0; bit--) {
        const child = children[node * 2 + ((nibble >>> bit) & 1)]!
        if (child >= 0) {
          node = child
          continue
        }
        const symbol = -1 - child
        if (symbol === EOS) entry |= FAIL
        else if (entry & EMIT) throw new Error('huffman: two symbols in one nibble')
        else entry |= EMIT | (symbol << 8)
        node = 0
      }
      TRANSITIONS[(state << 4) | nibble] = entry | node
    }
  }

  // Padding: up to 7 one-bits from the root, which never reach a leaf (EOS is 30 ones).
  let node = 0
  for (let depth = 0; depth <= 7; depth++) {
    ACCEPTS[node] = 1
    node = children[node * 2 + 1]!
  }
}

/**
 * Decodes a Huffman-coded string literal (RFC 7541 §5.2).
 *
 * The result is a view over a fresh buffer sized for the worst case (at most
 * `min(maxOutputBytes, 8/5 × input)`); copy it if it is kept for long.
 *
 * @param bytes - the encoded octets, padding included.
 * @param maxOutputBytes - the most decoded bytes to accept.
 * @throws {QpackError} if the padding is longer than 7 bits or not all ones, or the EOS symbol
 *   appears in the string.
 * @throws {LimitError} (`limit === 'maxHeaderBytes'`) if the output would exceed
 *   `maxOutputBytes`.
 * @throws {RangeError} if `maxOutputBytes` is negative or not an integer.
 */
export function huffmanDecode(bytes: Uint8Array, maxOutputBytes: number): Uint8Array {
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw new RangeError(`maxOutputBytes must be a non-negative integer, got ${maxOutputBytes}`)
  }
  const length = bytes.length
  // No code is shorter than 5 bits, so `cap` bounds the output; reaching it while emitting can
  // only mean the limit was hit.
  const cap = Math.min(maxOutputBytes, Math.floor((length * 8) / 5))
  const out = new Uint8Array(cap)
  let n = 0
  let state = 0
  for (let i = 0; i < length; i++) {
    const byte = bytes[i]!
    let entry = TRANSITIONS[(state << 4) | (byte >>> 4)]!
    if (entry & (EMIT | FAIL)) {
      if (entry & FAIL) throw new QpackError('Huffman string contains EOS')
      if (n >= cap) throw tooLong(maxOutputBytes)
      out[n++] = entry >>> 8
    }
    entry = TRANSITIONS[((entry & 0xff) << 4) | (byte & 0x0f)]!
    if (entry & (EMIT | FAIL)) {
      if (entry & FAIL) throw new QpackError('Huffman string contains EOS')
      if (n >= cap) throw tooLong(maxOutputBytes)
      out[n++] = entry >>> 8
    }
    state = entry & 0xff
  }
  if (ACCEPTS[state] !== 1) {
    throw new QpackError('Huffman string has invalid padding')
  }
  return out.subarray(0, n)
}

function tooLong(maxOutputBytes: number): LimitError {
  return new LimitError('maxHeaderBytes', `Huffman-decoded string exceeds ${maxOutputBytes} bytes`)
}

/** The length in bytes of `huffmanEncode(bytes)`, without encoding. */
export function huffmanEncodedLength(bytes: Uint8Array): number {
  let bits = 0
  for (let i = 0; i < bytes.length; i++) bits += CODE_LENGTHS[bytes[i]!]!
  return (bits + 7) >>> 3
}

/**
 * Huffman-codes `bytes` (RFC 7541 §5.2), padding the last octet with the most significant bits
 * of EOS (ones).
 */
export function huffmanEncode(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(huffmanEncodedLength(bytes))
  let n = 0
  // `pending` holds `bits` (< 8) not yet written; with codes of at most 24 bits appended at a
  // time, it stays within 31 bits so plain 32-bit operators are exact.
  let pending = 0
  let bits = 0
  for (let i = 0; i < bytes.length; i++) {
    const symbol = bytes[i]!
    let code = CODES[symbol]!
    let length = CODE_LENGTHS[symbol]!
    if (length > 24) {
      // Append the high part first so the sum stays below 32 bits.
      const high = length - 16
      pending = (pending << high) | (code >>> 16)
      bits += high
      while (bits >= 8) {
        bits -= 8
        out[n++] = pending >>> bits
      }
      pending &= (1 << bits) - 1
      code &= 0xffff
      length = 16
    }
    pending = (pending << length) | code
    bits += length
    while (bits >= 8) {
      bits -= 8
      out[n++] = pending >>> bits
    }
    pending &= (1 << bits) - 1
  }
  if (bits > 0) out[n++] = (pending << (8 - bits)) | (0xff >>> bits)
  return out
}
