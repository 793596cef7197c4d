import dgram from 'node:dgram'
import { randomBytes } from 'node:crypto'
import { QuicConnection, type QuicHost } from './connection.js'
import { PacketType, quiche, type HostPort, type NativeConfig } from './native.js'
import { refuseInitial } from './refuse.js'

type PacketTypeValue = (typeof PacketType)[keyof typeof PacketType]

/** Length of the connection ids this endpoint issues; routing reads short headers by it. */
export const cidLength = 16
const minInitialBytes = 1200

/** Options of {@link QuicEndpoint.bind}. */
export interface QuicEndpointOptions {
  host?: string
  port?: number
  /** When set, the endpoint accepts connections configured by this function. */
  acceptConfig?: () => NativeConfig
  /**
   * Called for every accepted connection, before its first packet is processed, with the
   * config `acceptConfig` made for it (so a caller can tell which settings it was served with).
   */
  onConnection?: (conn: QuicConnection, config: NativeConfig) => void
  /**
   * Connections accepted at once; past it, a new client's Initial is answered with a
   * CONNECTION_CLOSE carrying CONNECTION_REFUSED (see `refuseInitial`). Default 1024.
   */
  maxConnections?: number
  /**
   * Connections accepted at once from one source IP address; past it, refused the same way.
   * Default 64.
   */
  maxConnectionsPerAddress?: number
  /** Kernel socket buffer sizes, so bursts are not dropped on loopback. Default 4 MiB. */
  socketBufferBytes?: number
}

/** UDP traffic of one {@link QuicEndpoint}, counted since it was bound. */
export interface QuicEndpointStats {
  packetsSent: number
  bytesSent: number
  packetsReceived: number
  bytesReceived: number
}

/** A connection id as a map key: its bytes as a Latin-1 string (one char per byte). */
function cidKey(cid: Uint8Array): string {
  return Buffer.from(cid.buffer, cid.byteOffset, cid.byteLength).toString('latin1')
}

/**
 * One UDP socket and the QUIC connections on it. Incoming packets are fed to their connection as
 * they arrive; each connection then runs one pass (streams, ACKs, sending) per event-loop turn,
 * so a burst of packets costs one pass and one ACK rather than one each.
 */
export class QuicEndpoint implements QuicHost {
  private readonly table = new Map<string, QuicConnection>()
  private readonly dirty = new Set<QuicConnection>()
  private passQueued = false
  private closing = false
  private readonly local: HostPort
  /** The UDP payloads this endpoint sent and received (handed to the socket, read from it). */
  readonly stats: QuicEndpointStats = {
    packetsSent: 0,
    bytesSent: 0,
    packetsReceived: 0,
    bytesReceived: 0,
  }
  private readonly all = new Set<QuicConnection>()
  private readonly maxConnections: number
  private readonly maxConnectionsPerAddress: number
  /** Accepted connections per source IP address. */
  private readonly perAddress = new Map<string, number>()
  private readonly accepted = new WeakSet<QuicConnection>()
  /** The config refusals are made with: built once, since a refused client never uses it. */
  private refusalConfig: NativeConfig | undefined

