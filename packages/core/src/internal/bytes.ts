/** Concatenates byte arrays into a new one (a copy). */
export function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
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

/** Bytes from hex text; spaces are ignored (for writing test vectors as specs print them). */
export function fromHex(text: string): Uint8Array<ArrayBuffer> {
  return Uint8Array.from(text.replace(/\s/g, '').match(/../g) ?? [], (b) => parseInt(b, 16))
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('')
}

/** Whether two byte arrays hold the same bytes (not constant-time; for public values). */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

/** UTF-8 encoding of `text`. */
export const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text)
