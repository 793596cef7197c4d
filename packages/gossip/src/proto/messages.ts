/**
 * The messages of one topic's swarm, as the state machines see them. Peer ids are the lowercase
 * hex of the 32-byte EndpointId; message ids the BLAKE3 hash of the content. `codec.ts` puts
 * them on the wire.
 */

/** A peer: hex of its 32-byte EndpointId. */
export type PeerId = string

/** A peer and the opaque data it travels with (in ferry: its address, as a ticket). */
export interface PeerInfo {
  id: PeerId
  data?: Uint8Array
}

/** HyParView's messages. */
export type MembershipMessage =
  | { type: 'join'; data?: Uint8Array }
  | { type: 'forward-join'; peer: PeerInfo; ttl: number }
  | { type: 'shuffle'; origin: PeerId; nodes: PeerInfo[]; ttl: number }
  | { type: 'shuffle-reply'; nodes: PeerInfo[] }
  | { type: 'neighbor'; priority: 'high' | 'low'; data?: Uint8Array }
  | { type: 'disconnect'; alive: boolean }

/** One entry of an IHave: a message id and the round it was at. */
export interface IHaveEntry {
  id: Uint8Array
  round: number
}

/** PlumTree's messages. */
export type BroadcastMessage =
  /** `round` is the hop count from the publisher; `undefined` for a neighbors-only message. */
  | { type: 'gossip'; id: Uint8Array; content: Uint8Array; round: number | undefined }
  | { type: 'prune' }
  | { type: 'graft'; id: Uint8Array | undefined; round: number }
  | { type: 'ihave'; entries: IHaveEntry[] }

export type Message = MembershipMessage | BroadcastMessage

export const membershipTypes: ReadonlySet<Message['type']> = new Set([
  'join',
  'forward-join',
  'shuffle',
  'shuffle-reply',
  'neighbor',
  'disconnect',
])
