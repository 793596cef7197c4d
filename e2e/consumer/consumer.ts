// A user's TypeScript, type-checked with `tsc --noEmit` against the declarations the tarballs
// ship (no sources, no workspace). The @ts-expect-error lines prove that what is not public
// does not type-check.
import { Endpoint as BrowserEndpoint } from '@ferry/browser'
import { ECHO_ALPN, EchoProtocol } from '@ferry/echo'
import {
  CloseCode,
  ConnectError,
  type Connection,
  Endpoint,
  type EndpointId,
  EndpointTicket,
  type ProtocolHandler,
  Router,
} from '@ferry/node'

const upper = (b: number): number => (b >= 0x61 && b <= 0x7a ? b - 0x20 : b)

const shout: ProtocolHandler = {
  async accept(conn: Connection): Promise<void> {
    for await (const { readable, writable } of conn.bidiStreams()) {
      const writer = writable.getWriter()
      for await (const chunk of readable) await writer.write(chunk.map(upper))
      await writer.close()
    }
  },
}

export async function serve(): Promise<string> {
  const ep = await Endpoint.create({ listen: { port: 0 }, onError: console.error })
  Router.builder(ep).accept(ECHO_ALPN, new EchoProtocol()).accept('shout/1', shout).spawn()
  const id: EndpointId = ep.id
  const port: number | undefined = ep.port
  console.log(id.toString(), port, CloseCode.NORMAL)
  return ep.ticket().toString()
}

export async function dial(ticket: string): Promise<void> {
  const ep = await BrowserEndpoint.create({ storage: 'ephemeral' })
  try {
    const conn = await ep.connect(EndpointTicket.parse(ticket), ['shout/1', ECHO_ALPN])
    const alpn: string = conn.alpn
    conn.close(0, alpn)
  } catch (e) {
    if (e instanceof ConnectError && e.code === 'ALPN_REFUSED') return
    throw e
  }
}

// What is not public does not type-check: one factory per class, and no reserved close codes.
const noOpen: 'open' extends keyof typeof BrowserEndpoint ? never : true = true
const noCloseWith: 'closeWith' extends keyof Connection ? never : true = true
export const internalsHidden = noOpen && noCloseWith
