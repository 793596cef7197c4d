import type { Http3Connection, RequestBody } from '../h3/connection.js'
import {
  CapsuleReader,
  CapsuleType,
  decodeCloseSession,
  encodeCloseSession,
  encodeDrainSession,
} from './capsules.js'

/** What a CONNECT stream tells its session. */
export interface ConnectStreamEvents {
  /** The peer's CLOSE_WEBTRANSPORT_SESSION capsule; the FIN that must follow ends the session. */
  closeReceived(info: { closeCode: number; reason: string }): void
  /** The peer's DRAIN_WEBTRANSPORT_SESSION capsule: it asks the session to wind down. */
  startDraining(): void
  /** The CONNECT stream ended: `reset` holds the peer's code when it was reset. */
  connectStreamEnded(reset: number | undefined): void
}

/**
 * The CONNECT stream of an established WebTransport session, which carries capsules (RFC 9297
 * §3.2 in DATA frames, draft-ietf-webtrans-http3 §5-6) until the session ends. Unknown capsules
 * are ignored.
 */
export class ConnectStream implements RequestBody {
  private readonly capsules: CapsuleReader

  constructor(
    private readonly h3: Pick<Http3Connection, 'sendData'>,
    /** The CONNECT stream's id, which is the session id. */
    readonly id: number,
    private readonly events: ConnectStreamEvents,
    maxCapsuleBytes: number,
  ) {
    this.capsules = new CapsuleReader({ maxCapsuleBytes })
  }

  /**
   * DATA payload from the peer.
   * @throws {Http3Error} `H3_MESSAGE_ERROR` for a malformed or oversized known capsule.
   */
  data(payload: Uint8Array): void {
    this.capsules.push(payload)
    for (let c = this.capsules.next(); c; c = this.capsules.next()) {
      if (c.type === CapsuleType.CLOSE_WEBTRANSPORT_SESSION) {
        const { code, reason } = decodeCloseSession(c.value)
        this.events.closeReceived({ closeCode: code, reason })
      } else if (c.type === CapsuleType.DRAIN_WEBTRANSPORT_SESSION) {
        this.events.startDraining()
      }
    }
  }

  end(reset: number | undefined): void {
    this.events.connectStreamEnded(reset)
  }

  /** Sends CLOSE_WEBTRANSPORT_SESSION and the FIN. */
  close(closeCode: number, reason: string): Promise<void> {
    return this.h3.sendData(this.id, encodeCloseSession(closeCode, reason), true)
  }

  /** Sends DRAIN_WEBTRANSPORT_SESSION: the session should wind down; it stays usable. */
  drain(): Promise<void> {
    return this.h3.sendData(this.id, encodeDrainSession(), false)
  }

  /** Sends the FIN alone, answering the peer's. */
  finish(): Promise<void> {
    return this.h3.sendData(this.id, new Uint8Array(0), true)
  }
}
