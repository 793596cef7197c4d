import { expect, test } from '@playwright/test'

test('the echo page opens a WebTransport session and gets its bytes back', async ({ page }) => {
  await page.goto(process.env.FERRY_ECHO_PAGE!)
  const status = page.locator('#status[data-state]')
  await expect(status).toHaveAttribute('data-state', 'done')
  await expect(status).toHaveText('echo: hello over QUIC')
  // The page offered echo/1 first; the server chose echo/2.
  await expect(page.locator('#log')).toContainText('protocol: echo/2')
})
