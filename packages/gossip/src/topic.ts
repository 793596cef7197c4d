/** The application's handle on one subscribed topic. */
import type { ConnectTarget, EndpointId } from '@ferry/core'

/** A broadcast arrived. */
export interface ReceivedEvent {
  /** The event's kind. */
  type: 'received'
  /** The message, as its author broadcast it. */
  content: Uint8Array
  /** The neighbor it came from: not necessarily its author. */
  from: EndpointId
  /** `swarm` for `broadcast`, `neighbors` for `broadcastNeighbors` (not passed on). */
  scope: 'swarm' | 'neighbors'
}

/** A peer joined or left this endpoint's neighbors (its active view). */
export interface NeighborEvent {
  /** The event's kind. */
  type: 'neighbor-up' | 'neighbor-down'
  /** The neighbor. */
  peer: EndpointId
}

/** The subscriber fell behind, and the oldest events were dropped. */
export interface LaggedEvent {
  /** The event's kind. */
  type: 'lagged'
  /** How many events were dropped. */
  missed: number
}

/** What a topic tells its subscriber. */
export type TopicEvent = ReceivedEvent | NeighborEvent | LaggedEvent

/** What a {@link Topic} needs from the gossip instance that made it. */
export interface TopicHost {
  broadcast(content: Uint8Array, scope: 'swarm' | 'neighbors'): void
  joinPeers(peers: ConnectTarget[]): void
  neighbors(): EndpointId[]
  leave(): Promise<void>
}

/**
 * One topic's swarm as the application sees it: broadcast to it, and read its events with
 * `for await (const event of topic)`. Events wait in a bounded queue (`eventQueue` of
 * {@link GossipOptions}); a subscriber that falls behind misses the oldest ones and is told so
 * by a `lagged` event, so a slow reader never makes memory grow.
 */
export class Topic implements AsyncIterable<TopicEvent> {
  private readonly queue: TopicEvent[] = []
  private missed = 0
  private waiter: (() => void) | undefined
  private ended = false
  private joinedWaiters: (() => void)[] = []
  private endedError: Error | undefined

  /** @internal */
  constructor(
    /** The 32-byte topic id. */
    readonly id: Uint8Array,
    private readonly host: TopicHost,
    private readonly maxQueued: number,
  ) {}

  /** The peers this endpoint is connected to in the topic (its active view). */
  get neighbors(): EndpointId[] {
    return this.host.neighbors()
  }

  /**
   * Resolves once the topic has at least one neighbor.
   * @throws {Error} if the topic is closed first.
   */
  joined(): Promise<void> {
    if (this.neighbors.length > 0) return Promise.resolve()
    if (this.ended) return Promise.reject(this.endedError ?? new Error('topic closed'))
    return new Promise((resolve, reject) => {
      this.joinedWaiters.push(() => (this.ended ? reject(new Error('topic closed')) : resolve()))
    })
  }

  /**
   * Sends `content` to every peer in the topic. Duplicates (the same bytes again within the
   * message-id retention, 90 s by default) are delivered once: add a nonce to repeat a message.
   * @throws {RangeError} when `content` is above `maxMessageBytes` (4096 by default).
   * @throws {Error} after `close()`.
   */
  broadcast(content: Uint8Array): void {
    this.throwIfEnded()
    this.host.broadcast(content, 'swarm')
  }

  /** Sends `content` to the current neighbors only; they do not pass it on. */
  broadcastNeighbors(content: Uint8Array): void {
    this.throwIfEnded()
    this.host.broadcast(content, 'neighbors')
  }

  /** Joins through more peers (the swarm then merges with theirs). */
  joinPeers(peers: ConnectTarget[]): void {
    this.throwIfEnded()
    this.host.joinPeers(peers)
  }

  /** Leaves the swarm (neighbors are told) and ends the event iteration. Idempotent. */
  async close(): Promise<void> {
    if (this.ended) return
    this.end()
    await this.host.leave()
  }

  /** {@link Topic.close}, for `await using topic = …`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  /** The topic's events, in order; the iteration ends when the topic is closed. */
  async *[Symbol.asyncIterator](): AsyncGenerator<TopicEvent, void, undefined> {
    for (;;) {
      if (this.missed > 0) {
        const missed = this.missed
        this.missed = 0
        yield { type: 'lagged', missed }
        continue
      }
      const event = this.queue.shift()
      if (event) {
        yield event
        continue
      }
      if (this.ended) return
      await new Promise<void>((resolve) => (this.waiter = resolve))
    }
  }

  /** @internal Queues an event; past the bound the oldest is dropped and counted. */
  push(event: TopicEvent): void {
    if (this.ended) return
    if (this.queue.length >= this.maxQueued) {
      this.queue.shift()
      this.missed++
    }
    this.queue.push(event)
    if (event.type === 'neighbor-up') this.wakeJoined()
    this.wake()
  }

  /** @internal Ends the iteration (the topic left, or the gossip instance shut down). */
  end(error?: Error): void {
    if (this.ended) return
    this.ended = true
    this.endedError = error
    this.wakeJoined()
    this.wake()
  }

  private wake(): void {
    const w = this.waiter
    this.waiter = undefined
    w?.()
  }

  private wakeJoined(): void {
    const waiters = this.joinedWaiters
    this.joinedWaiters = []
    for (const w of waiters) w()
  }

  private throwIfEnded(): void {
    if (this.ended) throw new Error('topic closed')
  }
}
