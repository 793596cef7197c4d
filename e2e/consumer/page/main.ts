// A user's page, built by Vite from the installed @ferry/browser tarball: it echoes a stream
// through the endpoint whose ticket the test passes in.
import { Endpoint } from '@ferry/browser'
import { ECHO_ALPN } from '@ferry/echo'

async function echo(ticket: string, text: string): Promise<string> {
  const ep = await Endpoint.create({ storage: 'ephemeral' })
  try {
    const conn = await ep.connect(ticket, ECHO_ALPN)
    const { readable, writable } = await conn.openBi()
    const writer = writable.getWriter()
    await writer.write(new TextEncoder().encode(text))
    await writer.close()
    let echoed = ''
    const decoder = new TextDecoder()
    for await (const chunk of readable) echoed += decoder.decode(chunk, { stream: true })
    return echoed
  } finally {
    await ep.close()
  }
}

Object.assign(window, { ferryEcho: echo })
document.body.dataset.ready = 'true'
