/**
 * PlumTree broadcast (Leitão, Pereira, Rodrigues, SRDS 2007): messages are pushed eagerly along
 * a spanning tree of the active view and announced lazily (IHave) to the other neighbors; a
 * duplicate prunes its link from the tree, and a message announced but not received grafts the
 * announcer into it. Follows iroh-gossip's state machine, with its tree optimisation.
 *
 * A sans-IO state machine, like `hyparview.ts`.
 */
import { equalBytes } from '@ferry/wire'
import { blake3 } from '@noble/hashes/blake3.js'
import type { BroadcastConfig } from './config.js'
import type { Output } from './io.js'
import type { BroadcastMessage, IHaveEntry, PeerId } from './messages.js'
import { ExpiringMap, fromHex, toHex } from './util.js'

/** The id of a message: the BLAKE3 hash of its content. */
export function messageId(content: Uint8Array): Uint8Array<ArrayBuffer> {
  return blake3(content)
}

/** IHave entries per frame, so that an IHave stays far below the frame limit. */
export const maxIHaveEntries = 64

type Gossip = Extract<BroadcastMessage, { type: 'gossip' }>

export class Broadcast {
  readonly eager = new Set<PeerId>()
  readonly lazy = new Set<PeerId>()
  private readonly lazyQueue = new Map<PeerId, IHaveEntry[]>()
  /** Messages announced to us and not received: who announced them, first first. */
  private readonly missing = new Map<string, { peer: PeerId; round: number }[]>()
  private readonly received: ExpiringMap<string, true>
  private readonly cache: ExpiringMap<string, Gossip>
  private readonly graftScheduled = new Set<string>()
  private dispatchScheduled = false
  private evictScheduled = false
  /** The largest hop count a message reached us at. */
  maxDeliveryRound = 0

  constructor(
    private readonly config: BroadcastConfig,
    private readonly out: Output[],
  ) {
    this.received = new ExpiringMap()
    this.cache = new ExpiringMap()
  }

  /** Messages whose ids are remembered (for tests and stats). */
  get seenCount(): number {
    return this.received.size
  }

  neighborUp(peer: PeerId): void {
    this.lazy.delete(peer)
    this.eager.add(peer)
  }

  neighborDown(peer: PeerId): void {
    for (const [id, announcers] of this.missing) {
      const rest = announcers.filter((a) => a.peer !== peer)
      if (rest.length === 0) this.missing.delete(id)
      else this.missing.set(id, rest)
    }
    this.eager.delete(peer)
    this.lazy.delete(peer)
    this.lazyQueue.delete(peer)
  }

  /** Publishes `content` to the whole swarm, or to the neighbors only. */
  broadcast(content: Uint8Array, scope: 'swarm' | 'neighbors', now: number): void {
    this.scheduleEvict()
    const id = messageId(content)
    if (scope === 'neighbors') {
      const message: Gossip = { type: 'gossip', id, content, round: undefined }
      for (const peer of [...this.eager, ...this.lazy]) this.send(peer, message)
      return
    }
    const message: Gossip = { type: 'gossip', id, content, round: 0 }
    const key = toHex(id)
    this.received.set(key, true, now + this.config.messageIdRetentionMs)
    this.cache.set(key, message, now + this.config.messageCacheMs)
    this.eagerPush(message, undefined)
    this.lazyPush(message, undefined)
  }

  receive(from: PeerId, message: BroadcastMessage, now: number): void {
    this.scheduleEvict()
    switch (message.type) {
      case 'gossip':
        return this.onGossip(from, message, now)
      case 'prune':
        return this.addLazy(from)
      case 'ihave':
        return this.onIHave(from, message.entries)
      case 'graft':
        return this.onGraft(from, message.id)
    }
  }

  graftTimer(key: string): void {
    this.graftScheduled.delete(key)
    if (this.received.has(key)) return
    const announcers = this.missing.get(key)
    const next = announcers?.shift()
    if (!next) return
    if (announcers!.length === 0) this.missing.delete(key)
    this.addEager(next.peer)
    this.send(next.peer, { type: 'graft', id: fromHex(key), round: next.round })
    // "another timer is started to expire after a certain timeout, to ensure that the message
    // will be requested to another neighbor if it is not received meanwhile"
    this.graftScheduled.add(key)
    this.out.push({
      type: 'timer',
      delayMs: this.config.graftTimeout2Ms,
      timer: { kind: 'graft', id: key },
    })
  }

  dispatchTimer(): void {
    this.dispatchScheduled = false
    for (const [peer, entries] of this.lazyQueue) {
      for (let i = 0; i < entries.length; i += maxIHaveEntries) {
        this.send(peer, { type: 'ihave', entries: entries.slice(i, i + maxIHaveEntries) })
      }
    }
    this.lazyQueue.clear()
  }

