/**
 * Byte helpers for core's modules: `@ferry/wire`'s (one copy for core and the transport), and
 * UTF-8 encoding.
 */
export { concat, concatAll, equalBytes, fromHex, toHex } from '@ferry/wire'

/** UTF-8 encoding of `text`. */
export const utf8 = (text: string): Uint8Array<ArrayBuffer> => new TextEncoder().encode(text)
