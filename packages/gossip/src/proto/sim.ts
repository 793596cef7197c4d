/**
 * A deterministic simulation of topic swarms: many {@link TopicState}s on a simulated network
 * with a latency model, seeded drops and reordering, peers that die, and partitions. Used by the
 * tests and by `bench/gossip.ts`; one seed replays one run exactly.
 */
import { Prng } from '@ferry/core/testing'
import { gossipConfig, type GossipConfig } from './config.js'
import type { Output, Timer } from './io.js'
import type { Message, PeerId } from './messages.js'
import { messageId } from './plumtree.js'
import { TopicState } from './topic.js'
import { toHex } from './util.js'

/** Options of {@link Simulation}. */
export interface SimulationOptions {
  seed: number
  /** Protocol parameters; default: the defaults. */
  config?: GossipConfig
  /** One-way delay of a message, uniform in `[minMs, maxMs]`. Default 10–50 ms. */
  latency?: { minMs: number; maxMs: number }
  /**
   * Whether messages between two peers may overtake one another. Default false: one connection
   * carries them in order, as ferry's does.
   */
  reorder?: boolean
  /** The fraction of messages lost in flight. Default 0. */
  dropRate?: number
  /**
   * Milliseconds until a peer notices that a neighbor died or was cut off (a QUIC idle
   * timeout, in ferry). Default 1000.
   */
  failureDetectMs?: number
}

/** How one broadcast fared. */
export interface DeliveryReport {
  /** Live peers that received it, over live peers other than the sender. */
  deliveryRatio: number
  /** Relative message redundancy: payload messages sent / (peers reached) − 1. */
  rmr: number
  /** Last delivery hop: the largest hop count at which it reached a peer. */
  ldh: number
  /** Milliseconds from broadcast to each delivery. */
  latencies: number[]
  /** Peers that received it more than once (must be none). */
  duplicates: number
}

type Event =
  | { kind: 'message'; from: PeerId; to: PeerId; message: Message }
  | { kind: 'timer'; peer: PeerId; timer: Timer }
  | { kind: 'closed'; peer: PeerId; remote: PeerId }

interface Tracked {
  sender: PeerId
  sentAt: number
  payloads: number
  deliveries: Map<PeerId, { at: number; round: number }>
  duplicates: number
}

/** One peer of the simulation. */
export interface SimPeer {
  id: PeerId
  state: TopicState
  alive: boolean
  /** Every delivery, as the application would see it: message id hex, in order. */
  received: string[]
}

export class Simulation {
  readonly rng: Prng
  readonly config: GossipConfig
  readonly peers = new Map<PeerId, SimPeer>()
  now = 0
  private readonly queue = new EventHeap()
  private readonly latency: { minMs: number; maxMs: number }
  private readonly reorder: boolean
  /** The fraction of messages lost in flight from now on (see {@link SimulationOptions}). */
  dropRate: number
  private readonly failureDetectMs: number
  /** The arrival time of the last message on each directed link, to keep links in order. */
  private readonly linkTail = new Map<string, number>()
  /** Peers each peer holds a connection to (either end dialed). */
  private readonly links = new Map<PeerId, Set<PeerId>>()
  private groups: Map<PeerId, number> | undefined
  private readonly tracked = new Map<string, Tracked>()
  private readonly listeners: ((peer: SimPeer, output: Output) => void)[] = []

  constructor(options: SimulationOptions) {
    this.rng = new Prng(options.seed)
    this.config = options.config ?? gossipConfig()
    this.latency = options.latency ?? { minMs: 10, maxMs: 50 }
    this.reorder = options.reorder ?? false
    this.dropRate = options.dropRate ?? 0
    this.failureDetectMs = options.failureDetectMs ?? 1000
  }

  /** Adds `count` peers with random ids; returns them. */
  addPeers(count: number): SimPeer[] {
    const added: SimPeer[] = []
    for (let i = 0; i < count; i++) {
      const bytes = new Uint8Array(32)
      for (let j = 0; j < 32; j += 4) new DataView(bytes.buffer).setUint32(j, this.rng.u32())
      const id = toHex(bytes)
      const peer: SimPeer = {
        id,
        state: new TopicState(id, undefined, this.config, new Prng(this.rng.u32())),
        alive: true,
        received: [],
      }
      this.peers.set(id, peer)
      added.push(peer)
    }
    return added
  }

