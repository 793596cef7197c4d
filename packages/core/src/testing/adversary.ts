/**
 * An active attacker in a relay's position, for tests: it wraps the sessions of one endpoint's
 * transport and decides what reaches that endpoint. It can pass streams on, hold them, drop
 * them, duplicate them, deliver them in another order, splice one stream's bytes onto another
 * stream, and inject streams with bytes of its choosing. Seeded, so a failure replays.
 *
 * ```ts
 * const adversary = new Adversary(new Prng(7))
 * const server = await TestEndpoint.create({ transport: adversary.transport(new MemoryTransport(network)) })
 * adversary.onBidi = (stream, deliver) => deliver(stream) // the default: pass everything on
 * ```
 */
import type { DirectAddr } from '../addr.js'
import type { DialedSession, Transport, TransportListener } from '../endpoint.js'
import type { Prng } from '../internal/prng.js'
import { MemoryTransportError } from '../memory/transport-error.js'
import type { BidiStream, Session, SessionCloseInfo } from '../session.js'

/**
 * What the adversary does with a stream from the peer: `deliver` hands one to the victim.
 * `session` counts the victim's sessions from 0, in the order the adversary saw them.
 */
export type BidiPolicy = (
  stream: BidiStream,
  deliver: (stream: BidiStream) => void,
  session: number,
) => void
/** As {@link BidiPolicy}, for unidirectional streams. */
export type UniPolicy = (
  readable: ReadableStream<Uint8Array>,
  deliver: (readable: ReadableStream<Uint8Array>) => void,
  session: number,
) => void

/** Sits between the victim endpoint and its transport; see the module comment. */
export class Adversary {
  /** What happens to each bidi stream the peer opens; default: delivered unchanged. */
  onBidi: BidiPolicy = (stream, deliver) => deliver(stream)
  /** What happens to each uni stream the peer opens; default: delivered unchanged. */
  onUni: UniPolicy = (readable, deliver) => deliver(readable)
  /**
   * What the victim hears of a transport close (code and reason travel in the clear in a
   * relay's position); default: unchanged.
   */
  onClose: (info: SessionCloseInfo) => SessionCloseInfo = (info) => info
  private readonly sessions: AdversarySession[] = []

  constructor(readonly prng: Prng) {}

  /** `inner`, with every session it dials or accepts passing through this adversary. */
  transport(inner: Transport): Transport {
    const wrap = (session: Session): Session => {
      const wrapped = new AdversarySession(session, this, this.sessions.length)
      this.sessions.push(wrapped)
      return wrapped
    }
    return {
      dial: async (addr: DirectAddr, alpns: string[], options: { signal?: AbortSignal }) => {
        const dialed: DialedSession = await inner.dial(addr, alpns, options)
        return { ...dialed, session: wrap(dialed.session) }
      },
      listen: inner.listen
        ? (listener: TransportListener) =>
            inner.listen!({
              choose: (offer) => listener.choose(offer),
              session: (session, info) => listener.session(wrap(session), info),
            })
        : undefined,
      directAddrs: () => inner.directAddrs(),
      close: () => inner.close(),
    }
  }

  /** Hands a stream of the adversary's making to the victim, on its newest session. */
  injectBidi(stream: BidiStream): void {
    this.newest().deliverBidi(stream)
  }

  /** Hands a uni stream of the adversary's making to the victim, on its newest session. */
  injectUni(readable: ReadableStream<Uint8Array>): void {
    this.newest().deliverUni(readable)
  }

  /**
   * Closes the newest session at the transport level with a code and reason of the
   * adversary's choosing, as a relay can: both ends hear that close.
   */
  closeSession(info: SessionCloseInfo): void {
    this.newest().closeAsRelay(info)
  }

  /** Hands a datagram of the adversary's making to the victim, on its newest session. */
  injectDatagram(bytes: Uint8Array): void {
    this.newest().deliverDatagram(bytes)
  }

