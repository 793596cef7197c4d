/**
 * Gossip through real connections: the chat demo (`npm start`'s `apps/chat/start.ts`, in a child
 * process) with Chromium pages as its members, each in a browser context of its own, all on one
 * relay. For `FERRY_BENCH_CHAT_ROUNDS` (default 20) messages, each sent by the next member in
 * turn through the page (typed, Enter), it measures the time from the key press until the
 * message is in every other member's page (the DOM observed for mutations), and reports the
 * median and p99 of the last arrival. The baseline in the same run is the same in a room of 2
 * (one gossip hop through the relay); the room under test has `FERRY_BENCH_CHAT_PEERS` (default
 * 5) members. Prints `ratio 5/2 = …` (time: lower is better; 1.0 would be no cost for the swarm).
 *
 * Run with `npx --yes pnpm@10 bench:chat`.
 */
import { chromium, type Browser, type Page } from '@playwright/test'
import { chromiumArgs, requireChromium } from '../e2e/browsers.js'
import { startChatDemo } from '../e2e/processes.js'

const peers = Number(process.env.FERRY_BENCH_CHAT_PEERS ?? 5)
const rounds = Number(process.env.FERRY_BENCH_CHAT_ROUNDS ?? 20)

async function member(browser: Browser, url: string, nickname: string): Promise<Page> {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(url)
  await page.fill('#nickname', nickname)
  await page.click('#enter')
  await page.waitForSelector('#status[data-state="online"]')
  return page
}

/** Resolves once `page` shows a message with `text`. */
function shown(page: Page, text: string): Promise<unknown> {
  return page.waitForFunction(
    (t) => [...document.querySelectorAll('#messages .text')].some((e) => e.textContent === t),
    text,
    { polling: 'mutation', timeout: 60_000 },
  )
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!
}

/** A room of `size` members; returns the last-arrival times of `rounds` messages, sorted. */
async function room(browser: Browser, url: string, size: number): Promise<number[]> {
  const first = await member(browser, url, 'm0')
  const pages = [first]
  for (let i = 1; i < size; i++) pages.push(await member(browser, first.url(), `m${i}`))
  for (const page of pages) {
    await page.waitForFunction((n) => document.querySelectorAll('#members li').length === n, size, {
      timeout: 60_000,
    })
  }
  const times: number[] = []
  for (let r = 0; r < rounds; r++) {
    const sender = pages[r % size]!
    const text = `round ${r} of a room of ${size}`
    const others = pages.filter((p) => p !== sender)
    const arrivals = others.map((p) => shown(p, text))
    await sender.fill('#message', text)
    const t0 = performance.now()
    await sender.press('#message', 'Enter')
    await Promise.all(arrivals)
    times.push(performance.now() - t0)
  }
  await Promise.all(pages.map((p) => p.context().close()))
  return times.sort((a, b) => a - b)
}

const [demo, url] = await startChatDemo()
const browser = await chromium.launch({ executablePath: requireChromium(), args: chromiumArgs })
try {
  console.log(`chat bench: Chromium ${browser.version()}, ${rounds} messages per room, loopback`)
  const base = await room(browser, url, 2)
  const swarm = await room(browser, url, peers)
  const line = (name: string, t: number[]) =>
    console.log(
      `  ${name.padEnd(22)} last arrival median ${quantile(t, 0.5).toFixed(1)} ms, ` +
        `p99 ${quantile(t, 0.99).toFixed(1)} ms`,
    )
  line('room of 2 (baseline)', base)
  line(`room of ${peers}`, swarm)
  console.log(
    `ratio ${peers}/2 = ${(quantile(swarm, 0.5) / quantile(base, 0.5)).toFixed(2)} (median), ` +
      `${(quantile(swarm, 0.99) / quantile(base, 0.99)).toFixed(2)} (p99)`,
  )
} finally {
  await browser.close()
  await demo.stop()
}
