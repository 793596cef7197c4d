/**
 * Byte array helpers: joining, comparing, and hex both ways (for constants and test vectors
 * written as the RFCs print them).
 */

/** Concatenates byte arrays into a new one (a copy). */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  return concatAll(parts)
}

/**
 * {@link concat} of a list of any length: spreading a long list (a stream read in many small
 * chunks) into `concat` would overflow the call stack.
 */
export function concatAll(parts: readonly Uint8Array[]): Uint8Array<ArrayBuffer> {
  let n = 0
  for (const p of parts) n += p.length
  const out = new Uint8Array(n)
  let offset = 0
  for (const p of parts) {
    out.set(p, offset)
    offset += p.length
  }
  return out
}

/** Pairs of hex digits, with spaces allowed between pairs (never inside one). */
const hexPairs = /^ *(?:[0-9a-fA-F]{2} *)*$/

/**
 * Bytes from hex text: pairs of hex digits in either case, with spaces allowed between pairs
 * (`'c2 19 7c'`, as specs print vectors).
 * @throws {RangeError} for any other character, a lone digit, or a space inside a pair.
 * @throws {TypeError} if `text` is not a string.
 */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  if (typeof text !== 'string') throw new TypeError('text must be a string')
  if (!hexPairs.test(text)) {
    throw new RangeError(`text must be pairs of hex digits separated by spaces, got "${text}"`)
  }
  const digits = text.replaceAll(' ', '')
  const out = new Uint8Array(digits.length / 2)
  for (let i = 0; i < out.length; i++) out[i] = parseInt(digits.slice(2 * i, 2 * i + 2), 16)
  return out
}

/** Lowercase hex of `bytes`, with no separators. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('')
}

/** Whether two byte arrays hold the same bytes (not constant-time; for public values). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}
