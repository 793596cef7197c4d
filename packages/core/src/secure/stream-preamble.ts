/**
 * The stream preamble of the record layer: the stream index as the shortest QUIC varint,
 * written first by the side that opened the stream (the format is in `record-format.ts`).
 */
import { VarintError, encodeVarint, readVarint } from '@ferry/wire'
import { RecordError } from '../errors.js'
import { maxStreamsPerClass } from './record-format.js'

/** A preamble has one encoding per index: shortest form only, and below 2^24. */
const preambleRule = { minimal: true, max: maxStreamsPerClass - 1 } as const

/**
 * A stream preamble: the index as the shortest QUIC varint (< 2^24, so at most 4 bytes).
 * @throws {RangeError} if `index` is not a non-negative integer.
 */
export function encodeIndex(index: number): Uint8Array {
  return encodeVarint(index)
}

/**
 * Parses a preamble at the start of `bytes`: `undefined` while more bytes are needed.
 *
 * @throws RecordError `MALFORMED` for a non-minimal varint or an index >= 2^24.
 */
export function decodeIndex(bytes: Uint8Array): { index: number; length: number } | undefined {
  let parsed: [number, number] | undefined
  try {
    parsed = readVarint(bytes, 0, preambleRule)
  } catch (e) {
    if (!(e instanceof VarintError)) throw e
    const problem = e.code === 'TOO_LARGE' ? 'an index not below 2^24' : 'a non-minimal varint'
    throw new RecordError('MALFORMED', `stream preamble: ${problem}`, { cause: e })
  }
  return parsed && { index: parsed[0], length: parsed[1] }
}
