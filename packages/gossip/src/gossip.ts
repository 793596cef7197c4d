/**
 * Gossip over ferry connections: one {@link Gossip} per endpoint runs a {@link TopicState} per
 * subscribed topic and carries their messages on one connection per peer (ALPN
 * `ferry/gossip/1`), whichever side dialed it.
 */
import {
  EndpointTicket,
  FramedReader,
  FramedWriter,
  PublicKey,
  type Connection,
  type ConnectTarget,
  type Endpoint,
  type EndpointAddr,
  type EndpointId,
  type ProtocolHandler,
  toAddr,
} from '@ferry/core'
import { decodeFrame, encodeFrame, frameLimits, maxFrameBytes } from './proto/codec.js'
import {
  gossipConfig,
  type BroadcastConfig,
  type GossipConfig,
  type MembershipConfig,
} from './proto/config.js'
import type { Output, ProtoEvent, Timer } from './proto/io.js'
import type { Message, PeerId } from './proto/messages.js'
import { TopicState } from './proto/topic.js'
import { defaultRng, fromHex, toHex, type Rng } from './proto/util.js'
import { Topic, type TopicEvent, type TopicHost } from './topic.js'

/** The gossip protocol's ALPN. */
export const GOSSIP_ALPN = 'ferry/gossip/1'

/** Options of {@link Gossip.create}. */
export interface GossipOptions {
  /** HyParView parameters over `defaultMembershipConfig`. */
  membership?: Partial<MembershipConfig>
  /** PlumTree parameters over `defaultBroadcastConfig`. */
  broadcast?: Partial<BroadcastConfig>
  /** The largest broadcast in bytes. Default 4096. */
  maxMessageBytes?: number
  /** Events a topic holds for a slow subscriber before it drops the oldest. Default 1024. */
  eventQueue?: number
  /** Frames queued for one peer before it counts as too slow and is dropped. Default 1024. */
  sendQueue?: number
  /** @internal Randomness of the state machines (seeded in tests). */
  rng?: Rng
}

/** One connection to a peer, with its frames written in order. */
interface Link {
  conn: Connection
  writer: FramedWriter
  queue: Uint8Array[]
  writing: boolean
  /** No topic wants the peer any more: close once the queue is written. */
  closing: boolean
}

interface PeerState {
  /** Open connections (two when both sides dialed at once); frames go on the first. */
  links: Link[]
  /** Frames waiting for a dial. */
  waiting: Uint8Array[] | undefined
  /** Topics that still want this peer (they sent to it and have not disconnected it). */
  users: Set<string>
}

interface TopicEntry {
  id: Uint8Array
  state: TopicState
  handle: Topic
  timers: Set<ReturnType<typeof setTimeout>>
  /** Peers to join through again whenever the topic is left without neighbors. */
  contacts: Map<PeerId, ConnectTarget>
  rejoin: ReturnType<typeof setTimeout> | undefined
  rejoinDelayMs: number
  /** Joining again waits for the endpoint's relay to be back (see `scheduleRejoin`). */
  awaitingRelay: boolean
}

const maxAddrBook = 1024
const maxContacts = 32
const rejoinMinMs = 1000
const rejoinMaxMs = 30_000

/**
 * Topic broadcast for an endpoint. Register it with the router, then subscribe:
 *
 * ```ts
 * const gossip = Gossip.create(endpoint)
 * Router.builder(endpoint).accept(GOSSIP_ALPN, gossip).spawn()
 * const topic = gossip.subscribe(topicId('my room'), { bootstrap: [friendId] })
 * await topic.joined()
 * topic.broadcast(new TextEncoder().encode('hello'))
 * for await (const event of topic) if (event.type === 'received') show(event.content)
 * ```
 */
export class Gossip implements ProtocolHandler {
  private readonly config: GossipConfig
  private readonly me: PeerId
  private readonly topics = new Map<string, TopicEntry>()
  private readonly peers = new Map<PeerId, PeerState>()
  private readonly addrs = new Map<PeerId, EndpointAddr>()
  private readonly ids = new Map<PeerId, EndpointId>()
  private readonly eventQueue: number
  private readonly sendQueue: number
  private readonly rng: Rng
  private readonly frameMax: number
  private closed = false

  private constructor(
    private readonly endpoint: Endpoint,
    options: GossipOptions,
  ) {
    this.config = gossipConfig(options)
    this.me = toHex(endpoint.id.toBytes())
    this.eventQueue = options.eventQueue ?? 1024
    this.sendQueue = options.sendQueue ?? 1024
    this.rng = options.rng ?? defaultRng
    this.frameMax = maxFrameBytes(this.config.maxMessageBytes)
  }