  private newest(): AdversarySession {
    const session = this.sessions.at(-1)
    if (!session) throw new Error('the adversary has seen no session yet')
    return session
  }
}

/** A readable that yields `chunks` (copies), then ends with a FIN, a reset, or never. */
export function forgedReadable(
  chunks: Uint8Array[],
  end: 'fin' | 'reset' | 'hang' = 'fin',
): ReadableStream<Uint8Array> {
  let i = 0
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      if (i < chunks.length) controller.enqueue(chunks[i++]!.slice())
      else if (end === 'fin') controller.close()
      else if (end === 'reset') controller.error(new Error('reset by the adversary'))
      else return new Promise<void>(() => undefined)
    },
  })
}

/** A writable that keeps what the victim writes; `done` resolves with it at close or abort. */
export function recorder(): {
  writable: WritableStream<Uint8Array>
  done: Promise<{ bytes: Uint8Array; closed: boolean }>
} {
  const chunks: Uint8Array[] = []
  let finish!: (closed: boolean) => void
  const done = new Promise<boolean>((resolve) => (finish = resolve)).then((closed) => {
    const bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0))
    let offset = 0
    for (const c of chunks) {
      bytes.set(c, offset)
      offset += c.length
    }
    return { bytes, closed }
  })
  const writable = new WritableStream<Uint8Array>({
    write: (chunk) => void chunks.push(chunk.slice()),
    close: () => finish(true),
    abort: () => finish(false),
  })
  return { writable, done }
}

/** The transport error of a stream reset with `code`, as the victim's transport reports it. */
function resetError(code: number): MemoryTransportError {
  return new MemoryTransportError('stream reset by peer', {
    source: 'stream',
    streamErrorCode: code,
  })
}

/**
 * `readable`'s bytes, passed on as they come, except that a transport reset carries `code`
 * instead of the sender's: a relay rewriting RESET_STREAM.
 */
export function rewriteResets(
  readable: ReadableStream<Uint8Array>,
  code: number,
): ReadableStream<Uint8Array> {
  const reader = readable.getReader()
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { value, done } = await reader.read()
        if (done) controller.close()
        else controller.enqueue(value)
      } catch {
        controller.error(resetError(code))
      }
    },
    cancel: (reason) => reader.cancel(reason),
  })
}

/**
 * `readable`'s first `bytes` bytes, then a transport reset with `code` of the adversary's
 * choosing; the rest of the genuine stream is discarded.
 */
export function resetAfter(
  readable: ReadableStream<Uint8Array>,
  bytes: number,
  code: number,
): ReadableStream<Uint8Array> {
  const reader = readable.getReader()
  let passed = 0
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (passed >= bytes) {
        reader.cancel().catch(() => undefined)
        controller.error(resetError(code))
        return
      }
      const { value, done } = await reader.read()
      if (done) return controller.close()
      const part = value.subarray(0, bytes - passed)
      passed += part.length
      controller.enqueue(part.slice())
    },
    cancel: (reason) => reader.cancel(reason),
  })
}

/** Resets both directions of a stream, as dropping it on the path would look to its ends. */
export function dropStream(stream: Partial<BidiStream>): void {
  const reason = new Error('dropped by the adversary')
  stream.readable?.cancel(reason).catch(() => undefined)
  stream.writable?.abort(reason).catch(() => undefined)
}

/**
 * Two streams that both carry what `stream`'s peer writes (a duplicate); the first answers
 * on `stream`'s real writable, the second into a {@link recorder}.
 */
export function duplicateStream(stream: BidiStream): [BidiStream, BidiStream] {
  const [a, b] = stream.readable.tee()
  return [
    { readable: a, writable: stream.writable },
    { readable: b, writable: recorder().writable },
  ]
}

