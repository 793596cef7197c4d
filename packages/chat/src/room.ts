/**
 * A chat room on a gossip topic: signed messages, presence (who is here, typing, leaving) and
 * recent history offered to newcomers. The same module runs in the page and in `ferry chat`.
 */
import type { ConnectTarget, PublicKey, SecretKey } from '@ferry/core'
import type { Gossip, Topic } from '@ferry/gossip'
import {
  chatLimits,
  decodeBroadcast,
  encodeHistory,
  openEnvelope,
  signStatement,
  type Signed,
} from './protocol.js'

/** A message as shown. */
export interface ChatMessage {
  /** A stable id, the same at every member. */
  id: string
  /** Who wrote and signed it. */
  author: PublicKey
  /** The message. */
  text: string
  /** Milliseconds since 1970, by the author's clock. */
  time: number
  /** Whether this endpoint wrote it. */
  mine: boolean
}

/** Someone in the room. */
export interface ChatMember {
  /** Their EndpointId. */
  id: PublicKey
  /** The name they chose. */
  nickname: string
  /** Whether they are typing. */
  typing: boolean
  /** When their last presence came, by our clock. */
  seenAt: number
}

/** Options of {@link ChatRoom.open}. */
export interface ChatRoomOptions {
  /** The room's 32-byte id (its gossip topic). */
  room: Uint8Array
  /** Peers to join through: the room link's. */
  bootstrap: ConnectTarget[]
  /** How the others see this endpoint (at most 64 bytes of UTF-8). */
  nickname: string
  /** Milliseconds between presence announcements. Default 10 000; absent for 3 of them = gone. */
  presenceIntervalMs?: number
  /** Messages kept. Default 500. */
  maxMessages?: number
}

/** Messages offered to a newcomer: the most recent ones. */
const historyOffered = chatLimits.maxHistory
/** Envelope bytes per history broadcast, below gossip's 4096-byte limit. */
const historyBytes = 3800

/**
 * One endpoint's view of a chat room: the messages so far, who is here, and a way to speak.
 * Open it with {@link ChatRoom.open}; follow it with {@link ChatRoom.updates}.
 */
export class ChatRoom {
  /** The messages so far, in time order (the most recent `maxMessages`). */
  readonly messages: ChatMessage[] = []
  private readonly seen = new Set<string>()
  private readonly people = new Map<string, ChatMember>()
  private readonly envelopes = new Map<string, Uint8Array>()
  private nickname: string
  private typingNow = false
  private closed = false
  private changed = false
  private wake: (() => void) | undefined
  private readonly heartbeat: ReturnType<typeof setInterval>
  private readonly presenceIntervalMs: number
  private readonly maxMessages: number
  private readonly running: Promise<void>

  private constructor(
    private readonly key: SecretKey,
    private readonly topic: Topic,
    private readonly room: Uint8Array,
    options: ChatRoomOptions,
  ) {
    this.nickname = options.nickname
    this.presenceIntervalMs = options.presenceIntervalMs ?? 10_000
    this.maxMessages = options.maxMessages ?? 500
    this.people.set(key.publicKey.toString(), {
      id: key.publicKey,
      nickname: this.nickname,
      typing: false,
      seenAt: Date.now(),
    })
    this.heartbeat = setInterval(() => {
      this.expireMembers()
      void this.announce()
    }, this.presenceIntervalMs)
    this.running = this.run()
  }

  /**
   * Joins `options.room` on `gossip` as the holder of `key` (the endpoint's key).
   * @throws {RangeError} for a room id that is not 32 bytes or a nickname above 64 bytes.
   */
  static open(gossip: Gossip, key: SecretKey, options: ChatRoomOptions): ChatRoom {
    if (new TextEncoder().encode(options.nickname).length > chatLimits.maxNicknameBytes) {
      throw new RangeError(`a nickname is at most ${chatLimits.maxNicknameBytes} bytes`)
    }
    const topic = gossip.subscribe(options.room, { bootstrap: options.bootstrap })
    const room = new ChatRoom(key, topic, Uint8Array.from(options.room), options)
    void room.announce()
    return room
  }

  /** This endpoint's id. */
  get me(): PublicKey {
    return this.key.publicKey
  }

  /** Peers this endpoint is directly connected to in the room. */
  get neighbors(): number {
    return this.topic.neighbors.length
  }

  /** Who is here (this endpoint included), by nickname. */
  members(): ChatMember[] {
    return [...this.people.values()].sort((a, b) => a.nickname.localeCompare(b.nickname))
  }

  /** A member's nickname, or the short form of their id. */
  nameOf(id: PublicKey): string {
    return this.people.get(id.toString())?.nickname ?? id.short()
  }

  /** Resolves once the room has a neighbor. */
  joined(): Promise<void> {
    return this.topic.joined()
  }

  /**
   * Sends a message.
   * @throws {RangeError} above 2000 bytes of UTF-8.
   */
  async send(text: string): Promise<ChatMessage> {
    const bytes = await signStatement(this.key, this.room, { kind: 'message', text })
    const signed = await openEnvelope(bytes.subarray(1), this.room)
    const message = this.accept(signed!)!
    this.topic.broadcast(bytes)
    if (this.typingNow) await this.setTyping(false)
    return message
  }

