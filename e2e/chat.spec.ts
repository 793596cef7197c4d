import { expect, test, type Page } from '@playwright/test'

/** Opens the chat in a fresh browser context (a person of its own) and enters a nickname. */
async function person(browser: import('@playwright/test').Browser, url: string, nickname: string) {
  const context = await browser.newContext()
  const page = await context.newPage()
  await page.goto(url)
  await page.getByLabel('Your nickname').fill(nickname)
  await page.getByRole('button', { name: /Create a room|Join the room/ }).click()
  await expect(page.locator('#status')).toHaveAttribute('data-state', 'online')
  return { context, page }
}

async function say(page: Page, text: string): Promise<void> {
  await page.getByRole('textbox', { name: 'Message' }).fill(text)
  await page.getByRole('textbox', { name: 'Message' }).press('Enter')
}

const messages = (page: Page) => page.locator('#messages .message .text')

test('two people chat in a room made from a link, and see each other come and go', async ({
  browser,
}, testInfo) => {
  const ada = await person(browser, process.env.FERRY_CHAT_PAGE!, 'ada')
  const link = ada.page.url()
  expect(link).toMatch(/#[0-9a-f]{64}\.[a-z2-7]+$/)
  const bo = await person(browser, link, 'bo')

  for (const { page } of [ada, bo]) {
    await expect(page.locator('#members li')).toHaveCount(2)
    await expect(page.locator('#members')).toContainText('ada')
    await expect(page.locator('#members')).toContainText('bo')
  }
  await say(ada.page, 'hello from ada')
  await say(bo.page, 'hi ada, bo here')
  for (const { page } of [ada, bo]) {
    await expect(messages(page)).toHaveText(['hello from ada', 'hi ada, bo here'])
  }
  // Each message once, with its author's nickname beside it.
  await expect(bo.page.locator('#messages .message').first().locator('.author')).toHaveText('ada')

  await ada.page.screenshot({ path: testInfo.outputPath('room-desktop.png') })
  await bo.page.setViewportSize({ width: 390, height: 760 })
  await bo.page.screenshot({ path: testInfo.outputPath('room-phone.png') })

  // Closing a tab says no goodbye: the room notices the lost neighbor, and drops it when no
  // presence follows within one presence interval (10 s).
  await bo.context.close()
  await expect(ada.page.locator('#members li')).toHaveCount(1, { timeout: 30_000 })
  await ada.context.close()
})