  private constructor(
    private readonly socket: dgram.Socket,
    private readonly options: QuicEndpointOptions,
  ) {
    const a = socket.address()
    this.local = { host: a.address, port: a.port }
    this.maxConnections = options.maxConnections ?? 1024
    this.maxConnectionsPerAddress = options.maxConnectionsPerAddress ?? 64
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo))
  }

  /** Binds a UDP socket. `host` decides the address family (default `127.0.0.1`). */
  static async bind(options: QuicEndpointOptions = {}): Promise<QuicEndpoint> {
    const host = options.host ?? '127.0.0.1'
    const socket = dgram.createSocket({ type: host.includes(':') ? 'udp6' : 'udp4' })
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(options.port ?? 0, host, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    const bufferBytes = options.socketBufferBytes ?? 4 * 1024 * 1024
    try {
      socket.setRecvBufferSize(bufferBytes)
      socket.setSendBufferSize(bufferBytes)
    } catch {
      // The kernel caps these (net.core.rmem_max); a smaller buffer still works.
    }
    // An ICMP error for one peer must not bring the endpoint down.
    socket.on('error', () => {})
    return new QuicEndpoint(socket, options)
  }

  /** The bound address. */
  get address(): HostPort {
    return this.local
  }

  /** Number of live connections. */
  get connectionCount(): number {
    return this.all.size
  }

  /** Starts a client connection to `remote`. */
  connect(serverName: string, remote: HostPort, config: NativeConfig): QuicConnection {
    const scid = new Uint8Array(randomBytes(cidLength))
    const native = quiche.Connection.connect(serverName, scid, this.local, remote, config)
    const conn = new QuicConnection(native, this, remote, this.local)
    this.register(conn, scid)
    this.schedule(conn)
    return conn
  }

  sendPacket(data: Uint8Array, to: HostPort): void {
    // A connection's timer may still fire after the socket closed (its grace ran out first):
    // what it would send has nowhere to go, and must not throw out of a timer.
    if (this.socketClosed) return
    this.stats.packetsSent++
    this.stats.bytesSent += data.length
    this.socket.send(data, to.port, to.host)
  }

  schedule(conn: QuicConnection): void {
    this.dirty.add(conn)
    if (this.passQueued) return
    this.passQueued = true
    setImmediate(() => this.runPass())
  }

  forget(conn: QuicConnection): void {
    for (const key of conn.cids) this.table.delete(key)
    if (this.accepted.has(conn)) {
      this.accepted.delete(conn)
      const n = (this.perAddress.get(conn.remote.host) ?? 1) - 1
      if (n > 0) this.perAddress.set(conn.remote.host, n)
      else this.perAddress.delete(conn.remote.host)
    }
    this.all.delete(conn)
    this.dirty.delete(conn)
    if (this.closing && this.all.size === 0) this.drained?.()
  }

  private drained: (() => void) | undefined
  /** Set as the socket closes; nothing is sent after. */
  private socketClosed = false

  /**
   * Stops accepting, waits up to `graceMs` for the connections to finish closing (callers close
   * them first), then closes the socket.
   */
  async close(graceMs = 2000): Promise<void> {
    if (this.closing) return
    this.closing = true
    if (this.all.size > 0) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, graceMs)
        this.drained = () => {
          clearTimeout(t)
          resolve()
        }
      })
    }
    this.socketClosed = true
    await new Promise<void>((resolve) => this.socket.close(() => resolve()))
  }

  private register(conn: QuicConnection, ...cids: Uint8Array[]): void {
    for (const cid of cids) {
      const key = cidKey(cid)
      conn.cids.add(key)
      this.table.set(key, conn)
    }
    this.all.add(conn)
  }

  private runPass(): void {
    this.passQueued = false
    const batch = [...this.dirty]
    this.dirty.clear()
    for (const conn of batch) conn.process()
  }

  private receive(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    this.stats.packetsReceived++
    this.stats.bytesReceived += msg.length
    let conn: QuicConnection | undefined
    const first = msg[0]
    if (first === undefined) return
    if ((first & 0x80) === 0) {
      // Short header: the destination connection id follows the first byte.
      if (msg.length < 1 + cidLength) return
      conn = this.table.get(msg.toString('latin1', 1, 1 + cidLength))
    } else {
      let header
      try {
        header = quiche.Header.fromSlice(msg, cidLength)
      } catch {
        return // Not a QUIC packet: drop it without state.
      }
      conn = this.table.get(cidKey(header.dcid))
      if (!conn) conn = this.accept(msg, header, { host: rinfo.address, port: rinfo.port })
    }
    if (!conn) return
    conn.recv(msg)
    this.schedule(conn)
  }

  private accept(
    msg: Buffer,
    header: { ty: PacketTypeValue; version: number; dcid: Uint8Array; scid: Uint8Array },
    from: HostPort,
  ): QuicConnection | undefined {
    const configure = this.options.acceptConfig
    if (!configure || this.closing) return undefined
    if (header.ty !== PacketType.Initial) return undefined
    if (!quiche.versionIsSupported(header.version)) {
      const out = new Uint8Array(quiche.MAX_DATAGRAM_SIZE)
      const n = quiche.negotiateVersion(header.scid, header.dcid, out)
      this.sendPacket(out.subarray(0, n), from)
      return undefined
    }
    // RFC 9000 §14.1: a client's Initial is padded to 1200 bytes; smaller ones are dropped so
    // that a spoofed source cannot be amplified.
    if (msg.length < minInitialBytes) return undefined
    let refusal: string | undefined
    if (this.all.size >= this.maxConnections) refusal = 'too many connections'
    else if ((this.perAddress.get(from.host) ?? 0) >= this.maxConnectionsPerAddress)
      refusal = 'too many connections from this address'
    if (refusal !== undefined) {
      this.refusalConfig ??= configure()
      refuseInitial(msg, this.local, from, this.refusalConfig, refusal, (data, to) =>
        this.sendPacket(data, to),
      )
      return undefined
    }
    const scid = new Uint8Array(randomBytes(cidLength))
    const odcid = new Uint8Array(header.dcid)
    // `odcid` goes to quiche only after a Retry; without one it is just another routing key.
    const config = configure()
    const native = quiche.Connection.accept(scid, null, this.local, from, config)
    const conn = new QuicConnection(native, this, from, this.local)
    this.register(conn, scid, odcid)
    this.accepted.add(conn)
    this.perAddress.set(from.host, (this.perAddress.get(from.host) ?? 0) + 1)
    this.options.onConnection?.(conn, config)
    return conn
  }
}
