/**
 * `ferry chat <link>`: joins a demo chat room from a terminal, with the same room module the
 * chat page runs (`@ferry/chat`). The link is the page's URL with the room in its hash; the
 * page's `/config.json` names the relay and the certificate hash to pin.
 */
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { ChatRoom, parseLink, type ChatMessage } from '@ferry/chat'
import { Router, type RelayState } from '@ferry/core'
import { GOSSIP_ALPN, Gossip } from '@ferry/gossip'
import { Endpoint } from './endpoint.js'
import { stopSignal } from './stop-signal.js'

const usage = `usage: ferry chat <link> [options]

Joins the room of <link> (the chat page's address, with the room after #). Type a line and
press Enter to send it; end input (Ctrl-D) or press Ctrl-C to leave.

options:
  --nickname NAME    how others see you (default: your id's short form)
  --key-file FILE    keep the identity in FILE (created with mode 0600 if missing)
  --json             print one JSON object per line: ready, message, members, relay
  -h, --help         show this text
`

interface PageConfig {
  relay: { url: string; certHashes: string[] }
}

export async function chatCommand(argv: string[]): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        nickname: { type: 'string' },
        'key-file': { type: 'string' },
        json: { type: 'boolean', default: false },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (e) {
    process.stderr.write(`ferry chat: ${(e as Error).message}\n${usage}`)
    return 2
  }
  const { values, positionals } = parsed
  if (values.help) {
    process.stdout.write(usage)
    return 0
  }
  const link = positionals.length === 1 ? parseLink(positionals[0]!) : undefined
  if (!link) {
    process.stderr.write(`ferry chat: give one room link (http://…/#<room>.<id>)\n${usage}`)
    return 2
  }
  const configUrl = new URL('/config.json', positionals[0])
  const fetchConfig = async (): Promise<PageConfig> =>
    (await (await fetch(configUrl)).json()) as PageConfig
  let config: PageConfig
  try {
    config = await fetchConfig()
  } catch (e) {
    process.stderr.write(`ferry chat: cannot read the page's /config.json: ${String(e)}\n`)
    return 1
  }

  const json = values.json
  const print = (value: object, text: string): void => {
    process.stdout.write(json ? `${JSON.stringify(value)}\n` : `${text}\n`)
  }
  // The relay going away and coming back is news; the first connection and each retry are not.
  let relayShown: 'online' | 'offline' = 'online'
  const showRelay = (state: RelayState): void => {
    if (state.state !== 'online' && state.state !== 'offline') return
    if (state.state === relayShown) return
    relayShown = state.state
    if (state.state === 'online') {
      print({ type: 'relay', state: 'online' }, `-- relay online`)
    } else {
      const error = state.error instanceof Error ? state.error.message : String(state.error)
      print({ type: 'relay', state: 'offline', error }, `-- relay offline (${error}); retrying`)
    }
  }

  let endpoint: Endpoint
  try {
    endpoint = await Endpoint.create({
      keyFile: values['key-file'],
      onRelayState: showRelay,
      relay: {
        url: config.relay.url,
        // Asked before each connection to the relay, so a renewed certificate is pinned anew.
        certHashes: async () => (await fetchConfig()).relay.certHashes,
      },
    })
  } catch (e) {
    process.stderr.write(`ferry chat: ${(e as Error).message}\n`)
    return 1
  }
  const gossip = Gossip.create(endpoint)
  const router = Router.builder(endpoint).accept(GOSSIP_ALPN, gossip).spawn()
  await endpoint.online()
  const nickname = values.nickname ?? endpoint.id.short()
  const room = ChatRoom.open(gossip, endpoint.secretKey, {
    room: link.room,
    bootstrap: link.via.equals(endpoint.id) ? [] : [link.via],
    nickname,
  })
  const stopped = stopSignal()
  print(
    { type: 'ready', id: endpoint.id.toString(), nickname },
    `joined as ${nickname} (${endpoint.id.short()}); type a message and press Enter`,
  )

  const shown = new Set<string>()
  let members = ''
  const show = (m: ChatMessage): void => {
    shown.add(m.id)
    const name = room.nameOf(m.author)
    const time = new Date(m.time).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' })
    print(
      {
        type: 'message',
        id: m.id,
        author: m.author.toString(),
        nickname: name,
        text: m.text,
        mine: m.mine,
      },
      `[${time}] ${name} (${m.author.short()}): ${m.text}`,
    )
  }
  const watching = (async () => {
    for await (const _ of room.updates()) {
      for (const m of room.messages) if (!shown.has(m.id)) show(m)
      const names = room.members().map((m) => m.nickname)
      if (names.join('\n') !== members) {
        members = names.join('\n')
        print({ type: 'members', members: names }, `-- here: ${names.join(', ')}`)
      }
    }
  })()

  const input = createInterface({ input: process.stdin })
  input.on('line', (line) => {
    const text = line.trim()
    if (text) room.send(text).catch((e: unknown) => process.stderr.write(`${String(e)}\n`))
  })
  await Promise.race([stopped, new Promise((resolve) => input.once('close', resolve))])
  input.close()
  await room.close()
  await watching
  await router.shutdown()
  return 0
}
