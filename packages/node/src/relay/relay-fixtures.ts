/**
 * Test helpers for the relay: a relay on a memory network, and a client that speaks raw
 * `ferry-relay/1` frames, so tests control every byte a client sends.
 */
import { type DirectAddr, FramedReader, FramedWriter, type PublicKey, SecretKey } from '@ferry/core'
import {
  type ControlMessage,
  decodeControl,
  encodeControl,
  encodeHeader,
  maxControlMessageBytes,
  relayAlpn,
  type Session,
  signAuth,
  type StreamHeader,
} from '@ferry/core/internal'
import { MemoryNetwork, type MemoryNetworkOptions, MemoryTransport } from '@ferry/core/testing'
import { readHeader } from './header.js'
import { Relay, type RelayOptions } from './relay.js'

/** A relay listening on a fresh memory network, and the errors it reported. */
export interface RelayFixture {
  network: MemoryNetwork
  relay: Relay
  addr: DirectAddr
  errors: unknown[]
  /**
   * The address the relay is told each new session comes from (`IncomingSessionInfo.remote`,
   * which the memory transport leaves out); set it before a dial. Default none.
   */
  remote: string | undefined
}

/** Starts a relay on a new memory network. */
export async function startRelay(
  options: Partial<RelayOptions> = {},
  networkOptions: MemoryNetworkOptions = {},
): Promise<RelayFixture> {
  const network = new MemoryNetwork({ seed: 1, ...networkOptions })
  const errors: unknown[] = []
  const relay = new Relay({
    secretKey: await SecretKey.generate(),
    onError: (error) => errors.push(error),
    ...options,
  })
  const transport = new MemoryTransport(network)
  const listener = relay.listener()
  const fixture: RelayFixture = { network, relay, addr: undefined!, errors, remote: undefined }
  transport.listen({
    choose: (offer) => listener.choose(offer),
    session: (session, info) => relay.handle(session, { ...info, remote: fixture.remote }),
  })
  fixture.addr = transport.directAddrs()[0]!
  return fixture
}

/** A raw session to the relay, offering `alpns`. */
export async function dialRelay(
  fixture: RelayFixture,
  alpns: string[] = [relayAlpn],
): Promise<Session> {
  const { session } = await new MemoryTransport(fixture.network).dial(fixture.addr, alpns, {})
  return session
}

const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length)
  out.set(a)
  out.set(b, a.length)
  return out
}

/** A stream the relay delivered: its header, and the bytes after it. */
export interface Delivered {
  header: StreamHeader
  readable: ReadableStream<Uint8Array>
  writable?: WritableStream<Uint8Array>
}

