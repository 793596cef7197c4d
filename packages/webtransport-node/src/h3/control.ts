import { H3, Http3Error } from '../errors.js'
import { FrameReader, FrameType, decodeGoaway } from './frames.js'
import { decodeSettings } from './settings.js'

/** What the peer's control stream says. */
export interface ControlStreamEvents {
  /** The peer's SETTINGS (first frame, once). */
  settings(settings: Map<number, number>): void
  /** A GOAWAY whose id passed the checks of RFC 9114 §5.2. */
  goaway(id: number): void
}

/** Options of {@link ControlStream}. */
export interface ControlStreamOptions {
  /** Whether the peer is the server; its GOAWAY then names a request stream. */
  peerIsServer: boolean
  /** Largest frame accepted (`H3_EXCESSIVE_LOAD` beyond). */
  maxFrameBytes: number
  /** SETTINGS entries accepted. Default 64. */
  maxSettings?: number
}

/**
 * The peer's control stream after its stream type (RFC 9114 §6.2.1): SETTINGS first and only
 * once, then GOAWAY, MAX_PUSH_ID (from a client), CANCEL_PUSH and reserved frames. Bytes are
 * pushed as they arrive; frames may straddle pushes.
 */
export class ControlStream {
  private readonly reader: FrameReader
  private settingsSeen = false
  private lastGoaway: number | undefined

  constructor(
    private readonly options: ControlStreamOptions,
    private readonly events: ControlStreamEvents,
  ) {
    this.reader = new FrameReader({ maxFrameBytes: options.maxFrameBytes })
  }

  /**
   * Parses what arrived and reports it.
   * @throws {Http3Error} the connection error RFC 9114 names: `H3_MISSING_SETTINGS`,
   *   `H3_FRAME_UNEXPECTED`, `H3_SETTINGS_ERROR`, `H3_FRAME_ERROR`, `H3_ID_ERROR` or
   *   `H3_EXCESSIVE_LOAD`.
   */
  push(bytes: Uint8Array): void {
    this.reader.push(bytes)
    for (let f = this.reader.next(); f; f = this.reader.next()) {
      if (!this.settingsSeen) {
        if (f.type !== FrameType.SETTINGS) {
          throw new Http3Error(H3.MISSING_SETTINGS, 'first control frame is not SETTINGS')
        }
        this.settingsSeen = true
        this.events.settings(
          decodeSettings(f.payload, { maxEntries: this.options.maxSettings ?? 64 }),
        )
        continue
      }
      switch (f.type) {
        case FrameType.SETTINGS:
          throw new Http3Error(H3.FRAME_UNEXPECTED, 'second SETTINGS frame')
        case FrameType.DATA:
        case FrameType.HEADERS:
        case FrameType.PUSH_PROMISE:
        case FrameType.WEBTRANSPORT_STREAM:
          throw new Http3Error(
            H3.FRAME_UNEXPECTED,
            `frame 0x${f.type.toString(16)} on control stream`,
          )
        case FrameType.MAX_PUSH_ID:
          if (this.options.peerIsServer) {
            throw new Http3Error(H3.FRAME_UNEXPECTED, 'MAX_PUSH_ID from server')
          }
          break
        case FrameType.GOAWAY:
          this.goaway(decodeGoaway(f.payload))
          break
        default:
          // CANCEL_PUSH and reserved frames: nothing for us to act on.
          break
      }
    }
  }

  /**
   * The stream ended.
   * @throws {Http3Error} always `H3_CLOSED_CRITICAL_STREAM` (§6.2.1).
   */
  end(): never {
    throw new Http3Error(H3.CLOSED_CRITICAL_STREAM, 'control stream closed')
  }

  /** §5.2: a server's GOAWAY names a client-initiated bidi stream; ids never grow. */
  private goaway(id: number): void {
    if (this.options.peerIsServer && id % 4 !== 0) {
      throw new Http3Error(H3.ID_ERROR, 'GOAWAY names no client-initiated bidi stream')
    }
    if (this.lastGoaway !== undefined && id > this.lastGoaway) {
      throw new Http3Error(H3.ID_ERROR, 'GOAWAY id larger than the previous one')
    }
    this.lastGoaway = id
    this.events.goaway(id)
  }
}
