/** The relay's state of one client session and its virtual connections. */
import type { FramedWriter, PublicKey } from '@ferry/core'
import type { Session } from '@ferry/core/internal'

/** One end of a virtual connection, seen from the other: the peer, and its id there. */
export interface Link {
  peer: Client
  conn: number
}

/** The relay's state of one client session. */
export class Client {
  id: PublicKey | undefined
  /** Whether READY was sent: from then on the client's streams are routed. */
  registered = false
  /** Whether the session's first bidi stream (the control stream) arrived. */
  sawControl = false
  ended = false
  control: FramedWriter | undefined
  queuedControl = 0
  authTimer: ReturnType<typeof setTimeout> | undefined
  /** This session's virtual connections, by their id in this session. */
  readonly conns = new Map<number, Link>()
  /** The next id the relay gives a connection it delivers here (odd ids are the relay's). */
  nextConn = 1
  #datagrams: WritableStreamDefaultWriter<Uint8Array> | undefined

  constructor(readonly session: Session) {}

  get datagrams(): WritableStreamDefaultWriter<Uint8Array> {
    this.#datagrams ??= this.session.datagrams.writable.getWriter()
    return this.#datagrams
  }
}