/** A client that speaks raw relay frames over a session. */
export class RawClient {
  readonly control: { reader: FramedReader; writer: FramedWriter }
  readonly #bidi: ReadableStreamDefaultReader<{
    readable: ReadableStream<Uint8Array>
    writable: WritableStream<Uint8Array>
  }>
  readonly #uni: ReadableStreamDefaultReader<ReadableStream<Uint8Array>>
  readonly #datagrams: ReadableStreamDefaultReader<Uint8Array>
  readonly #datagramWriter: WritableStreamDefaultWriter<Uint8Array>

  private constructor(
    readonly session: Session,
    stream: { readable: ReadableStream<Uint8Array>; writable: WritableStream<Uint8Array> },
    readonly key: SecretKey | undefined,
  ) {
    const options = { maxMessageBytes: maxControlMessageBytes }
    this.control = {
      reader: new FramedReader(stream.readable, options),
      writer: new FramedWriter(stream.writable, options),
    }
    this.#bidi = session.incomingBidirectionalStreams.getReader()
    this.#uni = session.incomingUnidirectionalStreams.getReader()
    this.#datagrams = session.datagrams.readable.getReader()
    this.#datagramWriter = session.datagrams.writable.getWriter()
  }

  /** Opens the control stream on `session` (header CONTROL); the CHALLENGE is next to read. */
  static async open(session: Session, key?: SecretKey): Promise<RawClient> {
    const stream = await session.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    await writer.write(encodeHeader({ kind: 'control' }))
    writer.releaseLock()
    return new RawClient(session, stream, key)
  }

  /** Dials the relay, authenticates as `key` (a fresh one by default) and waits for READY. */
  static async register(
    fixture: RelayFixture,
    key?: SecretKey,
    token?: string,
  ): Promise<RawClient> {
    const client = await RawClient.authenticate(fixture, key, token)
    await client.next('ready')
    return client
  }

  /** Dials the relay and sends a valid AUTH (with `token`), without waiting for the answer. */
  static async authenticate(
    fixture: RelayFixture,
    key?: SecretKey,
    token?: string,
  ): Promise<RawClient> {
    const secretKey = key ?? (await SecretKey.generate())
    const client = await RawClient.open(await dialRelay(fixture), secretKey)
    const challenge = await client.next('challenge')
    await client.send({
      type: 'auth',
      id: secretKey.publicKey,
      signature: await signAuth(secretKey, challenge.nonce, challenge.relayId),
      token,
    })
    return client
  }

  get id(): PublicKey {
    return this.key!.publicKey
  }

  /** The next control message; with `type`, checks it is of that type. */
  async next<T extends ControlMessage['type']>(
    type?: T,
  ): Promise<Extract<ControlMessage, { type: T }>> {
    const bytes = await this.control.reader.read()
    if (bytes === undefined) throw new Error('the control stream ended')
    const message = decodeControl(bytes)
    if (type !== undefined && message.type !== type) {
      throw new Error(`expected ${type}, got ${JSON.stringify(message)}`)
    }
    return message as Extract<ControlMessage, { type: T }>
  }

  /** Sends a control message. */
  send(message: ControlMessage): Promise<void> {
    return this.control.writer.write(encodeControl(message))
  }

  /** Opens a bidi stream and writes `header` and `first` in one write. */
  async openBidi(
    header: StreamHeader | Uint8Array,
    first: Uint8Array = new Uint8Array(0),
  ): Promise<{ readable: ReadableStream<Uint8Array>; writer: WritableStreamDefaultWriter }> {
    const stream = await this.session.createBidirectionalStream()
    const writer = stream.writable.getWriter()
    const bytes = header instanceof Uint8Array ? header : encodeHeader(header)
    await writer.write(concat(bytes, first))
    return { readable: stream.readable, writer }
  }

  /** Opens a uni stream and writes `header` and `first` in one write. */
  async openUni(
    header: StreamHeader | Uint8Array,
    first: Uint8Array = new Uint8Array(0),
  ): Promise<WritableStreamDefaultWriter> {
    const writable = await this.session.createUnidirectionalStream()
    const writer = writable.getWriter()
    const bytes = header instanceof Uint8Array ? header : encodeHeader(header)
    await writer.write(concat(bytes, first))
    return writer
  }

  /** The next bidi stream the relay opens here, its header read. */
  async acceptBidi(): Promise<Delivered> {
    const { done, value } = await this.#bidi.read()
    if (done) throw new Error('no more bidi streams')
    return { ...(await deliver(value.readable)), writable: value.writable }
  }

  /** The next uni stream the relay opens here, its header read. */
  async acceptUni(): Promise<Delivered> {
    const { done, value } = await this.#uni.read()
    if (done) throw new Error('no more uni streams')
    return deliver(value)
  }

  /** Sends a datagram, raw. */
  sendDatagram(bytes: Uint8Array): Promise<void> {
    return this.#datagramWriter.write(bytes)
  }

  /** The next datagram, raw. */
  async nextDatagram(): Promise<Uint8Array> {
    const { done, value } = await this.#datagrams.read()
    if (done) throw new Error('no more datagrams')
    return value
  }
}

async function deliver(readable: ReadableStream<Uint8Array>): Promise<Delivered> {
  const result = await readHeader(readable, 10_000)
  if (!result.ok) throw new Error(`no header: ${result.reason}`)
  return { header: result.header, readable: result.rest }
}

/** Reads exactly `n` bytes from `reader` (across chunks). */
export async function readExactly(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  n: number,
): Promise<Uint8Array> {
  const out = new Uint8Array(n)
  let filled = 0
  while (filled < n) {
    const { done, value } = await reader.read()
    if (done) throw new Error(`the stream ended after ${filled} of ${n} bytes`)
    if (filled + value.length > n) throw new Error('more bytes than expected')
    out.set(value, filled)
    filled += value.length
  }
  return out
}
