/**
 * HyParView membership (Leitão, Pereira, Rodrigues, DSN 2007): a small active view of peers
 * kept connected, and a larger passive view to replace them from. Follows iroh-gossip's
 * reading of the paper, including its one change: a peer reached by a ForwardJoin is sent a
 * Neighbor request and joins the active view only when it answers, so an unreachable joiner is
 * never taken in.
 *
 * A sans-IO state machine: inputs go in through the `on…` methods, and every effect comes out
 * as an {@link Output} pushed to `out`.
 */
import { equalBytes } from '@ferry/wire'
import type { MembershipConfig } from './config.js'
import type { Output } from './io.js'
import type { MembershipMessage, PeerId, PeerInfo } from './messages.js'
import { IndexSet, type Rng } from './util.js'

type Removal = 'random' | 'closed' | { disconnected: { alive: boolean } }

export class Membership {
  readonly active = new IndexSet<PeerId>()
  readonly passive = new IndexSet<PeerId>()
  /** Neighbor requests sent and not answered yet. */
  private readonly pending = new Set<PeerId>()
  /** The data each known peer travels with. */
  private readonly peerData = new Map<PeerId, Uint8Array>()
  /** Peers that left our active view alive: kept in the passive view when their connection ends. */
  private readonly aliveDisconnected = new Set<PeerId>()
  private shuffleScheduled = false

  constructor(
    private readonly me: PeerId,
    private myData: Uint8Array | undefined,
    private readonly config: MembershipConfig,
    private readonly rng: Rng,
    private readonly out: Output[],
  ) {}

  /** Sends a Join to `peer` (a bootstrap peer). */
  join(peer: PeerId): void {
    if (peer === this.me) return
    this.scheduleShuffle()
    // The contact answers a Join with a Neighbor message: wait for it as for a request's.
    this.pending.add(peer)
    this.send(peer, { type: 'join', data: this.myData })
    this.out.push({
      type: 'timer',
      delayMs: this.config.neighborRequestTimeoutMs,
      timer: { kind: 'neighbor-request', peer },
    })
  }

  setData(data: Uint8Array | undefined): void {
    this.myData = data
  }

  /** What `peer` travels with, if we know it. */
  dataOf(peer: PeerId): Uint8Array | undefined {
    return this.peerData.get(peer)
  }

  receive(from: PeerId, message: MembershipMessage): void {
    this.scheduleShuffle()
    switch (message.type) {
      case 'join':
        this.onJoin(from, message.data)
        break
      case 'forward-join':
        this.onForwardJoin(from, message.peer, message.ttl)
        break
      case 'shuffle':
        this.onShuffle(from, message.origin, message.nodes, message.ttl)
        break
      case 'shuffle-reply':
        this.onShuffleReply(message.nodes)
        break
      case 'neighbor':
        this.onNeighbor(from, message.priority, message.data)
        break
      case 'disconnect':
        this.onDisconnect(from, message.alive)
        return
    }
    // A peer outside the active view (a walk passing by, a shuffle answer) needs no connection
    // after its message, unless we are waiting for its answer to a Neighbor request.
    if (!this.active.has(from) && !this.pending.has(from)) {
      this.out.push({ type: 'disconnect', peer: from })
    }
  }

  /** The connection to `peer` ended (or could not be made). */
  connectionClosed(peer: PeerId): void {
    this.pending.delete(peer)
    if (this.active.has(peer)) {
      this.removeActive(peer, 'closed')
    } else if (!this.aliveDisconnected.delete(peer)) {
      this.passive.delete(peer)
      this.peerData.delete(peer)
    }
  }

  shuffleTimer(): void {
    const node = this.active.pick(this.rng)
    if (node !== undefined) {
      const active = this.active.sample(this.rng, this.config.shuffleActiveViewCount, [node])
      const passive = this.passive.sample(this.rng, this.config.shufflePassiveViewCount, [node])
      const nodes = [...active, ...passive].map((id) => this.info(id))
      nodes.push({ id: this.me, data: this.myData })
      this.send(node, {
        type: 'shuffle',
        origin: this.me,
        nodes,
        ttl: this.config.shuffleRandomWalkLength,
      })
    }
    this.out.push({
      type: 'timer',
      delayMs: this.config.shuffleIntervalMs,
      timer: { kind: 'shuffle' },
    })
  }

