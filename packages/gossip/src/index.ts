/**
 * `@ferry/gossip`: topic broadcast on ferry — HyParView membership and PlumTree broadcast,
 * one swarm per 32-byte topic id, the same module in browsers and Node. Wire format and
 * parameters: PROTOCOL.md.
 * @module @ferry/gossip
 */
export { Gossip, GOSSIP_ALPN, type GossipOptions } from './gossip.js'
export {
  Topic,
  type LaggedEvent,
  type NeighborEvent,
  type ReceivedEvent,
  type TopicEvent,
} from './topic.js'
export { topicId } from './topic-id.js'
export type { BroadcastConfig, MembershipConfig } from './proto/config.js'
export {
  defaultBroadcastConfig,
  defaultMembershipConfig,
  defaultMaxMessageBytes,
} from './proto/config.js'