  /**
   * Gossip for `endpoint`; register it for {@link GOSSIP_ALPN} on the endpoint's router.
   * @throws {RangeError} for options out of range.
   */
  static create(endpoint: Endpoint, options: GossipOptions = {}): Gossip {
    return new Gossip(endpoint, options)
  }

  /**
   * Joins the swarm of `topic` (32 bytes, see {@link topicId}) through the `bootstrap` peers;
   * with none, waits for others to join through this endpoint.
   * @throws {RangeError} if `topic` is not 32 bytes.
   * @throws `Error` if already subscribed to `topic`, or after `shutdown()`.
   */
  subscribe(topic: Uint8Array, options: { bootstrap?: ConnectTarget[] } = {}): Topic {
    if (this.closed) throw new Error('gossip is shut down')
    if (!(topic instanceof Uint8Array) || topic.length !== 32) {
      throw new RangeError('a topic id is 32 bytes')
    }
    const key = toHex(topic)
    if (this.topics.has(key)) throw new Error('already subscribed to this topic')
    const id = Uint8Array.from(topic)
    const state = new TopicState(this.me, this.myData(), this.config, this.rng)
    const entry: TopicEntry = {
      id,
      state,
      handle: undefined as unknown as Topic,
      timers: new Set(),
      contacts: new Map(),
      rejoin: undefined,
      rejoinDelayMs: rejoinMinMs,
      awaitingRelay: false,
    }
    entry.handle = new Topic(id, this.hostFor(entry), this.eventQueue)
    this.topics.set(key, entry)
    this.joinThrough(entry, options.bootstrap ?? [])
    return entry.handle
  }

  /** Serves one incoming gossip connection; the router calls it for {@link GOSSIP_ALPN}. */
  async accept(conn: Connection): Promise<void> {
    if (this.closed) {
      conn.close(0, 'gossip is shut down')
      return
    }
    for await (const stream of conn.bidiStreams()) {
      // One stream per connection: the dialer's. Anything more is ignored.
      this.addLink(toHex(conn.remoteId.toBytes()), conn, stream)
      break
    }
    await conn.closed
  }

  /** Leaves every topic and closes every gossip connection. */
  async shutdown(): Promise<void> {
    if (this.closed) return
    await Promise.all([...this.topics.values()].map((t) => t.handle.close()))
    this.closed = true
    for (const peer of this.peers.values()) for (const link of peer.links) link.conn.close(0, '')
    this.peers.clear()
  }

  private hostFor(entry: TopicEntry): TopicHost {
    return {
      broadcast: (content, scope) => {
        this.apply(entry, entry.state.broadcast(content, scope, performance.now()))
      },
      joinPeers: (peers) => this.joinThrough(entry, peers),
      neighbors: () => entry.state.neighbors.map((p) => this.idOf(p)),
      leave: async () => {
        this.apply(entry, entry.state.leave())
        this.dropTopic(entry)
        await Promise.resolve()
      },
    }
  }

  private joinThrough(entry: TopicEntry, targets: ConnectTarget[]): void {
    for (const target of targets) {
      const addr = toAddr(target)
      const peer = toHex(addr.id.toBytes())
      if (peer === this.me) continue
      if (addr.relay !== undefined || addr.direct.length > 0) this.rememberAddr(peer, addr)
      if (entry.contacts.size < maxContacts) entry.contacts.set(peer, target)
      this.apply(entry, entry.state.join(peer))
    }
  }

  private dropTopic(entry: TopicEntry): void {
    const key = toHex(entry.id)
    if (this.topics.get(key) !== entry) return
    this.topics.delete(key)
    for (const t of entry.timers) clearTimeout(t)
    entry.timers.clear()
    if (entry.rejoin) clearTimeout(entry.rejoin)
    for (const [peer, state] of this.peers) {
      state.users.delete(key)
      this.closeIfUnused(peer, state)
    }
  }

  /** Carries out a topic state machine's outputs. */
  private apply(entry: TopicEntry, outputs: Output[]): void {
    const key = toHex(entry.id)
    for (const o of outputs) {
      switch (o.type) {
        case 'send':
          this.send(o.to, key, encodeFrame(entry.id, o.message))
          break
        case 'timer':
          this.setTimer(entry, o.delayMs, o.timer)
          break
        case 'disconnect': {
          const peer = this.peers.get(o.peer)
          if (peer) {
            peer.users.delete(key)
            this.closeIfUnused(o.peer, peer)
          }
          break
        }
        case 'event':
          this.emit(entry, o.event)
          break
        case 'peer-data':
          this.notePeerData(o.peer, o.data)
          break
      }
    }
  }

