/**
 * Gossip through real connections: the chat demo (`npm start`'s `apps/chat/start.ts`, in a child
 * process) with Chromium pages as its members, each in a browser context of its own, all on one
 * relay. For `FERRY_BENCH_CHAT_ROUNDS` (default 20) messages, each sent by the next member in
 * turn through the page (typed, Enter), it measures the time from the key press until the
 * message is in every other member's page (a MutationObserver in each page notes when it
 * appears), and reports the
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

/**
 * Starts watching `page` for a message with `text`; the returned function resolves with the
 * wall-clock time (ms since 1970, comparable across processes) at which it appeared.
 */
async function watch(page: Page, text: string): Promise<() => Promise<number>> {
  // Given as source text: tsx would add its name helper to a function, which pages lack.
  await page.evaluate(`
    window.arrival = new Promise((resolve) => {
      const list = document.getElementById('messages')
      const observer = new MutationObserver(() => check())
      const check = () => {
        if ([...list.querySelectorAll('.text')].some((e) => e.textContent === ${JSON.stringify(text)})) {
          observer.disconnect()
          resolve(performance.timeOrigin + performance.now())
        }
      }
      observer.observe(list, { childList: true, subtree: true })
      check()
    })
    // Not the promise: evaluate would wait for it.
    undefined
  `)
  return () => page.evaluate(() => (window as unknown as { arrival: Promise<number> }).arrival)
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
    const arrivals = await Promise.all(others.map((p) => watch(p, text)))
    await sender.fill('#message', text)
    const t0 = performance.timeOrigin + performance.now()
    await sender.press('#message', 'Enter')
    const last = Math.max(...(await Promise.all(arrivals.map((arrival) => arrival()))))
    times.push(last - t0)
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
