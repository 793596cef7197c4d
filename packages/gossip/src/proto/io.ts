/** What the state machines ask of the layer that runs them, and what they tell it. */
import type { Message, PeerId } from './messages.js'

/** Timers the state machines set; the runner hands each back as an input when it fires. */
export type Timer =
  | { kind: 'shuffle' }
  | { kind: 'neighbor-request'; peer: PeerId }
  | { kind: 'graft'; id: string }
  | { kind: 'dispatch-ihave' }
  | { kind: 'evict' }

/** What the application hears from a topic's state machine. */
export type ProtoEvent =
  | { type: 'neighbor-up'; peer: PeerId }
  | { type: 'neighbor-down'; peer: PeerId }
  /** `round`: hops from the publisher, `undefined` for a neighbors-only broadcast. */
  | { type: 'received'; content: Uint8Array; from: PeerId; round: number | undefined }

/** One instruction to the runner. */
export type Output =
  | { type: 'send'; to: PeerId; message: Message }
  | { type: 'timer'; delayMs: number; timer: Timer }
  /** Close the connection to `peer` for this topic (after sending what was queued for it). */
  | { type: 'disconnect'; peer: PeerId }
  | { type: 'event'; event: ProtoEvent }
  /** `peer` travels with this data (its address): the runner may use it to dial the peer. */
  | { type: 'peer-data'; peer: PeerId; data: Uint8Array }