  private emit(entry: TopicEntry, event: ProtoEvent): void {
    let out: TopicEvent
    switch (event.type) {
      case 'received':
        out = {
          type: 'received',
          content: event.content,
          from: this.idOf(event.from),
          scope: event.round === undefined ? 'neighbors' : 'swarm',
        }
        break
      case 'neighbor-up':
        entry.rejoinDelayMs = rejoinMinMs
        if (entry.contacts.size < maxContacts) entry.contacts.set(event.peer, this.idOf(event.peer))
        out = { type: 'neighbor-up', peer: this.idOf(event.peer) }
        break
      case 'neighbor-down':
        out = { type: 'neighbor-down', peer: this.idOf(event.peer) }
        this.scheduleRejoin(entry)
        break
    }
    entry.handle.push(out)
  }

  /**
   * A topic left without neighbors (every one of them gone, as when a relay restarts) joins
   * again through the peers it knew, with a backoff, until it has a neighbor again. While the
   * endpoint's relay is down, the next try waits for it to be back instead: tries through a
   * relay that is down only fail, and would stretch the backoff to half a minute by the time it
   * returns.
   */
  private scheduleRejoin(entry: TopicEntry): void {
    if (entry.rejoin || entry.awaitingRelay) return
    if (entry.state.neighbors.length > 0 || entry.contacts.size === 0) return
    const delay = entry.rejoinDelayMs * (0.5 + this.rng.int(1000) / 1000)
    entry.rejoinDelayMs = Math.min(rejoinMaxMs, entry.rejoinDelayMs * 2)
    entry.rejoin = setTimeout(() => {
      entry.rejoin = undefined
      this.rejoin(entry)
    }, delay)
  }

  private rejoin(entry: TopicEntry): void {
    if (this.topics.get(toHex(entry.id)) !== entry || entry.state.neighbors.length > 0) return
    for (const peer of entry.contacts.keys()) this.apply(entry, entry.state.join(peer))
    const relay = this.endpoint.relayState?.state
    if (relay !== 'connecting' && relay !== 'offline') {
      this.scheduleRejoin(entry)
      return
    }
    entry.awaitingRelay = true
    entry.rejoinDelayMs = rejoinMinMs
    this.endpoint.online().then(
      () => {
        entry.awaitingRelay = false
        this.rejoin(entry)
      },
      () => {
        // Refused by the relay, or closed: back to the timer, which stops with the topic.
        entry.awaitingRelay = false
        this.scheduleRejoin(entry)
      },
    )
  }

  private setTimer(entry: TopicEntry, delayMs: number, timer: Timer): void {
    const handle = setTimeout(() => {
      entry.timers.delete(handle)
      this.apply(entry, entry.state.timer(timer, performance.now()))
    }, delayMs)
    entry.timers.add(handle)
  }

  private myData(): Uint8Array | undefined {
    const bytes = new EndpointTicket(this.endpoint.addr()).toBytes()
    return bytes.length <= frameLimits.maxPeerDataBytes ? bytes : undefined
  }

  /** Keeps a peer's address from its ticket, if the ticket is really that peer's. */
  private notePeerData(peer: PeerId, data: Uint8Array): void {
    try {
      const addr = EndpointTicket.fromBytes(data).addr
      if (toHex(addr.id.toBytes()) === peer) this.rememberAddr(peer, addr)
    } catch {
      // Not a ticket: the peer is dialed by its id alone.
    }
  }

  /**
   * A peer's EndpointId, decoded once: every received message names its sender, and decoding a
   * key checks that it is a curve point.
   */
  private idOf(peer: PeerId): EndpointId {
    let id = this.ids.get(peer)
    if (!id) {
      id = PublicKey.fromBytes(fromHex(peer))
      this.ids.set(peer, id)
      if (this.ids.size > maxAddrBook) this.ids.delete(this.ids.keys().next().value!)
    }
    return id
  }

  private rememberAddr(peer: PeerId, addr: EndpointAddr): void {
    this.addrs.delete(peer)
    this.addrs.set(peer, addr)
    if (this.addrs.size > maxAddrBook) this.addrs.delete(this.addrs.keys().next().value!)
  }

  private peerState(peer: PeerId): PeerState {
    let state = this.peers.get(peer)
    if (!state) this.peers.set(peer, (state = { links: [], waiting: undefined, users: new Set() }))
    return state
  }

