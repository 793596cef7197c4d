import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import {
  WebTransportServer,
  createCertificate,
  type WebTransportSession,
} from '@ferry/webtransport-node'

/** Echoes every bidi stream, every uni stream (on a new uni stream) and every datagram. */
export function echo(session: WebTransportSession): void {
  void (async () => {
    for await (const stream of session.incomingBidirectionalStreams) {
      stream.readable.pipeTo(stream.writable).catch(() => {})
    }
  })().catch(() => {})
  void (async () => {
    for await (const incoming of session.incomingUnidirectionalStreams) {
      const out = await session.createUnidirectionalStream()
      incoming.pipeTo(out).catch(() => {})
    }
  })().catch(() => {})
  session.datagrams.readable.pipeTo(session.datagrams.writable).catch(() => {})
}

/** The running demo: a WebTransport echo server and the HTTP server of its page. */
export interface EchoDemo {
  webTransportPort: number
  httpPort: number
  certificateHash: string
  close(): Promise<void>
}

/** Starts the WebTransport echo server on `wtPort` and its page on `httpPort` (both loopback). */
export async function startEchoDemo(
  options: { wtPort?: number; httpPort?: number } = {},
): Promise<EchoDemo> {
  const certificate = await createCertificate()
  const wt = await WebTransportServer.listen({ port: options.wtPort ?? 0, certificate })
  wt.route('/echo', {
    // Prefer the newest protocol version both sides know, whatever order the page offered.
    accept: (req) => {
      const protocol = ['echo/2', 'echo/1'].find((p) => req.protocols.includes(p))
      return protocol ? { accept: true, protocol } : { accept: true }
    },
    session: echo,
  })
  const config = JSON.stringify({
    url: `https://127.0.0.1:${wt.port}/echo`,
    certificateHash: certificate.hashHex,
  })
  const page = pageHtml(config)
  const http: Server = createServer((req, res) => {
    if (req.url === '/config.json') {
      res.writeHead(200, { 'content-type': 'application/json' }).end(config)
    } else if (req.url === '/' || req.url === '/index.html') {
      res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(page)
    } else {
      res.writeHead(404).end('not found')
    }
  })
  await new Promise<void>((resolve) => http.listen(options.httpPort ?? 0, '127.0.0.1', resolve))
  return {
    webTransportPort: wt.port,
    httpPort: (http.address() as AddressInfo).port,
    certificateHash: certificate.hashHex,
    async close() {
      await new Promise<void>((resolve) => http.close(() => resolve()))
      await wt.close()
    },
  }
}

function pageHtml(config: string): string {
  return `<!doctype html>
<meta charset="utf-8">
<title>ferry echo</title>
<h1>ferry WebTransport echo</h1>
<p id="status">connecting…</p>
<pre id="log"></pre>
<script type="module">
const config = ${config}
const log = (line) => (document.getElementById('log').textContent += line + '\\n')
const status = document.getElementById('status')
const hash = Uint8Array.from(config.certificateHash.match(/../g), (h) => parseInt(h, 16))
try {
  const wt = new WebTransport(config.url, {
    serverCertificateHashes: [{ algorithm: 'sha-256', value: hash }],
    protocols: ['echo/1', 'echo/2'],
  })
  await wt.ready
  log('session ready, protocol: ' + (wt.protocol || '(none)'))
  const { readable, writable } = await wt.createBidirectionalStream()
  const writer = writable.getWriter()
  await writer.write(new TextEncoder().encode('hello over QUIC'))
  await writer.close()
  let text = ''
  for await (const chunk of readable) text += new TextDecoder().decode(chunk)
  log('echo: ' + text)
  status.textContent = 'echo: ' + text
  status.dataset.state = 'done'
} catch (e) {
  status.textContent = 'failed: ' + e
  status.dataset.state = 'failed'
}
</script>
`
}
