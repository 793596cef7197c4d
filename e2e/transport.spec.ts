import { expect, test, type Page } from '@playwright/test'

const MiB = 1024 * 1024

/** Runs `window.ferryChecks[name](...args)` in the page. */
async function check<T>(page: Page, name: string, ...args: unknown[]): Promise<T> {
  return page.evaluate(
    ([n, a]) =>
      (window as unknown as { ferryChecks: Record<string, (...x: unknown[]) => Promise<unknown>> })
        .ferryChecks[n]!(...a),
    [name, args] as const,
  ) as Promise<T>
}

// Streams, datagrams, resets and closes of a native session are the Session suite's
// (e2e/session.spec.ts); these check the transport fixture's own routes.
test.beforeEach(async ({ page }) => {
  await page.goto(process.env.FERRY_CHECKS_PAGE!)
  await expect(page.locator('#state')).toHaveAttribute('data-ready', 'true')
})

test('the server picks a subprotocol that is not the page’s first', async ({ page }) => {
  expect(await check(page, 'protocol', ['echo/1', 'echo/2'])).toBe('echo/2')
  expect(await check(page, 'protocol', ['echo/1', 'other/9'])).toBe('echo/1')
  expect(await check(page, 'protocol', [])).toBe('')
})

test('datagram echo', async ({ page }) => {
  const result = await check<{ echoed: string; maxDatagramSize: number }>(
    page,
    'datagramEcho',
    'a datagram',
  )
  expect(result.echoed).toBe('a datagram')
  expect(result.maxDatagramSize).toBeGreaterThan(1000)
})

test('64 MiB upload arrives intact', async ({ page }) => {
  const r = await check<{ sent: string; server: string }>(page, 'upload', 64 * MiB)
  expect(r.server).toBe(r.sent)
})

test('64 MiB download arrives intact', async ({ page }) => {
  const r = await check<{ got: number; hash: string; expected: string }>(page, 'download', 64 * MiB)
  expect(r.got).toBe(64 * MiB)
  expect(r.hash).toBe(r.expected)
})

test('20 sessions at once from one page', async ({ page }) => {
  const results = await check<string[]>(page, 'manySessions', 20)
  expect(results).toEqual(Array.from({ length: 20 }, (_, i) => `session ${i}`))
})
