// A user's Node script, run with plain `node` against the installed tarballs: an endpoint that
// serves @ferry/echo, a second endpoint that dials it and echoes a stream. Prints one JSON line
// (the server's ticket and what came back), then serves until SIGTERM.
import { Endpoint, Router } from '@ferry/node'
import { ECHO_ALPN, EchoProtocol } from '@ferry/echo'

const server = await Endpoint.create({ listen: { port: 0 } })
const router = Router.builder(server).accept(ECHO_ALPN, new EchoProtocol()).spawn()

const client = await Endpoint.create()
const conn = await client.connect(server.ticket(), ECHO_ALPN)
const { readable, writable } = await conn.openBi()
const writer = writable.getWriter()
await writer.write(new TextEncoder().encode('hello from plain node'))
await writer.close()
let echoed = ''
const decoder = new TextDecoder()
for await (const chunk of readable) echoed += decoder.decode(chunk, { stream: true })
conn.close(0, 'done')
await client.close()

console.log(JSON.stringify({ ticket: server.ticket().toString(), echoed }))
await new Promise((resolve) => process.once('SIGTERM', resolve))
await router.shutdown()