/** `from`'s incoming bytes with `to`'s answer direction: a splice of two streams. */
export function spliceStreams(from: BidiStream, to: BidiStream): BidiStream {
  return { readable: from.readable, writable: to.writable }
}

/** The victim's view of one session: incoming streams and datagrams go through the policy. */
class AdversarySession implements Session {
  readonly incomingBidirectionalStreams: ReadableStream<BidiStream>
  readonly incomingUnidirectionalStreams: ReadableStream<ReadableStream<Uint8Array>>
  readonly datagrams: Session['datagrams']
  private bidi!: ReadableStreamDefaultController<BidiStream>
  private uni!: ReadableStreamDefaultController<ReadableStream<Uint8Array>>
  private datagramController!: ReadableStreamDefaultController<Uint8Array>
  private closedAsSeen: Promise<SessionCloseInfo> | undefined

  constructor(
    private readonly inner: Session,
    private readonly adversary: Adversary,
    index: number,
  ) {
    this.incomingBidirectionalStreams = new ReadableStream({ start: (c) => void (this.bidi = c) })
    this.incomingUnidirectionalStreams = new ReadableStream({ start: (c) => void (this.uni = c) })
    const datagrams = new ReadableStream<Uint8Array>({
      start: (c) => void (this.datagramController = c),
    })
    this.datagrams = {
      readable: datagrams,
      writable: inner.datagrams.writable,
      get maxDatagramSize() {
        return inner.datagrams.maxDatagramSize
      },
    }
    void pump(inner.incomingBidirectionalStreams, this.bidi, (s) =>
      adversary.onBidi(s, (d) => this.deliverBidi(d), index),
    )
    void pump(inner.incomingUnidirectionalStreams, this.uni, (s) =>
      adversary.onUni(s, (d) => this.deliverUni(d), index),
    )
    void pump(inner.datagrams.readable, this.datagramController, (d) => this.deliverDatagram(d))
  }

  get ready(): Promise<void> {
    return this.inner.ready
  }
  get closed(): Session['closed'] {
    // Built once: the policy sees the close when it happens, as the victim does.
    if (!this.closedAsSeen) {
      this.closedAsSeen = this.inner.closed.then((info) => this.adversary.onClose(info))
      this.closedAsSeen.catch(() => undefined)
    }
    return this.closedAsSeen
  }

  closeAsRelay(info: SessionCloseInfo): void {
    this.inner.close(info)
  }
  get protocol(): string | undefined {
    return this.inner.protocol
  }

  deliverBidi(stream: BidiStream): void {
    try {
      this.bidi.enqueue(stream)
    } catch {
      dropStream(stream)
    }
  }

  deliverUni(readable: ReadableStream<Uint8Array>): void {
    try {
      this.uni.enqueue(readable)
    } catch {
      dropStream({ readable })
    }
  }

  deliverDatagram(bytes: Uint8Array): void {
    try {
      this.datagramController.enqueue(bytes)
    } catch {
      // The session is gone: nothing to deliver to.
    }
  }

  createBidirectionalStream(): Promise<BidiStream> {
    return this.inner.createBidirectionalStream()
  }
  createUnidirectionalStream(): Promise<WritableStream<Uint8Array>> {
    return this.inner.createUnidirectionalStream()
  }
  close(info?: Parameters<Session['close']>[0]): void {
    this.inner.close(info)
  }
  getStats(): ReturnType<NonNullable<Session['getStats']>> {
    return this.inner.getStats?.() ?? Promise.resolve({})
  }
}

/** Reads `source` to its end, handing each item to `take`; ends or errors `controller` after. */
async function pump<T>(
  source: ReadableStream<T>,
  controller: ReadableStreamDefaultController<T>,
  take: (item: T) => void,
): Promise<void> {
  const reader = source.getReader()
  try {
    for (;;) {
      const { value, done } = await reader.read()
      if (done) break
      take(value)
    }
    controller.close()
  } catch (error) {
    controller.error(error)
  }
}
