/**
 * The SETTINGS frame payload (RFC 9114 §7.2.4): a sequence of identifier/value varint pairs.
 *
 * ```
 * Setting {
 *   Identifier (i),
 *   Value (i),
 * }
 * ```
 */

import { readVarint, readVarintBig, varintLength, writeVarint } from '@ferry/wire'
import { H3, Http3Error } from '../errors.js'
import { h3Varint } from './varint.js'

/**
 * Setting identifiers: HTTP/3 (RFC 9114 §7.2.4.1), QPACK (RFC 9204 §5), extended CONNECT
 * (RFC 9220), HTTP datagrams (RFC 9297) and the codepoints successive drafts of
 * draft-ietf-webtrans-http3 used to announce WebTransport. Browsers lag the drafts, so a server
 * announces several generations at once.
 */
export const Setting = {
  QPACK_MAX_TABLE_CAPACITY: 0x1,
  MAX_FIELD_SECTION_SIZE: 0x6,
  QPACK_BLOCKED_STREAMS: 0x7,
  ENABLE_CONNECT_PROTOCOL: 0x8,
  H3_DATAGRAM: 0x33,
  /** draft-ietf-masque-h3-datagram-04, still sent by older Chromium. */
  H3_DATAGRAM_DRAFT04: 0xffd277,
  /** SETTINGS_ENABLE_WEBTRANSPORT of drafts 02–06. */
  ENABLE_WEBTRANSPORT_DRAFT02: 0x2b603742,
  /**
   * SETTINGS_WEBTRANSPORT_MAX_SESSIONS of drafts 07–12 (the number of sessions accepted).
   * Drafts 13–14 renamed the setting WT_MAX_SESSIONS and moved it to
   * {@link Setting.WT_MAX_SESSIONS_DRAFT13}.
   */
  WT_MAX_SESSIONS: 0xc671706a,
  /** SETTINGS_WT_MAX_SESSIONS of drafts 13–14. */
  WT_MAX_SESSIONS_DRAFT13: 0x14e9cd29,
  /** SETTINGS_WT_ENABLED of draft 15 onward (a boolean, 1 = enabled). */
  WT_ENABLED: 0x2c7cf000,
} as const

/**
 * Setting identifiers reserved because they were HTTP/2 settings (RFC 9114 §7.2.4.1, §11.2.2);
 * receiving one is `H3_SETTINGS_ERROR`.
 */
const HTTP2_ONLY_SETTINGS: ReadonlySet<number> = new Set([0x0, 0x2, 0x3, 0x4, 0x5])

/** Options of {@link decodeSettings}. */
export interface DecodeSettingsOptions {
  /** The most entries (GREASE included) one SETTINGS frame may carry. */
  maxEntries: number
}

/**
 * The SETTINGS payload for `settings`, in iteration order.
 *
 * @throws {RangeError} if an identifier or value is not an integer in `[0, 2^53-1]`, an
 *   identifier repeats, or an identifier is a reserved HTTP/2 setting.
 */
export function encodeSettings(settings: Iterable<[number, number]>): Uint8Array {
  const entries = [...settings]
  const seen = new Set<number>()
  let size = 0
  for (const [id, value] of entries) {
    size += varintLength(id) + varintLength(value)
    if (HTTP2_ONLY_SETTINGS.has(id))
      throw new RangeError(`setting 0x${id.toString(16)} is HTTP/2-only`)
    if (seen.has(id)) throw new RangeError(`setting 0x${id.toString(16)} appears twice`)
    seen.add(id)
  }
  const out = new Uint8Array(size)
  let offset = 0
  for (const [id, value] of entries) offset = writeVarint(out, writeVarint(out, offset, id), value)
  return out
}

/**
 * The settings in a SETTINGS payload, by identifier. Unknown and GREASE identifiers are kept
 * (callers look up what they know). Identifiers and values above 2^53 − 1 come back rounded
 * (see `h3Varint`); duplicates among them are still detected exactly.
 *
 * @throws {Http3Error} `H3_FRAME_ERROR` if the payload ends inside an entry;
 *   `H3_SETTINGS_ERROR` for a repeated identifier or a reserved HTTP/2 one;
 *   `H3_EXCESSIVE_LOAD` for more than `maxEntries` entries.
 */
export function decodeSettings(
  payload: Uint8Array,
  options: DecodeSettingsOptions,
): Map<number, number> {
  const settings = new Map<number, number>()
  // Big identifiers round, so two distinct ones may share a number key; compare them exactly.
  let bigIds: Set<bigint> | undefined
  let entries = 0
  let offset = 0
  while (offset < payload.length) {
    const idField = readVarint(payload, offset, h3Varint)
    const valueField = idField && readVarint(payload, idField[1], h3Varint)
    if (idField === undefined || valueField === undefined) {
      throw new Http3Error(H3.FRAME_ERROR, 'SETTINGS payload ends inside an entry')
    }
    if (++entries > options.maxEntries) {
      throw new Http3Error(
        H3.EXCESSIVE_LOAD,
        `SETTINGS has more than ${options.maxEntries} entries`,
      )
    }
    const [id] = idField
    if (HTTP2_ONLY_SETTINGS.has(id)) {
      throw new Http3Error(H3.SETTINGS_ERROR, `HTTP/2-only setting 0x${id.toString(16)}`)
    }
    let duplicate: boolean
    if (Number.isSafeInteger(id)) {
      duplicate = settings.has(id)
    } else {
      const exact = readVarintBig(payload, offset, h3Varint)![0]
      bigIds ??= new Set()
      duplicate = bigIds.has(exact)
      bigIds.add(exact)
    }
    if (duplicate) {
      throw new Http3Error(H3.SETTINGS_ERROR, `setting 0x${id.toString(16)} appears twice`)
    }
    settings.set(id, valueField[0])
    offset = valueField[1]
  }
  return settings
}
