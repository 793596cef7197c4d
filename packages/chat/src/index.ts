/**
 * `@ferry/chat`: the demo chat's room on `@ferry/gossip` — messages signed by their authors and
 * bound to the room, presence (who is here, typing, leaving), recent history for newcomers, and
 * room links. The chat page (`apps/chat`) and `ferry chat` both run it.
 * @module @ferry/chat
 */
export { ChatRoom, type ChatMember, type ChatMessage, type ChatRoomOptions } from './room.js'
export { formatLink, parseLink, type RoomLink } from './link.js'
export {
  chatLimits,
  decodeBroadcast,
  encodeHistory,
  openEnvelope,
  signStatement,
  type MessageStatement,
  type PresenceStatement,
  type Signed,
  type Statement,
} from './protocol.js'