  evictTimer(now: number): void {
    this.evictScheduled = false
    this.cache.expire(now)
    this.received.expire(now)
    if (this.received.size > 0) this.scheduleEvict()
  }

  private scheduleEvict(): void {
    if (this.evictScheduled) return
    this.evictScheduled = true
    this.out.push({
      type: 'timer',
      delayMs: this.config.cacheEvictIntervalMs,
      timer: { kind: 'evict' },
    })
  }

  private send(to: PeerId, message: BroadcastMessage): void {
    this.out.push({ type: 'send', to, message })
  }

  private onGossip(from: PeerId, message: Gossip, now: number): void {
    // The id must be the content's hash: an id is what duplicates are recognised by.
    const id = messageId(message.content)
    if (!equalBytes(id, message.id)) return
    const key = toHex(id)
    if (this.received.has(key)) {
      // A duplicate: the link it came by is not needed in the tree.
      this.addLazy(from)
      this.send(from, { type: 'prune' })
      return
    }
    if (message.round !== undefined) {
      this.received.set(key, true, now + this.config.messageIdRetentionMs)
      const next: Gossip = { ...message, round: message.round + 1 }
      this.cache.set(key, next, now + this.config.messageCacheMs)
      this.eagerPush(next, from)
      this.lazyPush(next, from)
      this.graftScheduled.delete(key)
      const announcers = this.missing.get(key)
      this.missing.delete(key)
      if (announcers) this.optimizeTree(from, next.round!, announcers)
      this.maxDeliveryRound = Math.max(this.maxDeliveryRound, message.round)
    }
    this.out.push({
      type: 'event',
      event: { type: 'received', content: message.content, from, round: message.round },
    })
  }

  /**
   * If a peer announced the message many hops earlier than it came eagerly, the tree is rebuilt
   * around that peer: it is grafted, and the eager sender pruned.
   */
  private optimizeTree(
    sender: PeerId,
    round: number,
    announcers: { peer: PeerId; round: number }[],
  ): void {
    let best = announcers[0]!
    for (const a of announcers) if (a.round < best.round) best = a
    if (best.round < round && round - best.round >= this.config.optimizationThreshold) {
      if (!this.eager.has(best.peer)) {
        this.addEager(best.peer)
        this.send(best.peer, { type: 'graft', id: undefined, round: best.round })
      }
      this.addLazy(sender)
      this.send(sender, { type: 'prune' })
    }
  }

  private onIHave(from: PeerId, entries: IHaveEntry[]): void {
    for (const entry of entries) {
      const key = toHex(entry.id)
      if (this.received.has(key)) continue
      const announcers = this.missing.get(key)
      if (announcers) announcers.push({ peer: from, round: entry.round })
      else this.missing.set(key, [{ peer: from, round: entry.round }])
      if (!this.graftScheduled.has(key)) {
        this.graftScheduled.add(key)
        this.out.push({
          type: 'timer',
          delayMs: this.config.graftTimeout1Ms,
          timer: { kind: 'graft', id: key },
        })
      }
    }
  }

  private onGraft(from: PeerId, id: Uint8Array | undefined): void {
    this.addEager(from)
    if (!id) return
    const message = this.cache.get(toHex(id))
    if (message) this.send(from, message)
  }

  private eagerPush(message: Gossip, from: PeerId | undefined): void {
    for (const peer of this.eager) if (peer !== from) this.send(peer, message)
  }

  private lazyPush(message: Gossip, from: PeerId | undefined): void {
    for (const peer of this.lazy) {
      if (peer === from) continue
      const queue = this.lazyQueue.get(peer)
      const entry = { id: message.id, round: message.round! }
      if (queue) queue.push(entry)
      else this.lazyQueue.set(peer, [entry])
    }
    if (this.lazyQueue.size > 0 && !this.dispatchScheduled) {
      this.dispatchScheduled = true
      this.out.push({
        type: 'timer',
        delayMs: this.config.dispatchTimeoutMs,
        timer: { kind: 'dispatch-ihave' },
      })
    }
  }

  /** Moves a neighbor into the tree; a peer that is not (or no longer) a neighbor stays out. */
  private addEager(peer: PeerId): void {
    if (this.lazy.delete(peer)) this.eager.add(peer)
  }

  /** Moves a neighbor out of the tree, to be sent IHaves only. */
  private addLazy(peer: PeerId): void {
    if (this.eager.delete(peer)) this.lazy.add(peer)
  }
}
