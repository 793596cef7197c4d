/**
 * A room link: `#<room id, 64 hex digits>.<the inviter's EndpointId>`. The room id names the
 * gossip topic; the inviter is the peer a newcomer joins through (found via the relay).
 */
import { PublicKey } from '@ferry/core'

/** What a room link holds. */
export interface RoomLink {
  /** The room's 32-byte id. */
  room: Uint8Array
  /** The peer to join through. */
  via: PublicKey
}

/** The hash part of a room link (without `#`). */
export function formatLink(link: RoomLink): string {
  const hex = [...link.room].map((b) => b.toString(16).padStart(2, '0')).join('')
  return `${hex}.${link.via.toString()}`
}

/** Parses a link's hash part (with or without `#`, or a whole URL); `undefined` if malformed. */
export function parseLink(text: string): RoomLink | undefined {
  const hash = text.includes('#') ? text.slice(text.indexOf('#') + 1) : text
  const match = /^([0-9a-f]{64})\.([a-z2-7]+)$/.exec(hash.trim())
  if (!match) return undefined
  try {
    const room = Uint8Array.from(match[1]!.match(/../g)!.map((b) => parseInt(b, 16)))
    return { room, via: PublicKey.fromString(match[2]!) }
  } catch {
    return undefined
  }
}