  /** Tells the room whether this endpoint is typing. */
  async setTyping(typing: boolean): Promise<void> {
    if (typing === this.typingNow) return
    this.typingNow = typing
    this.people.get(this.me.toString())!.typing = typing
    await this.announce()
  }

  /** Changes this endpoint's nickname and tells the room. */
  async rename(nickname: string): Promise<void> {
    if (new TextEncoder().encode(nickname).length > chatLimits.maxNicknameBytes) {
      throw new RangeError(`a nickname is at most ${chatLimits.maxNicknameBytes} bytes`)
    }
    this.nickname = nickname
    this.people.get(this.me.toString())!.nickname = nickname
    this.notify()
    await this.announce()
  }

  /**
   * Resolves each time something changed (a message, a member, a neighbor), coalescing changes
   * that come faster than they are read; ends when the room is closed.
   */
  async *updates(): AsyncGenerator<void, void, undefined> {
    for (;;) {
      if (this.changed) {
        this.changed = false
        yield
        continue
      }
      if (this.closed) return
      await new Promise<void>((resolve) => (this.wake = resolve))
    }
  }

  /** Says goodbye to the room and leaves it. */
  async close(): Promise<void> {
    if (this.closed) return
    clearInterval(this.heartbeat)
    await this.announce(true).catch(() => {})
    this.closed = true
    await this.topic.close()
    this.notify()
    await this.running
  }

  /** {@link ChatRoom.close}, for `await using room = …`. */
  async [Symbol.asyncDispose](): Promise<void> {
    await this.close()
  }

  private async announce(leaving = false): Promise<void> {
    if (this.closed) return
    const bytes = await signStatement(this.key, this.room, {
      kind: 'presence',
      nickname: this.nickname,
      typing: this.typingNow,
      leaving,
    })
    if (!this.closed) this.topic.broadcast(bytes)
  }

  private async run(): Promise<void> {
    for await (const event of this.topic) {
      if (event.type === 'received') await this.receive(event.content)
      else if (event.type === 'neighbor-up') {
        // A new neighbor may be a newcomer: offer it the recent messages and our presence.
        this.offerHistory()
        void this.announce()
        this.notify()
      } else if (event.type === 'neighbor-down') {
        // Often the peer has gone (a closed tab says no goodbye): unless its presence comes
        // again within one interval, the next sweep drops it.
        const member = this.people.get(event.peer.toString())
        if (member)
          member.seenAt = Math.min(member.seenAt, Date.now() - 2 * this.presenceIntervalMs)
        this.notify()
      } else this.notify()
    }
  }

  private async receive(content: Uint8Array): Promise<void> {
    let envelopes: Uint8Array[]
    try {
      envelopes = decodeBroadcast(content)
    } catch {
      return // Malformed: dropped.
    }
    for (const envelope of envelopes) {
      let signed: Signed | undefined
      try {
        signed = await openEnvelope(envelope, this.room)
      } catch {
        continue
      }
      if (signed) this.accept(signed)
    }
  }

  /** Takes in a verified statement; returns the message if it is a new one. */
  private accept(signed: Signed): ChatMessage | undefined {
    if (signed.kind === 'presence') {
      const key = signed.author.toString()
      if (signed.author.equals(this.me)) return undefined
      if (signed.leaving) this.people.delete(key)
      else {
        this.people.set(key, {
          id: signed.author,
          nickname: signed.nickname,
          typing: signed.typing,
          seenAt: Date.now(),
        })
      }
      this.notify()
      return undefined
    }
    if (this.seen.has(signed.id)) return undefined
    this.seen.add(signed.id)
    const message: ChatMessage = {
      id: signed.id,
      author: signed.author,
      text: signed.text,
      time: signed.time,
      mine: signed.author.equals(this.me),
    }
    // Kept in time order: history arrives late, and clocks differ.
    let i = this.messages.length
    while (i > 0 && this.messages[i - 1]!.time > message.time) i--
    this.messages.splice(i, 0, message)
    this.envelopes.set(signed.id, signed.envelope)
    if (this.messages.length > this.maxMessages) {
      const dropped = this.messages.shift()!
      this.envelopes.delete(dropped.id)
    }
    this.notify()
    return message
  }

  private offerHistory(): void {
    const recent: Uint8Array[] = []
    let bytes = 0
    for (let i = this.messages.length - 1; i >= 0 && recent.length < historyOffered; i--) {
      const envelope = this.envelopes.get(this.messages[i]!.id)!
      if (bytes + envelope.length + 4 > historyBytes) break
      bytes += envelope.length + 4
      recent.unshift(envelope)
    }
    if (recent.length > 0) this.topic.broadcastNeighbors(encodeHistory(recent))
  }

  private expireMembers(): void {
    const cutoff = Date.now() - 3 * this.presenceIntervalMs
    for (const [key, member] of this.people) {
      if (!member.id.equals(this.me) && member.seenAt < cutoff) this.people.delete(key)
    }
    this.notify()
  }

  private notify(): void {
    this.changed = true
    const wake = this.wake
    this.wake = undefined
    wake?.()
  }
}