  /** Hears every output of every peer (the bench counts messages with it). */
  onOutput(listener: (peer: SimPeer, output: Output) => void): void {
    this.listeners.push(listener)
  }

  live(): SimPeer[] {
    return [...this.peers.values()].filter((p) => p.alive)
  }

  /** `peer` joins through `bootstrap` (a Join is sent to each). */
  join(peer: SimPeer, bootstrap: SimPeer[]): void {
    for (const b of bootstrap) this.apply(peer, peer.state.join(b.id))
  }

  /**
   * Every peer after the first joins through up to `count` peers picked at random among those
   * before it, `spacingMs` apart.
   */
  joinRandomly(peers: SimPeer[], count: number, spacingMs: number): void {
    for (let i = 1; i < peers.length; i++) {
      const contacts = new Set<SimPeer>()
      while (contacts.size < Math.min(count, i)) contacts.add(peers[this.rng.int(i)]!)
      this.join(peers[i]!, [...contacts])
      this.run(spacingMs)
    }
  }

  /** Publishes `content` from `peer` to the swarm; returns its id (hex). */
  broadcast(peer: SimPeer, content: Uint8Array): string {
    const key = toHex(messageId(content))
    this.tracked.set(key, {
      sender: peer.id,
      sentAt: this.now,
      payloads: 0,
      deliveries: new Map(),
      duplicates: 0,
    })
    this.apply(peer, peer.state.broadcast(content, 'swarm', this.now))
    return key
  }

  /**
   * Kills `peers` at once, without a word to anyone: their neighbors notice after
   * `failureDetectMs`, as they would notice a vanished process.
   */
  kill(peers: SimPeer[]): void {
    for (const peer of peers) {
      peer.alive = false
      for (const remote of this.links.get(peer.id) ?? []) {
        this.links.get(remote)?.delete(peer.id)
        this.push(this.now + this.failureDetectMs, {
          kind: 'closed',
          peer: remote,
          remote: peer.id,
        })
      }
      this.links.delete(peer.id)
    }
  }

  /** Splits the network: peers in different groups cannot reach each other. */
  partition(groups: SimPeer[][]): void {
    this.groups = new Map()
    groups.forEach((group, i) => group.forEach((p) => this.groups!.set(p.id, i)))
    for (const [a, remotes] of this.links) {
      for (const b of [...remotes]) {
        if (this.reachable(a, b)) continue
        remotes.delete(b)
        this.push(this.now + this.failureDetectMs, { kind: 'closed', peer: a, remote: b })
      }
    }
  }

  heal(): void {
    this.groups = undefined
  }

  /** Runs the simulation for `ms` of simulated time. */
  run(ms: number): void {
    const end = this.now + ms
    for (;;) {
      const next = this.queue.peek()
      if (!next || next.at > end) break
      this.queue.pop()
      this.now = next.at
      this.dispatch(next.event)
    }
    this.now = end
  }

  /** How the broadcast `key` fared among the peers alive now. */
  report(key: string): DeliveryReport {
    const t = this.tracked.get(key)
    if (!t) throw new Error(`no broadcast ${key}`)
    const live = this.live().filter((p) => p.id !== t.sender)
    const reached = live.filter((p) => t.deliveries.has(p.id))
    const latencies = reached.map((p) => t.deliveries.get(p.id)!.at - t.sentAt)
    let ldh = 0
    for (const d of t.deliveries.values()) ldh = Math.max(ldh, d.round)
    return {
      deliveryRatio: live.length === 0 ? 1 : reached.length / live.length,
      rmr: t.deliveries.size <= 1 ? 0 : t.payloads / t.deliveries.size - 1,
      ldh,
      latencies,
      duplicates: t.duplicates,
    }
  }

  private reachable(a: PeerId, b: PeerId): boolean {
    return !this.groups || this.groups.get(a) === this.groups.get(b)
  }

  private push(at: number, event: Event): void {
    this.queue.push(at, event)
  }

