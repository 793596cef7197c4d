import type { Connection, ProtocolHandler } from '@ferry/core'

/** The echo protocol's ALPN. */
export const ECHO_ALPN = 'ferry/echo/1'

/**
 * Echoes everything the dialer sends: each bidirectional stream back on itself, each
 * unidirectional stream back on a new unidirectional stream, each datagram as a datagram.
 * The same module runs in browsers and in Node.
 */
export class EchoProtocol implements ProtocolHandler {
  private readonly connections = new Set<Connection>()

  async accept(conn: Connection): Promise<void> {
    this.connections.add(conn)
    try {
      await echo(conn)
    } finally {
      this.connections.delete(conn)
    }
  }

  shutdown(): void {
    for (const conn of this.connections) conn.close(0, 'echo shutting down')
  }
}

/** Serves the echo protocol on `conn` until it closes. */
export async function echo(conn: Connection): Promise<void> {
  const tasks: Promise<void>[] = [echoBidi(conn), echoUni(conn), echoDatagrams(conn)]
  await Promise.all(tasks)
}

async function echoBidi(conn: Connection): Promise<void> {
  for await (const stream of conn.bidiStreams()) {
    // Backpressure flows through pipeTo; a reset on either side just ends this stream.
    stream.readable.pipeTo(stream.writable).catch(() => {})
  }
}

async function echoUni(conn: Connection): Promise<void> {
  for await (const incoming of conn.uniStreams()) {
    conn
      .openUni()
      .then((outgoing) => incoming.pipeTo(outgoing))
      .catch(() => incoming.cancel().catch(() => {}))
  }
}

async function echoDatagrams(conn: Connection): Promise<void> {
  for await (const datagram of conn.datagrams()) {
    await conn.sendDatagram(datagram).catch(() => {})
  }
}
