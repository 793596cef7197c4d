import { blake3 } from '@noble/hashes/blake3.js'

/** A 32-byte topic id from a name: the BLAKE3 hash of its UTF-8. */
export function topicId(name: string): Uint8Array<ArrayBuffer> {
  return blake3(new TextEncoder().encode(name))
}
