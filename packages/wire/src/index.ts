/**
 * `@ferry/wire`: the low-level pieces every ferry wire format shares, with no dependencies, so
 * that the transport (`@ferry/webtransport-node`) and the core (`@ferry/core`) build on the
 * same code without depending on each other: the QUIC varint codec (RFC 9000 §16), whose reader
 * takes each format's shortest-form rule; byte helpers; and the stream error code of a
 * WebTransport abort or cancel reason. For ferry's own packages: applications read and write
 * messages with `ByteReader` and `ByteWriter` from `@ferry/core`.
 * @module @ferry/wire
 */
export {
  VarintError,
  encodeVarint,
  encodedVarintLength,
  readVarint,
  readVarintBig,
  varintLength,
  writeVarint,
  type ReadVarintOptions,
  type VarintErrorCode,
} from './varint.js'
export { concat, concatAll, equalBytes, fromHex, toHex } from './bytes.js'
export { streamErrorCodeOf } from './stream-error.js'