  neighborRequestTimer(peer: PeerId): void {
    if (this.pending.delete(peer)) {
      this.passive.delete(peer)
      this.refillActive([])
    }
  }

  /** Leaves: every active peer is told we are going away for good. */
  quit(): void {
    for (const peer of [...this.active.values()]) {
      this.active.delete(peer)
      this.sendDisconnect(peer, false)
    }
  }

  private scheduleShuffle(): void {
    if (this.shuffleScheduled) return
    this.shuffleScheduled = true
    this.out.push({
      type: 'timer',
      delayMs: this.config.shuffleIntervalMs,
      timer: { kind: 'shuffle' },
    })
  }

  private send(to: PeerId, message: MembershipMessage): void {
    this.out.push({ type: 'send', to, message })
  }

  private info(id: PeerId): PeerInfo {
    const data = this.peerData.get(id)
    return data ? { id, data } : { id }
  }

  private onJoin(peer: PeerId, data: Uint8Array | undefined): void {
    // "A node that receives a join request will start by adding the new node to its active
    // view, even if it has to drop a random node from it." Then it introduces the joiner to
    // its other active peers by ForwardJoin random walks.
    if (!this.addActive(peer, data, 'high')) return
    this.send(peer, { type: 'neighbor', priority: 'high', data: this.myData })
    const info = { id: peer, data }
    for (const node of this.active.values()) {
      if (node === peer) continue
      this.send(node, {
        type: 'forward-join',
        peer: info,
        ttl: this.config.activeRandomWalkLength,
      })
    }
  }

  private onForwardJoin(sender: PeerId, peer: PeerInfo, ttl: number): void {
    if (peer.id === this.me) return
    if (this.active.has(peer.id)) {
      // Already neighbors.
      this.notePeer(peer)
    } else if (ttl === 0 || this.active.size <= 1) {
      // The walk ends here: ask the joiner to be our neighbor, and take it in when it answers,
      // so that an unreachable joiner is never in our active view.
      this.notePeer(peer)
      this.requestNeighbor(peer.id, 'high')
    } else {
      if (ttl === this.config.passiveRandomWalkLength) this.addPassive(peer)
      if (!this.pending.has(peer.id)) {
        const next = this.active.pick(this.rng, [sender, peer.id])
        if (next !== undefined) this.send(next, { type: 'forward-join', peer, ttl: ttl - 1 })
      }
    }
  }

  /**
   * A Neighbor message is either the answer to our request (or Join), or a request of its own.
   * An answer is taken in without a word; a request is answered with a Neighbor message when
   * accepted, and with a Disconnect when refused (a low-priority request to a full view).
   */
  private onNeighbor(from: PeerId, priority: 'high' | 'low', data: Uint8Array | undefined): void {
    const isAnswer = this.pending.delete(from)
    const wasActive = this.active.has(from)
    if (!this.addActive(from, data, isAnswer ? 'high' : priority)) {
      this.sendDisconnect(from, true)
    } else if (!isAnswer && !wasActive) {
      this.send(from, { type: 'neighbor', priority, data: this.myData })
    }
  }

  private onDisconnect(peer: PeerId, alive: boolean): void {
    this.pending.delete(peer)
    if (this.active.has(peer)) {
      this.removeActive(peer, { disconnected: { alive } })
    } else if (alive && this.passive.has(peer)) {
      this.aliveDisconnected.add(peer)
    }
  }

  private onShuffle(from: PeerId, origin: PeerId, nodes: PeerInfo[], ttl: number): void {
    if (ttl === 0 || this.active.size <= 1) {
      for (const node of nodes) this.addPassive(node)
      this.sendShuffleReply(origin, nodes.length)
    } else {
      const next = this.active.pick(this.rng, [origin, from])
      if (next !== undefined) this.send(next, { type: 'shuffle', origin, nodes, ttl: ttl - 1 })
    }
  }

  private onShuffleReply(nodes: PeerInfo[]): void {
    for (const node of nodes) this.addPassive(node)
    this.refillActive([])
  }

