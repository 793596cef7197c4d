/**
 * The wire form of gossip messages (PROTOCOL.md, "Frames"): one frame per message, a 32-byte
 * topic id, a kind byte and the kind's fields. Decoding is strict — every count and length has
 * a hard limit, booleans are 0 or 1, nothing may trail — and fails with a `DecodeError`.
 */
import { ByteReader, ByteWriter, DecodeError } from '@ferry/core'
import type { IHaveEntry, Message, PeerInfo } from './messages.js'
import { maxIHaveEntries } from './plumtree.js'
import { fromHex, toHex } from './util.js'

/** Hard limits of the frame format. */
export const frameLimits = Object.freeze({
  /** Bytes of the data a peer travels with (its ticket). */
  maxPeerDataBytes: 512,
  /** Peers in a Shuffle or ShuffleReply. */
  maxNodes: 16,
  /** Entries in one IHave. */
  maxIHaveEntries,
  /** The largest TTL of a random walk. */
  maxTtl: 255,
  /** The largest hop count (round) of a broadcast. */
  maxRound: 65535,
} as const)

/** Frame bytes beyond the content: room for the largest non-content frame as well. */
export const frameOverheadBytes = 1024

/** The largest frame body for a content limit of `maxMessageBytes`. */
export function maxFrameBytes(maxMessageBytes: number): number {
  return maxMessageBytes + frameOverheadBytes
}

const kinds = {
  join: 0x01,
  'forward-join': 0x02,
  shuffle: 0x03,
  'shuffle-reply': 0x04,
  neighbor: 0x05,
  disconnect: 0x06,
  gossip: 0x10,
  prune: 0x11,
  graft: 0x12,
  ihave: 0x13,
} as const satisfies Record<Message['type'], number>

const idBytes = 32

/** Encodes one message of `topic` as a frame body. */
export function encodeFrame(topic: Uint8Array, message: Message): Uint8Array<ArrayBuffer> {
  if (topic.length !== idBytes) throw new RangeError('a topic id is 32 bytes')
  const w = new ByteWriter(64 + (message.type === 'gossip' ? message.content.length : 0))
  w.bytes(topic).u8(kinds[message.type])
  switch (message.type) {
    case 'join':
      writeData(w, message.data)
      break
    case 'forward-join':
      writePeer(w, message.peer)
      w.u8(checkTtl(message.ttl))
      break
    case 'shuffle':
      w.bytes(peerBytes(message.origin)).u8(checkTtl(message.ttl))
      writeNodes(w, message.nodes)
      break
    case 'shuffle-reply':
      writeNodes(w, message.nodes)
      break
    case 'neighbor':
      w.u8(message.priority === 'high' ? 1 : 0)
      writeData(w, message.data)
      break
    case 'disconnect':
      w.u8(message.alive ? 1 : 0)
      break
    case 'gossip':
      w.bytes(checkId(message.id))
      if (message.round === undefined) w.u8(0)
      else w.u8(1).varint(checkRound(message.round))
      w.lengthPrefixed(message.content)
      break
    case 'prune':
      break
    case 'graft':
      if (message.id) w.u8(1).bytes(checkId(message.id))
      else w.u8(0)
      w.varint(checkRound(message.round))
      break
    case 'ihave':
      if (message.entries.length === 0 || message.entries.length > maxIHaveEntries) {
        throw new RangeError(`an IHave carries 1 to ${maxIHaveEntries} entries`)
      }
      w.varint(message.entries.length)
      for (const e of message.entries) w.bytes(checkId(e.id)).varint(checkRound(e.round))
      break
  }
  return w.finish()
}

/**
 * Decodes a frame body.
 * @param maxMessageBytes - The largest broadcast content accepted.
 * @throws {DecodeError} `TRUNCATED`, `TOO_LARGE`, `INVALID` (a boolean or count out of range),
 *   `UNKNOWN_VERSION` (an unknown kind), `TRAILING_BYTES`.
 */
