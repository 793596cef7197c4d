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

/** Bytes from hex text; spaces are ignored (for writing test vectors as the RFCs print them). */
export function fromHex(text: string): Uint8Array {
  return Uint8Array.from(text.replace(/ /g, '').match(/../g) ?? [], (b) => parseInt(b, 16))
}

/** Lowercase hex of `bytes`. */
export function toHex(bytes: Uint8Array): string {
  return Array.from(bytes, (x) => x.toString(16).padStart(2, '0')).join('')
}
