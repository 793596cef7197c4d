/**
 * The protocol's parameters. The defaults are iroh-gossip's (themselves mostly from the
 * HyParView and PlumTree papers), kept where `bench/gossip.ts` gave no reason to change them.
 */

/** HyParView membership parameters. */
export interface MembershipConfig {
  /** Peers kept connected (the active view). */
  activeViewCapacity: number
  /** Peers remembered but not connected (the passive view). */
  passiveViewCapacity: number
  /** Hops a ForwardJoin walks before the joiner is taken into an active view (ARWL). */
  activeRandomWalkLength: number
  /** At this remaining TTL a ForwardJoin puts the joiner into a passive view (PRWL). */
  passiveRandomWalkLength: number
  /** Hops a Shuffle walks before it is answered. */
  shuffleRandomWalkLength: number
  /** Active peers sent in a Shuffle. */
  shuffleActiveViewCount: number
  /** Passive peers sent in a Shuffle. */
  shufflePassiveViewCount: number
  /** Milliseconds between two Shuffles. */
  shuffleIntervalMs: number
  /** Milliseconds after which an unanswered Neighbor request counts as refused. */
  neighborRequestTimeoutMs: number
}

/** PlumTree broadcast parameters. */
export interface BroadcastConfig {
  /** Milliseconds to wait, after an IHave, for the message to arrive eagerly before a Graft. */
  graftTimeout1Ms: number
  /** Milliseconds to wait after a Graft before asking the next peer that had the message. */
  graftTimeout2Ms: number
  /** Milliseconds IHaves are gathered before they are sent, so that they share frames. */
  dispatchTimeoutMs: number
  /** Hops an IHave must beat the eager path by for the tree to be rebuilt around it. */
  optimizationThreshold: number
  /** Milliseconds a message is kept to answer Grafts. */
  messageCacheMs: number
  /** Milliseconds a message id is remembered, so the message is delivered only once. */
  messageIdRetentionMs: number
  /** Milliseconds between two sweeps of the caches above. */
  cacheEvictIntervalMs: number
}

/** Everything a topic's state machine is configured with. */
export interface GossipConfig {
  membership: MembershipConfig
  broadcast: BroadcastConfig
  /** The largest broadcast content in bytes. */
  maxMessageBytes: number
}

/** HyParView's defaults: iroh-gossip's, from the paper. */
export const defaultMembershipConfig: Readonly<MembershipConfig> = Object.freeze({
  activeViewCapacity: 5,
  passiveViewCapacity: 30,
  activeRandomWalkLength: 6,
  passiveRandomWalkLength: 3,
  shuffleRandomWalkLength: 6,
  shuffleActiveViewCount: 3,
  shufflePassiveViewCount: 4,
  shuffleIntervalMs: 60_000,
  neighborRequestTimeoutMs: 500,
})

/** PlumTree's defaults: iroh-gossip's. */
export const defaultBroadcastConfig: Readonly<BroadcastConfig> = Object.freeze({
  graftTimeout1Ms: 80,
  graftTimeout2Ms: 40,
  dispatchTimeoutMs: 5,
  optimizationThreshold: 7,
  messageCacheMs: 30_000,
  messageIdRetentionMs: 90_000,
  cacheEvictIntervalMs: 1_000,
})

/** The largest broadcast content by default, in bytes. */
export const defaultMaxMessageBytes = 4096

/** `partial` over the defaults. */
export function gossipConfig(
  partial: {
    membership?: Partial<MembershipConfig>
    broadcast?: Partial<BroadcastConfig>
    maxMessageBytes?: number
  } = {},
): GossipConfig {
  const config: GossipConfig = {
    membership: { ...defaultMembershipConfig, ...partial.membership },
    broadcast: { ...defaultBroadcastConfig, ...partial.broadcast },
    maxMessageBytes: partial.maxMessageBytes ?? defaultMaxMessageBytes,
  }
  for (const [name, value] of Object.entries({
    ...config.membership,
    ...config.broadcast,
    maxMessageBytes: config.maxMessageBytes,
  })) {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new RangeError(`gossip config ${name} must be a non-negative integer`)
    }
  }
  if (config.membership.activeViewCapacity < 1) {
    throw new RangeError('gossip config activeViewCapacity must be at least 1')
  }
  if (config.maxMessageBytes > 65536) {
    throw new RangeError('gossip config maxMessageBytes must be at most 65536')
  }
  return config
}
