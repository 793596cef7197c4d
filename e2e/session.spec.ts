import { expect, test } from '@playwright/test'
import { sessionChecks } from '../packages/core/src/testing/session-suite.js'
import type { SessionCheckOutcome, SessionFixture } from './session/types.js'

/**
 * The Session suite on Chromium's native `WebTransport`, against the fixture's Node responder
 * (`e2e/session/main.ts`, started by the global setup): one test per check, each on a fresh page.
 */
const fixture = (): SessionFixture =>
  JSON.parse(process.env.FERRY_SESSION_FIXTURE!) as SessionFixture

test.beforeEach(async ({ page }) => {
  await page.goto(fixture().pageUrl)
  await expect(page.locator('#state')).toHaveAttribute('data-ready', 'true')
})

for (const { name } of sessionChecks) {
  test(name, async ({ page }) => {
    const outcome = await page.evaluate(
      (n) =>
        (
          window as unknown as {
            ferrySessionSuite: { run(name: string): Promise<SessionCheckOutcome> }
          }
        ).ferrySessionSuite.run(n),
      name,
    )
    expect(outcome).toEqual({ passed: true })
  })
}
