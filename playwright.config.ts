import { defineConfig } from '@playwright/test'
import { chromiumArgs, requireChromium } from './e2e/browsers.js'

/**
 * Browser tests. One worker: the machines are 2-core, and each test drives a real QUIC server
 * next to the browser, so parallel workers only add timing noise.
 */
export default defineConfig({
  testDir: 'e2e',
  testMatch: '**/*.spec.ts',
  globalSetup: './e2e/global-setup.ts',
  workers: 1,
  fullyParallel: false,
  timeout: 120_000,
  reporter: 'list',
  forbidOnly: !!process.env.CI,
  projects: [
    {
      name: 'chromium',
      use: {
        browserName: 'chromium',
        launchOptions: { executablePath: requireChromium(), args: chromiumArgs },
      },
    },
  ],
})
