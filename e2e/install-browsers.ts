/**
 * Makes sure the browsers the end-to-end tests drive are present, before any of them runs.
 * Playwright cannot download its own browsers on a closed network, so a missing Chromium or
 * Firefox comes from Debian's packages (`chromium`, `firefox-esr`) when this runs as root on a
 * system with apt-get; anywhere else it prints the exact command to run and exits 1.
 *
 * Run as `tsx e2e/install-browsers.ts` (the test command does).
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { findChromium, findFirefox } from './browsers.js'

const missing = [
  findChromium() === undefined ? 'chromium' : undefined,
  findFirefox() === undefined ? 'firefox-esr' : undefined,
].filter((name) => name !== undefined)

if (missing.length === 0) process.exit(0)

const command = `apt-get update && apt-get install -y ${missing.join(' ')}`
const isRoot = process.getuid?.() === 0
if (!isRoot || !existsSync('/usr/bin/apt-get')) {
  console.error(
    `The browser tests need ${missing.join(' and ')}. Install ${missing.length > 1 ? 'them' : 'it'}:\n` +
      `  sudo sh -c '${command}'     (Debian or Ubuntu)\n` +
      `or point CHROMIUM_PATH / FIREFOX_PATH at a binary` +
      (missing.includes('chromium') ? `, or run \`npx playwright install chromium\`.` : '.'),
  )
  process.exit(1)
}

console.error(`Installing ${missing.join(' and ')} from the system's packages: ${command}`)
for (const args of [['update'], ['install', '-y', ...missing]]) {
  const result = spawnSync('apt-get', args, {
    // No prompts, ever: the test command may run without a terminal.
    env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
    stdio: ['ignore', 'inherit', 'inherit'],
  })
  if (result.status !== 0) {
    console.error(`apt-get ${args.join(' ')} failed (exit ${result.status ?? result.signal})`)
    process.exit(1)
  }
}