export function decodeFrame(
  body: Uint8Array,
  maxMessageBytes: number,
): { topic: Uint8Array; message: Message } {
  const r = new ByteReader(body)
  const topic = r.bytes(idBytes)
  const kind = r.u8()
  let message: Message
  switch (kind) {
    case kinds.join:
      message = { type: 'join', ...readData(r) }
      break
    case kinds['forward-join']:
      message = { type: 'forward-join', peer: readPeer(r), ttl: r.u8() }
      break
    case kinds.shuffle: {
      const origin = toHex(r.bytes(idBytes))
      const ttl = r.u8()
      message = { type: 'shuffle', origin, ttl, nodes: readNodes(r) }
      break
    }
    case kinds['shuffle-reply']:
      message = { type: 'shuffle-reply', nodes: readNodes(r) }
      break
    case kinds.neighbor:
      message = { type: 'neighbor', priority: readBool(r) ? 'high' : 'low', ...readData(r) }
      break
    case kinds.disconnect:
      message = { type: 'disconnect', alive: readBool(r) }
      break
    case kinds.gossip: {
      const id = r.bytes(idBytes)
      const round = readBool(r) ? readRound(r) : undefined
      const content = r.lengthPrefixed(maxMessageBytes)
      message = { type: 'gossip', id, round, content }
      break
    }
    case kinds.prune:
      message = { type: 'prune' }
      break
    case kinds.graft: {
      const id = readBool(r) ? r.bytes(idBytes) : undefined
      message = { type: 'graft', id, round: readRound(r) }
      break
    }
    case kinds.ihave: {
      const count = r.varint()
      if (count === 0 || count > maxIHaveEntries) {
        throw new DecodeError(count === 0 ? 'INVALID' : 'TOO_LARGE', `an IHave of ${count} entries`)
      }
      const entries: IHaveEntry[] = []
      for (let i = 0; i < count; i++) entries.push({ id: r.bytes(idBytes), round: readRound(r) })
      message = { type: 'ihave', entries }
      break
    }
    default:
      throw new DecodeError('UNKNOWN_VERSION', `unknown gossip message kind 0x${kind.toString(16)}`)
  }
  r.end()
  return { topic, message }
}

function checkTtl(ttl: number): number {
  if (!Number.isInteger(ttl) || ttl < 0 || ttl > frameLimits.maxTtl) {
    throw new RangeError(`a TTL is 0 to ${frameLimits.maxTtl}`)
  }
  return ttl
}

function checkRound(round: number): number {
  if (!Number.isInteger(round) || round < 0 || round > frameLimits.maxRound) {
    throw new RangeError(`a round is 0 to ${frameLimits.maxRound}`)
  }
  return round
}

function checkId(id: Uint8Array): Uint8Array {
  if (id.length !== idBytes) throw new RangeError('a message id is 32 bytes')
  return id
}

function peerBytes(id: string): Uint8Array {
  if (!/^[0-9a-f]{64}$/.test(id)) throw new RangeError('a peer id is 64 lowercase hex digits')
  return fromHex(id)
}

function writeData(w: ByteWriter, data: Uint8Array | undefined): void {
  const bytes = data ?? new Uint8Array(0)
  if (bytes.length > frameLimits.maxPeerDataBytes) {
    throw new RangeError(`peer data is at most ${frameLimits.maxPeerDataBytes} bytes`)
  }
  w.lengthPrefixed(bytes)
}

function writePeer(w: ByteWriter, peer: PeerInfo): void {
  w.bytes(peerBytes(peer.id))
  writeData(w, peer.data)
}

function writeNodes(w: ByteWriter, nodes: PeerInfo[]): void {
  if (nodes.length > frameLimits.maxNodes) {
    throw new RangeError(`at most ${frameLimits.maxNodes} peers in a shuffle`)
  }
  w.varint(nodes.length)
  for (const node of nodes) writePeer(w, node)
}

function readBool(r: ByteReader): boolean {
  const b = r.u8()
  if (b > 1) throw new DecodeError('INVALID', `a flag byte of ${b}`)
  return b === 1
}

function readRound(r: ByteReader): number {
  const round = r.varint()
  if (round > frameLimits.maxRound) throw new DecodeError('TOO_LARGE', `a round of ${round}`)
  return round
}

/** Peer data; empty on the wire means none. */
function readData(r: ByteReader): { data?: Uint8Array } {
  const data = r.lengthPrefixed(frameLimits.maxPeerDataBytes)
  return data.length === 0 ? {} : { data }
}

function readPeer(r: ByteReader): PeerInfo {
  const id = toHex(r.bytes(idBytes))
  return { id, ...readData(r) }
}

function readNodes(r: ByteReader): PeerInfo[] {
  const count = r.varint()
  if (count > frameLimits.maxNodes)
    throw new DecodeError('TOO_LARGE', `${count} peers in a shuffle`)
  const nodes: PeerInfo[] = []
  for (let i = 0; i < count; i++) nodes.push(readPeer(r))
  return nodes
}
