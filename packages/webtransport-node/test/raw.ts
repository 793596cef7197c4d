import { concat, encodeVarint } from '@ferry/wire'
import type { QuicCloseInfo, QuicConnection } from '../src/quic/connection.js'
import { clientConfig } from '../src/quic/config.js'
import { QuicEndpoint } from '../src/quic/endpoint.js'
import { FrameReader, FrameType, StreamType, encodeFrame } from '../src/h3/frames.js'
import { decodeFieldSection } from '../src/h3/qpack.js'
import { Setting, encodeSettings } from '../src/h3/settings.js'

/**
 * A bare QUIC client for hostile-peer tests: it speaks whatever bytes a test hands it, so it can
 * send what no well-behaved HTTP/3 client would.
 */
export class RawClient {
  readonly closed: Promise<QuicCloseInfo>
  private readonly readable = new Map<number, (() => void)[]>()

  private constructor(
    private readonly endpoint: QuicEndpoint,
    readonly quic: QuicConnection,
    closed: Promise<QuicCloseInfo>,
  ) {
    this.closed = closed
  }

  /** Connects and completes the QUIC handshake. */
  static async connect(port: number): Promise<RawClient> {
    const endpoint = await QuicEndpoint.bind({ host: '127.0.0.1' })
    const quic = endpoint.connect('localhost', { host: '127.0.0.1', port }, clientConfig(false, {}))
    let resolveClosed!: (info: QuicCloseInfo) => void
    const closed = new Promise<QuicCloseInfo>((r) => (resolveClosed = r))
    let resolveEstablished!: () => void
    const established = new Promise<void>((r) => (resolveEstablished = r))
    const client = new RawClient(endpoint, quic, closed)
    quic.handler = {
      established: resolveEstablished,
      streamReadable: (id) => {
        for (const w of client.readable.get(id)?.splice(0) ?? []) w()
      },
      datagram: () => {},
      closed: (info) => {
        resolveClosed(info)
        void endpoint.close()
      },
    }
    await established
    return client
  }

  /** Opens our control stream with valid SETTINGS (and, optionally, more frames after). */
  async control(...frames: Uint8Array[]): Promise<void> {
    const settings = encodeSettings([
      [Setting.QPACK_MAX_TABLE_CAPACITY, 0],
      [Setting.ENABLE_WEBTRANSPORT_DRAFT02, 1],
      [Setting.H3_DATAGRAM, 1],
    ])
    await this.quic.write(
      2,
      concat(
        encodeVarint(StreamType.CONTROL),
        encodeFrame(FrameType.SETTINGS, settings),
        ...frames,
      ),
    )
  }

  /** Waits until `id` has something to read (data, FIN or reset). */
  whenReadable(id: number): Promise<void> {
    return new Promise((resolve) => {
      const list = this.readable.get(id) ?? []
      list.push(resolve)
      this.readable.set(id, list)
      this.quic.wantPass()
    })
  }

  /** Reads `id` to its end; throws StreamResetError when the server resets it. */
  async readAll(id: number): Promise<Uint8Array> {
    let out: Uint8Array = new Uint8Array(0)
    for (;;) {
      const r = this.quic.readCopy(id)
      if (r) {
        out = concat(out, r[0])
        if (r[1]) return out
        continue
      }
      await this.whenReadable(id)
    }
  }

  close(): void {
    this.quic.close(0x100)
  }
}

/** An extended CONNECT request header section for a WebTransport session on `path`. */
export const connectRequest = (path: string): [string, string][] => [
  [':method', 'CONNECT'],
  [':protocol', 'webtransport'],
  [':scheme', 'https'],
  [':authority', 'localhost'],
  [':path', path],
]

/** Reads a response header section from request stream `id` (what follows it is dropped). */
export async function responseHeaders(raw: RawClient, id: number): Promise<[string, string][]> {
  const reader = new FrameReader({ maxFrameBytes: 65536 })
  for (;;) {
    const r = raw.quic.readCopy(id)
    if (r) {
      reader.push(r[0])
      const f = reader.next()
      if (f?.type === FrameType.HEADERS)
        return decodeFieldSection(f.payload, { maxHeaderBytes: 65536 })
      if (r[1]) throw new Error('stream ended without headers')
      continue
    }
    await raw.whenReadable(id)
  }
}