  private dispatch(event: Event): void {
    const peer = this.peers.get(event.kind === 'message' ? event.to : event.peer)
    if (!peer || !peer.alive) return
    switch (event.kind) {
      case 'message': {
        // A message from a peer we had no link with opens one (the dialer connected).
        this.link(event.from, event.to)
        this.apply(peer, peer.state.receive(event.from, event.message, this.now))
        return
      }
      case 'timer':
        this.apply(peer, peer.state.timer(event.timer, this.now))
        return
      case 'closed':
        this.apply(peer, peer.state.connectionClosed(event.remote))
        return
    }
  }

  private link(a: PeerId, b: PeerId): void {
    let la = this.links.get(a)
    if (!la) this.links.set(a, (la = new Set()))
    la.add(b)
    let lb = this.links.get(b)
    if (!lb) this.links.set(b, (lb = new Set()))
    lb.add(a)
  }

  private apply(peer: SimPeer, outputs: Output[]): void {
    for (const output of outputs) {
      for (const listener of this.listeners) listener(peer, output)
      switch (output.type) {
        case 'send':
          this.send(peer.id, output.to, output.message)
          break
        case 'timer':
          this.push(this.now + output.delayMs, {
            kind: 'timer',
            peer: peer.id,
            timer: output.timer,
          })
          break
        case 'disconnect':
          this.links.get(peer.id)?.delete(output.peer)
          this.links.get(output.peer)?.delete(peer.id)
          break
        case 'event':
          if (output.event.type === 'received') this.delivered(peer, output.event)
          break
        case 'peer-data':
          break
      }
    }
  }

  private delivered(
    peer: SimPeer,
    event: { content: Uint8Array; round: number | undefined },
  ): void {
    const key = toHex(messageId(event.content))
    peer.received.push(key)
    const t = this.tracked.get(key)
    if (!t) return
    if (t.deliveries.has(peer.id)) t.duplicates++
    else t.deliveries.set(peer.id, { at: this.now, round: (event.round ?? 0) + 1 })
  }

  private send(from: PeerId, to: PeerId, message: Message): void {
    if (message.type === 'gossip') {
      const t = this.tracked.get(toHex(message.id))
      if (t) t.payloads++
    }
    const target = this.peers.get(to)
    if (!target || !target.alive || !this.reachable(from, to)) {
      // The dial (or the dead connection) fails: the sender hears of it.
      const delay = this.links.get(from)?.has(to) ? this.failureDetectMs : this.delay()
      this.links.get(from)?.delete(to)
      this.push(this.now + delay, { kind: 'closed', peer: from, remote: to })
      return
    }
    if (this.dropRate > 0 && this.rng.u32() / 0x1_0000_0000 < this.dropRate) return
    let at = this.now + this.delay()
    if (!this.reorder) {
      const link = `${from}>${to}`
      at = Math.max(at, this.linkTail.get(link) ?? 0)
      this.linkTail.set(link, at)
    }
    this.push(at, { kind: 'message', from, to, message })
  }

  private delay(): number {
    const { minMs, maxMs } = this.latency
    return minMs + (this.rng.u32() / 0x1_0000_0000) * (maxMs - minMs)
  }
}

/** A binary min-heap of events by time, first-in first-out among equal times. */
class EventHeap {
  private readonly items: { at: number; seq: number; event: Event }[] = []
  private seq = 0

  push(at: number, event: Event): void {
    const items = this.items
    items.push({ at, seq: this.seq++, event })
    let i = items.length - 1
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (!this.less(i, parent)) break
      ;[items[i], items[parent]] = [items[parent]!, items[i]!]
      i = parent
    }
  }

  peek(): { at: number; event: Event } | undefined {
    return this.items[0]
  }

  pop(): void {
    const items = this.items
    const last = items.pop()!
    if (items.length === 0) return
    items[0] = last
    let i = 0
    for (;;) {
      const l = 2 * i + 1
      const r = l + 1
      let m = i
      if (l < items.length && this.less(l, m)) m = l
      if (r < items.length && this.less(r, m)) m = r
      if (m === i) break
      ;[items[i], items[m]] = [items[m]!, items[i]!]
      i = m
    }
  }

  private less(a: number, b: number): boolean {
    const x = this.items[a]!
    const y = this.items[b]!
    return x.at < y.at || (x.at === y.at && x.seq < y.seq)
  }
}
