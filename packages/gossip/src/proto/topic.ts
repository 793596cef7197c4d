/**
 * One topic's swarm: HyParView membership feeding PlumTree broadcast. The runner (`gossip.ts`
 * over real connections, `sim.ts` over a simulated network) hands it inputs and carries out
 * the {@link Output}s each one returns.
 */
import type { GossipConfig } from './config.js'
import { Membership } from './hyparview.js'
import type { Output, Timer } from './io.js'
import {
  membershipTypes,
  type BroadcastMessage,
  type MembershipMessage,
  type Message,
  type PeerId,
} from './messages.js'
import { Broadcast } from './plumtree.js'
import type { Rng } from './util.js'

export class TopicState {
  private readonly membership: Membership
  private readonly broadcastState: Broadcast
  private out: Output[] = []
  private quit = false

  constructor(
    readonly me: PeerId,
    data: Uint8Array | undefined,
    readonly config: GossipConfig,
    rng: Rng,
  ) {
    // Both halves push into the same list, read back through `take()`.
    const sink: Output[] = []
    this.out = sink
    this.membership = new Membership(me, data, config.membership, rng, sink)
    this.broadcastState = new Broadcast(config.broadcast, sink)
  }

  /** Active-view peers: the neighbors. */
  get neighbors(): readonly PeerId[] {
    return this.membership.active.values()
  }

  /** Passive-view peers. */
  get passive(): readonly PeerId[] {
    return this.membership.passive.values()
  }

  /** The tree's eager and lazy links (for tests and stats). */
  get tree(): { eager: ReadonlySet<PeerId>; lazy: ReadonlySet<PeerId> } {
    return { eager: this.broadcastState.eager, lazy: this.broadcastState.lazy }
  }

  /** The largest hop count a broadcast reached this peer at. */
  get maxDeliveryRound(): number {
    return this.broadcastState.maxDeliveryRound
  }

  /** What the peer travels with, if known. */
  peerData(peer: PeerId): Uint8Array | undefined {
    return this.membership.dataOf(peer)
  }

  join(peer: PeerId): Output[] {
    if (!this.quit) this.membership.join(peer)
    return this.take()
  }

  broadcast(content: Uint8Array, scope: 'swarm' | 'neighbors', now: number): Output[] {
    if (content.length > this.config.maxMessageBytes) {
      throw new RangeError(
        `a gossip message is at most ${this.config.maxMessageBytes} bytes, not ${content.length}`,
      )
    }
    if (!this.quit) this.broadcastState.broadcast(content, scope, now)
    return this.take()
  }

  receive(from: PeerId, message: Message, now: number): Output[] {
    if (this.quit || from === this.me) return this.take()
    if (membershipTypes.has(message.type)) {
      this.membership.receive(from, message as MembershipMessage)
    } else if (this.membership.active.has(from)) {
      // Broadcast traffic is only taken from neighbors: a peer we dropped may still have
      // messages in flight, and letting it back into the tree would bypass the membership.
      this.broadcastState.receive(from, message as BroadcastMessage, now)
    }
    return this.take()
  }

  /** The connection to `peer` ended, or could not be made. */
  connectionClosed(peer: PeerId): Output[] {
    if (!this.quit) this.membership.connectionClosed(peer)
    return this.take()
  }

  timer(timer: Timer, now: number): Output[] {
    if (this.quit) return this.take()
    switch (timer.kind) {
      case 'shuffle':
        this.membership.shuffleTimer()
        break
      case 'neighbor-request':
        this.membership.neighborRequestTimer(timer.peer)
        break
      case 'graft':
        this.broadcastState.graftTimer(timer.id)
        break
      case 'dispatch-ihave':
        this.broadcastState.dispatchTimer()
        break
      case 'evict':
        this.broadcastState.evictTimer(now)
        break
    }
    return this.take()
  }

  /** Leaves the swarm: neighbors are told, and nothing more is done. */
  leave(): Output[] {
    if (!this.quit) {
      this.membership.quit()
      this.quit = true
    }
    return this.take()
  }

  /**
   * Drains the outputs, keeping the two halves in step: every neighbor change the membership
   * announces is passed to the broadcast tree before the runner sees it.
   */
  private take(): Output[] {
    const taken: Output[] = []
    while (this.out.length > 0) {
      const batch = this.out.splice(0)
      for (const o of batch) {
        taken.push(o)
        if (o.type !== 'event') continue
        if (o.event.type === 'neighbor-up') this.broadcastState.neighborUp(o.event.peer)
        else if (o.event.type === 'neighbor-down') this.broadcastState.neighborDown(o.event.peer)
      }
    }
    return taken
  }
}
