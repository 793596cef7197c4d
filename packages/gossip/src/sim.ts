/**
 * `@ferry/gossip/sim`: the gossip state machines on a simulated network, deterministic by seed,
 * to test a swarm or choose parameters without real connections.
 * @module @ferry/gossip/sim
 */
export {
  Simulation,
  type DeliveryReport,
  type SimPeer,
  type SimulationOptions,
} from './proto/sim.js'
export { TopicState } from './proto/topic.js'
export type { Output, ProtoEvent, Timer } from './proto/io.js'
export type { Message, PeerId, PeerInfo } from './proto/messages.js'
