import { spawn } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { expect, test, type Browser, type Page } from '@playwright/test'
import { startChild } from './processes.js'

/**
 * Opens the chat in a fresh browser context (a person of its own) and enters a nickname;
 * `errors` collects what the page logs as an error, and its uncaught exceptions.
 */
async function person(browser: Browser, url: string, nickname: string) {
  const context = await browser.newContext()
  const page = await context.newPage()
  const errors: string[] = []
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text())
  })
  page.on('pageerror', (error) => errors.push(String(error)))
  await page.goto(url)
  await page.getByLabel('Your nickname').fill(nickname)
  await page.getByRole('button', { name: /Create a room|Join the room/ }).click()
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'online')
  return { context, page, errors }
}

async function say(page: Page, text: string): Promise<void> {
  const box = page.getByRole('textbox', { name: 'Message' })
  await box.fill(text)
  await box.press('Enter')
}

const messages = (page: Page) => page.locator('#messages .message .text')

/** `ferry chat <link> --json` in a child process: its JSON lines, and its stdin. */
function terminal(link: string, nickname: string) {
  const child = spawn(
    process.execPath,
    [
      '--conditions=@ferry/source',
      '--import',
      'tsx',
      'packages/node/src/bin.ts',
      'chat',
      link,
      '--json',
      '--nickname',
      nickname,
    ],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  const lines: { type: string; text?: string; members?: string[]; state?: string }[] = []
  const waiters: (() => void)[] = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    lines.push(JSON.parse(line) as (typeof lines)[number])
    for (const w of waiters.splice(0)) w()
  })
  /** Resolves once a printed line satisfies `check`. */
  const until = async (check: (l: (typeof lines)[number]) => boolean): Promise<void> => {
    while (!lines.some(check)) await new Promise<void>((resolve) => waiters.push(resolve))
  }
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  return { child, lines, until, exited }
}

