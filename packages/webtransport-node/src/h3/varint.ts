/**
 * HTTP/3's rule for reading QUIC varints (RFC 9000 §16) with `@ferry/wire`'s codec, which every
 * reader in this package passes.
 */
import type { ReadVarintOptions } from '@ferry/wire'

/**
 * HTTP/3 reads every varint the wire allows. Any encoded length: RFC 9000 §16 lets a sender
 * use a longer encoding than the value needs and a receiver must accept it (peers such as
 * Chromium send non-minimal lengths). The whole 62-bit range: GREASE identifiers (RFC 9114
 * §7.2.8, §7.2.4.1) use it; above 2^53 - 1 they come back as the nearest double, enough to
 * recognise and ignore them (`readVarintBig` reads them exactly). So no HTTP/3 varint is ever
 * refused: a reader only waits for more bytes, and every error stays an `Http3Error`.
 */
export const h3Varint = { minimal: false, max: Infinity } as const satisfies ReadVarintOptions
