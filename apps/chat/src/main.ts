/**
 * The chat page: an identity kept for this tab (it survives reloads; two tabs are two people),
 * a nickname, a room from the link in the URL hash or a new one, and the room's UI. Built only
 * on `@ferry/browser` and `@ferry/gossip`, with the room module the `ferry chat` command shares.
 */
import { Endpoint, Router, SecretKey, type RelayState } from '@ferry/browser'
import { GOSSIP_ALPN, Gossip } from '@ferry/gossip'
import { ChatRoom, formatLink, parseLink, type RoomLink } from '@ferry/chat'

interface Config {
  relay: { url: string; certHashes: string[] }
}

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T
const keyItem = 'ferry-chat/key'
const nicknameItem = 'ferry-chat/nickname'

async function tabKey(): Promise<SecretKey> {
  const stored = sessionStorage.getItem(keyItem)
  if (stored) return SecretKey.fromBytes(hexBytes(stored))
  const key = await SecretKey.generate()
  sessionStorage.setItem(keyItem, toHex(key.toBytes()))
  return key
}

async function fetchConfig(): Promise<Config> {
  return (await (await fetch('/config.json', { cache: 'no-store' })).json()) as Config
}

function hexBytes(hex: string): Uint8Array {
  return Uint8Array.from(hex.match(/../g) ?? [], (b) => parseInt(b, 16))
}

function toHex(bytes: Uint8Array): string {
  return [...bytes].map((b) => b.toString(16).padStart(2, '0')).join('')
}

/** Asks for a nickname (remembered in this browser); resolves with it. */
function askNickname(joining: boolean): Promise<string> {
  const welcome = $('welcome')
  const input = $<HTMLInputElement>('nickname')
  input.value = localStorage.getItem(nicknameItem) ?? ''
  $('enter').textContent = joining ? 'Join the room' : 'Create a room'
  welcome.hidden = false
  input.focus()
  return new Promise((resolve) => {
    $('welcome-form').addEventListener('submit', (event) => {
      event.preventDefault()
      const nickname = input.value.trim()
      if (!nickname) return
      localStorage.setItem(nicknameItem, nickname)
      welcome.hidden = true
      resolve(nickname)
    })
  })
}

async function main(): Promise<void> {
  const config = await fetchConfig()
  const key = await tabKey()
  const fromHash = parseLink(location.hash)
  const nickname = await askNickname(fromHash !== undefined)

  let relayState: RelayState = { state: 'connecting', attempt: 0 }
  let render = (): void => {}
  const endpoint = await Endpoint.create({
    secretKey: key,
    relay: {
      url: config.relay.url,
      // Asked before each connection to the relay, so a renewed certificate is pinned anew.
      certHashes: async () => (await fetchConfig()).relay.certHashes,
    },
    onRelayState: (state) => {
      relayState = state
      render()
    },
  })
  const gossip = Gossip.create(endpoint)
  Router.builder(endpoint).accept(GOSSIP_ALPN, gossip).spawn()

  const link: RoomLink = fromHash ?? {
    room: crypto.getRandomValues(new Uint8Array(32)),
    via: endpoint.id,
  }
  history.replaceState(null, '', `#${formatLink(link)}`)
  const bootstrap = link.via.equals(endpoint.id) ? [] : [link.via]
  const room = ChatRoom.open(gossip, key, { room: link.room, bootstrap, nickname })
  render = () => renderRoom(room, relayState)
  $('room').hidden = false
  wireComposer(room)
  wireCopyLink()
  // A goodbye on the way out, when the browser gives it time (the room notices anyway).
  addEventListener('pagehide', () => void room.close())
  render()
  for await (const _ of room.updates()) render()
}

function renderRoom(room: ChatRoom, relay: RelayState): void {
  const members = room.members()
  const status = $('status')
  // A duplicated tab copies sessionStorage, and with it the identity: the relay then gives the
  // id's connections to the newer tab, and this one stands by until that one closes.
  const state =
    relay.state === 'online' || relay.state === 'offline' || relay.state === 'standby'
      ? relay.state
      : 'connecting'
  status.dataset.state = state
  status.textContent = {
    online: `online · ${members.length} here`,
    offline: 'relay down, reconnecting…',
    standby: 'also open in another tab',
    connecting: 'connecting…',
  }[state]
  $('member-count').textContent = `(${members.length})`
  $('members').replaceChildren(
    ...members.map((m) => {
      const li = document.createElement('li')
      li.dataset.id = m.id.toString()
      li.append(m.nickname + (m.id.equals(room.me) ? ' (you)' : ''), ' ')
      const id = document.createElement('span')
      id.className = 'id'
      id.textContent = m.id.short()
      li.append(id)
      return li
    }),
  )
  const list = $('messages')
  const atBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 40
  list.replaceChildren(
    ...room.messages.map((m) => {
      const li = document.createElement('li')
      li.className = m.mine ? 'message mine' : 'message'
      li.dataset.id = m.id
      const meta = document.createElement('div')
      meta.className = 'meta'
      const author = document.createElement('span')
      author.className = 'author'
      author.textContent = room.nameOf(m.author)
      const id = document.createElement('span')
      id.className = 'id'
      id.textContent = m.author.short()
      const time = document.createElement('time')
      time.dateTime = new Date(m.time).toISOString()
      time.textContent = new Date(m.time).toLocaleTimeString([], {
        hour: '2-digit',
        minute: '2-digit',
      })
      meta.append(author, id, time)
      const text = document.createElement('div')
      text.className = 'text'
      text.textContent = m.text
      li.append(meta, text)
      return li
    }),
  )
  if (atBottom) list.scrollTop = list.scrollHeight
  const typing = members.filter((m) => m.typing && !m.id.equals(room.me)).map((m) => m.nickname)
  $('typing').textContent =
    typing.length === 0 ? '' : `${typing.join(', ')} ${typing.length === 1 ? 'is' : 'are'} typing…`
}

function wireComposer(room: ChatRoom): void {
  const form = $<HTMLFormElement>('composer')
  const input = $<HTMLTextAreaElement>('message')
  let idle: ReturnType<typeof setTimeout> | undefined
  const send = async (): Promise<void> => {
    const text = input.value.trim()
    if (!text) return
    input.value = ''
    clearTimeout(idle)
    await room.send(text)
  }
  form.addEventListener('submit', (event) => {
    event.preventDefault()
    void send()
  })
  input.addEventListener('keydown', (event) => {
    if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
      event.preventDefault()
      void send()
    }
  })
  input.addEventListener('input', () => {
    void room.setTyping(input.value.length > 0)
    clearTimeout(idle)
    idle = setTimeout(() => void room.setTyping(false), 4000)
  })
  input.focus()
}

function wireCopyLink(): void {
  const button = $<HTMLButtonElement>('copy-link')
  button.addEventListener('click', () => {
    void navigator.clipboard.writeText(location.href).then(
      () => {
        button.textContent = 'Copied'
        setTimeout(() => (button.textContent = 'Copy link'), 1500)
      },
      () => prompt('Copy this link:', location.href),
    )
  })
}

main().catch((error: unknown) => {
  $('welcome').hidden = false
  $('welcome-error').textContent = `Could not start: ${String(error)}`
  console.error(error)
})