test('three browsers and a terminal chat in one room: each message shown once everywhere, presence kept', async ({
  browser,
}, testInfo) => {
  const ada = await person(browser, process.env.FERRY_CHAT_PAGE!, 'ada')
  const link = ada.page.url()
  expect(link).toMatch(/#[0-9a-f]{64}\.[a-z2-7]+$/)
  const bo = await person(browser, link, 'bo')
  const cy = await person(browser, link, 'cy')
  const node = terminal(link, 'node')
  await node.until((l) => l.type === 'ready')

  const pages = [ada, bo, cy].map((p) => p.page)
  for (const page of pages) {
    await expect(page.locator('#members li')).toHaveCount(4, { timeout: 30_000 })
    for (const name of ['ada', 'bo', 'cy', 'node']) {
      await expect(page.locator('#members')).toContainText(name)
    }
  }
  // Typing shows in the others' pages while a message is written, and clears once it is sent.
  const adaBox = ada.page.getByRole('textbox', { name: 'Message' })
  await adaBox.fill('hello from ada')
  for (const page of [bo.page, cy.page]) {
    await expect(page.locator('#typing')).toHaveText('ada is typing…')
  }
  await expect(ada.page.locator('#typing')).toHaveText('')
  await adaBox.press('Enter')
  for (const page of [bo.page, cy.page]) await expect(page.locator('#typing')).toHaveText('')
  await say(bo.page, 'hi, bo here')
  await say(cy.page, 'cy says hi')
  node.child.stdin.write('greetings from a terminal\n')
  const all = ['hello from ada', 'hi, bo here', 'cy says hi', 'greetings from a terminal']
  for (const page of pages) {
    await expect(messages(page)).toHaveCount(4)
    expect(new Set(await messages(page).allTextContents())).toEqual(new Set(all))
  }
  await node.until((l) => l.type === 'message' && l.text === 'cy says hi')
  const printed = node.lines.filter((l) => l.type === 'message').map((l) => l.text)
  expect(printed.sort()).toEqual([...all].sort())
  // The author's nickname is shown beside a message.
  await expect(
    bo.page
      .locator('#messages .message', { hasText: 'greetings from a terminal' })
      .locator('.author'),
  ).toHaveText('node')
  // Nothing went wrong on the way that a page would only have told its console.
  expect([...ada.errors, ...bo.errors, ...cy.errors]).toEqual([])

  await ada.page.screenshot({ path: testInfo.outputPath('room-desktop.png') })
  await bo.page.setViewportSize({ width: 390, height: 760 })
  await bo.page.screenshot({ path: testInfo.outputPath('room-phone.png') })

  // The terminal leaves with a goodbye: gone from every list at once.
  node.child.stdin.end()
  expect(await node.exited).toBe(0)
  for (const page of pages) await expect(page.locator('#members li')).toHaveCount(3)
  // A closed tab says no goodbye: the room notices the lost neighbor, and drops it when no
  // presence follows within one presence interval (10 s).
  await cy.context.close()
  for (const page of [ada.page, bo.page]) {
    await expect(page.locator('#members li')).toHaveCount(2, { timeout: 30_000 })
  }
  await Promise.all([ada.context.close(), bo.context.close()])
})

/** `npm start`'s script on the given ports (0: free ones); resolves with its ports and page. */
async function startChat(keyFile: string, relayPort = 0, httpPort = 0) {
  let relay = 0
  const [child, page] = await startChild(
    'apps/chat/start.ts',
    {
      FERRY_RELAY_PORT: String(relayPort),
      FERRY_HTTP_PORT: String(httpPort),
      FERRY_RELAY_KEY_FILE: keyFile,
    },
    (line) => {
      const port = /^relay\s+https:\/\/127\.0\.0\.1:(\d+)\//.exec(line)?.[1]
      if (port) relay = Number(port)
      return /open (http:\/\/\S+)/.exec(line)?.[1]
    },
  )
  return { child, page, relayPort: relay, httpPort: Number(new URL(page).port) }
}

test('the room recovers by itself when the relay restarts, with its certificate or a new one, without a reload', async ({
  browser,
}) => {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-chat-restart-'))
  const keyFile = join(dir, 'relay.key')
  let server = await startChat(keyFile)
  let node: ReturnType<typeof terminal> | undefined
  try {
    const ada = await person(browser, server.page, 'ada')
    const bo = await person(browser, ada.page.url(), 'bo')
    node = terminal(ada.page.url(), 'node')
    await node.until((l) => l.type === 'ready')
    for (const { page } of [ada, bo]) {
      await expect(page.locator('#members li')).toHaveCount(3, { timeout: 30_000 })
    }
    await say(ada.page, 'before the restarts')
    await expect(messages(bo.page)).toHaveText(['before the restarts'])
    const relayLines = (state: string) =>
      node!.lines.filter((l) => l.type === 'relay' && l.state === state).length
    const said = ['before the restarts']
    // Gone if a page reloads.
    for (const { page } of [ada, bo]) {
      await page.evaluate(() => ((window as { ferryMark?: boolean }).ferryMark = true))
    }

    // A clean restart: the relay tells its clients it is going away, and comes back on the
    // same port with the same identity and certificate. Then one with a new certificate, as
    // when the relay renews it: the pages pinned the old hash, and learn the new one.
    // The terminal says so too, once each way per restart.
    for (const [i, restart] of ['same certificate', 'new certificate'].entries()) {
      await server.child.stop()
      for (const { page } of [ada, bo]) {
        await expect(page.locator('#status')).not.toHaveAttribute('data-state', 'online')
      }
      await node.until(() => relayLines('offline') === i + 1)
      if (restart === 'new certificate') await rm(`${keyFile}.cert.pem`)
      server = await startChat(keyFile, server.relayPort, server.httpPort)
      for (const { page } of [ada, bo]) {
        await expect(page.locator('#status')).toHaveAttribute('data-state', 'online', {
          timeout: 30_000,
        })
        await expect(page.locator('#members li')).toHaveCount(3, { timeout: 30_000 })
      }
      await node.until(() => relayLines('online') === i + 1)
      await say(bo.page, `after the restart with the ${restart}`)
      said.push(`after the restart with the ${restart}`)
      for (const { page } of [ada, bo]) {
        await expect(messages(page)).toHaveText(said, { timeout: 30_000 })
      }
      await node.until((l) => l.type === 'message' && l.text === said.at(-1))
    }
    expect([relayLines('offline'), relayLines('online')]).toEqual([2, 2])
    node.child.stdin.end()
    expect(await node.exited).toBe(0)
    for (const { page } of [ada, bo]) {
      expect(await page.evaluate(() => (window as { ferryMark?: boolean }).ferryMark)).toBe(true)
    }
    await Promise.all([ada.context.close(), bo.context.close()])
  } finally {
    if (node && node.child.exitCode === null && node.child.signalCode === null) {
      node.child.kill('SIGKILL')
      await node.exited
    }
    await server.child.stop()
    await rm(dir, { recursive: true, force: true })
  }
})

test('a forged or tampered message is shown to nobody', async ({ browser }) => {
  const ada = await person(browser, process.env.FERRY_CHAT_PAGE!, 'ada')
  const bo = await person(browser, ada.page.url(), 'bo')
  await expect(ada.page.locator('#members li')).toHaveCount(2)
  const marker = 'a genuine message after the forgeries'
  const [forger] = await startChild(
    'e2e/chat/forger.ts',
    { FERRY_CHAT_LINK: ada.page.url(), FERRY_CHAT_MARKER: marker },
    (line) => (line.startsWith('{') ? line : undefined),
  )
  try {
    // The genuine message travels the same links after the forgeries: once it is shown, the
    // forgeries have been received and dropped.
    for (const { page } of [ada, bo]) {
      await expect(messages(page)).toHaveText([marker], { timeout: 30_000 })
      await expect(page.locator('#messages')).not.toContainText('FORGED')
      await expect(page.locator('#messages')).not.toContainText('TAMPERED')
    }
  } finally {
    await forger.stop()
    await Promise.all([ada.context.close(), bo.context.close()])
  }
})