  private sendShuffleReply(to: PeerId, count: number): void {
    if (to === this.me) return
    const ids = this.passive.sample(this.rng, count, [to])
    if (ids.length < count) ids.push(...this.active.sample(this.rng, count - ids.length, [to]))
    this.send(to, { type: 'shuffle-reply', nodes: ids.map((id) => this.info(id)) })
  }

  private sendDisconnect(peer: PeerId, alive: boolean): void {
    // Some peers first, so that a peer we turn away (a fresh joiner, often) is not left alone.
    this.sendShuffleReply(
      peer,
      this.config.shuffleActiveViewCount + this.config.shufflePassiveViewCount,
    )
    this.send(peer, { type: 'disconnect', alive })
    this.out.push({ type: 'disconnect', peer })
  }

  /** Asks `peer` to be our neighbor; its answer is a Neighbor (yes) or a Disconnect (no). */
  private requestNeighbor(peer: PeerId, priority: 'high' | 'low'): void {
    if (this.pending.has(peer)) return
    this.pending.add(peer)
    this.send(peer, { type: 'neighbor', priority, data: this.myData })
  }

  private notePeer(peer: PeerInfo): void {
    if (!peer.data || peer.data.length === 0) return
    const old = this.peerData.get(peer.id)
    if (!old || !equalBytes(old, peer.data)) {
      this.out.push({ type: 'peer-data', peer: peer.id, data: peer.data })
    }
    this.peerData.set(peer.id, peer.data)
  }

  private addPassive(peer: PeerInfo): void {
    this.notePeer(peer)
    if (peer.id === this.me || this.active.has(peer.id) || this.passive.has(peer.id)) return
    if (this.passive.size >= this.config.passiveViewCapacity) {
      const victim = this.passive.pick(this.rng)
      if (victim !== undefined) this.passive.delete(victim)
    }
    this.passive.add(peer.id)
  }

  /**
   * Takes `peer` into the active view; a high priority makes room by dropping a random
   * neighbor, a low one only fills a free place.
   * @returns whether `peer` is (now) in the active view.
   */
  private addActive(peer: PeerId, data: Uint8Array | undefined, priority: 'high' | 'low'): boolean {
    if (peer === this.me) return false
    this.notePeer({ id: peer, data })
    if (this.active.has(peer)) return true
    const full = this.active.size >= this.config.activeViewCapacity
    if (priority === 'low' && full) return false
    if (full) {
      const victim = this.active.pick(this.rng)
      if (victim !== undefined) this.removeActive(victim, 'random', false)
    }
    this.passive.delete(peer)
    this.active.add(peer)
    this.out.push({ type: 'event', event: { type: 'neighbor-up', peer } })
    return true
  }

  private removeActive(peer: PeerId, reason: Removal, refill = true): void {
    if (!this.active.delete(peer)) return
    this.out.push({ type: 'event', event: { type: 'neighbor-down', peer } })
    if (reason === 'random') this.sendDisconnect(peer, true)
    else this.out.push({ type: 'disconnect', peer })
    const keep =
      reason === 'random'
        ? true
        : reason === 'closed'
          ? this.aliveDisconnected.delete(peer)
          : reason.disconnected.alive
    if (keep) {
      this.addPassive(this.info(peer))
      if (reason !== 'closed') this.aliveDisconnected.add(peer)
    }
    if (refill) this.refillActive([peer])
  }

  /**
   * "When a node p suspects that one of the nodes present in its active view has failed, it
   * selects a random node q from its passive view and attempts to establish a connection with
   * q" — one request at a time, each with a timeout.
   */
  private refillActive(skip: PeerId[]): void {
    if (this.active.size + this.pending.size >= this.config.activeViewCapacity) return
    const node = this.passive.pick(this.rng, [...skip, ...this.pending])
    if (node === undefined) return
    this.requestNeighbor(node, this.active.size === 0 ? 'high' : 'low')
    this.out.push({
      type: 'timer',
      delayMs: this.config.neighborRequestTimeoutMs,
      timer: { kind: 'neighbor-request', peer: node },
    })
  }
}
