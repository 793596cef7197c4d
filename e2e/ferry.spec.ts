import { expect, test, type Page } from '@playwright/test'
import type { DemoResult, FerryFixture } from './ferry/types.js'

const fixture = (): FerryFixture => JSON.parse(process.env.FERRY_ENDPOINT_FIXTURE!) as FerryFixture

async function runDemo(page: Page, example: string, ticket: string): Promise<DemoResult> {
  const { pagesUrl } = fixture()
  await page.goto(`${pagesUrl}examples/${example}?ticket=${encodeURIComponent(ticket)}`)
  await expect(page.locator('body')).toHaveAttribute('data-done', 'true')
  return page.evaluate(() => (window as unknown as { ferryDemoResult: DemoResult }).ferryDemoResult)
}

function expectEcho(result: DemoResult): void {
  const { echoId } = fixture()
  expect(result.error).toBeUndefined()
  expect(result.remoteId).toBe(echoId)
  expect(result.alpn).toBe('ferry/echo/1')
  // One pinned certificate, signed by the endpoint: TLS is bound to its identity.
  expect(result.encrypted).toBe(false)
  expect(result.bidi).toBe('hello over a bidi stream')
  expect(result.uni).toBe('hello over a uni stream')
  expect(result.datagram).toBe('hello as a datagram')
  expect(result.closed).toEqual({ code: 0, reason: 'demo done', remote: false })
}

test('a page importing @ferry/browser connects by ticket and echoes on streams and datagrams', async ({
  page,
}) => {
  expectEcho(await runDemo(page, 'esm.html', fixture().ticket))
})

test('the page keeps its identity across reloads, and shares it with the origin', async ({
  page,
}) => {
  const first = await runDemo(page, 'esm.html', '')
  expect(first.id).toMatch(/^[a-z2-7]{52}$/)
  await page.reload()
  await expect(page.locator('body')).toHaveAttribute('data-done', 'true')
  const again = await page.evaluate(
    () => (window as unknown as { ferryDemoResult: DemoResult }).ferryDemoResult,
  )
  expect(again.id).toBe(first.id)
  const scriptTag = await runDemo(page, 'iife.html', '')
  expect(scriptTag.id).toBe(first.id)
})

test('the built ES module (dist/ferry.js) does the same', async ({ page }) => {
  expectEcho(await runDemo(page, 'esm-build.html', fixture().ticket))
})

test('the script-tag build does the same on a plain HTML page', async ({ page }) => {
  expectEcho(await runDemo(page, 'iife.html', fixture().ticket))
})

test('a server with the right certificate but the wrong key is refused', async ({ page }) => {
  const result = await runDemo(page, 'esm.html', fixture().impostorTicket)
  expect(result.error).toMatchObject({ name: 'HandshakeError', code: 'WRONG_ENDPOINT' })
  expect(result.remoteId).toBeUndefined()
})

test('a dialer offering only ALPNs the endpoint does not serve gets ALPN_REFUSED, every time', async ({
  page,
}) => {
  await runDemo(page, 'iife.html', '')
  const outcomes = await page.evaluate(
    ([ticket, times]) => {
      const w = window as unknown as {
        Ferry: unknown
        ferryRefusals(ferry: unknown, ticket: string, times: number): Promise<string[]>
      }
      return w.ferryRefusals(w.Ferry, ticket, times)
    },
    [fixture().ticket, 20] as const,
  )
  expect(outcomes).toEqual(Array(20).fill('ConnectError:ALPN_REFUSED'))
})