  private send(peer: PeerId, topicKey: string, frame: Uint8Array): void {
    if (this.closed) return
    const state = this.peerState(peer)
    state.users.add(topicKey)
    const link = state.links[0]
    if (link) return this.enqueue(peer, link, frame)
    if (state.waiting) {
      if (state.waiting.length >= this.sendQueue) return
      state.waiting.push(frame)
      return
    }
    state.waiting = [frame]
    void this.dial(peer, state)
  }

  private async dial(peer: PeerId, state: PeerState): Promise<void> {
    const target = this.addrs.get(peer) ?? this.idOf(peer)
    let conn: Connection
    try {
      conn = await this.endpoint.connect(target, GOSSIP_ALPN)
      const stream = await conn.openBi()
      if (this.closed) {
        conn.close(0, '')
        return
      }
      const link = this.addLink(peer, conn, stream)
      const waiting = state.waiting ?? []
      state.waiting = undefined
      for (const frame of waiting) this.enqueue(peer, link, frame)
    } catch {
      state.waiting = undefined
      if (state.links.length === 0) this.peerGone(peer)
    }
  }

  private addLink(
    peer: PeerId,
    conn: Connection,
    stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
  ): Link {
    const state = this.peerState(peer)
    const link: Link = {
      conn,
      writer: new FramedWriter(stream.writable, { maxMessageBytes: this.frameMax }),
      queue: [],
      writing: false,
      closing: false,
    }
    state.links.push(link)
    // Frames that waited for our own dial go out on a link the peer opened meanwhile.
    if (state.waiting && state.links.length === 1) {
      for (const frame of state.waiting) this.enqueue(peer, link, frame)
    }
    void this.read(peer, link, stream.readable)
    void conn.closed.then(() => this.linkClosed(peer, link))
    return link
  }

  private enqueue(peer: PeerId, link: Link, frame: Uint8Array): void {
    if (link.queue.length >= this.sendQueue) {
      // The peer reads too slowly to keep up with the swarm: drop it, as a failed peer.
      link.conn.close(0, 'too slow')
      return
    }
    link.queue.push(frame)
    if (!link.writing) void this.write(link)
  }

  private async write(link: Link): Promise<void> {
    link.writing = true
    try {
      for (let frame = link.queue.shift(); frame; frame = link.queue.shift()) {
        await link.writer.write(frame)
      }
    } catch {
      link.conn.close(0, '')
    } finally {
      link.writing = false
    }
    if (link.closing) await this.finish(link)
  }

  private async read(
    peer: PeerId,
    link: Link,
    readable: ReadableStream<Uint8Array>,
  ): Promise<void> {
    const reader = new FramedReader(readable, { maxMessageBytes: this.frameMax })
    try {
      for (let body = await reader.read(); body; body = await reader.read()) {
        const { topic, message } = decodeFrame(body, this.config.maxMessageBytes)
        this.deliver(peer, topic, message)
      }
    } catch {
      // A frame that does not decode, or the stream failed: the peer is dropped either way.
    }
    link.conn.close(0, '')
  }

  private deliver(peer: PeerId, topic: Uint8Array, message: Message): void {
    const entry = this.topics.get(toHex(topic))
    if (!entry) return
    const key = toHex(topic)
    this.peerState(peer).users.add(key)
    this.apply(entry, entry.state.receive(peer, message, performance.now()))
  }

  private linkClosed(peer: PeerId, link: Link): void {
    const state = this.peers.get(peer)
    if (!state) return
    const i = state.links.indexOf(link)
    if (i < 0) return
    state.links.splice(i, 1)
    if (state.links.length === 0 && !state.waiting) this.peerGone(peer)
  }

  /** Every topic hears that the peer's connection is gone. */
  private peerGone(peer: PeerId): void {
    this.peers.delete(peer)
    for (const entry of [...this.topics.values()]) {
      this.apply(entry, entry.state.connectionClosed(peer))
      // A topic whose join failed (its bootstrap peer unreachable for now) has no neighbor to
      // lose, so no neighbor-down asks it to try again: ask here.
      this.scheduleRejoin(entry)
    }
  }

  /** Closes a peer's connections once no topic wants it, after what is queued is written. */
  private closeIfUnused(peer: PeerId, state: PeerState): void {
    if (state.users.size > 0 || state.waiting) return
    this.peers.delete(peer)
    for (const link of state.links) {
      link.closing = true
      if (!link.writing) void this.finish(link)
    }
  }

  /** Ends a link once its queue is written: the stream first, so the peer reads it all. */
  private async finish(link: Link): Promise<void> {
    await link.writer.close().catch(() => {})
    link.conn.close(0, '')
  }
}
