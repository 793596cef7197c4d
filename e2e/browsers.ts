/**
 * Where the browsers for ferry's end-to-end tests live. Playwright cannot download its own
 * browsers on CI, so Debian's packages are the fallback; a Playwright-installed Chromium is
 * preferred on a developer's machine so versions match what Playwright expects.
 */

import { chromium } from '@playwright/test'
import { accessSync, constants, statSync } from 'node:fs'

/**
 * Flags that keep headless Chromium quiet on a closed network and runnable as root in a
 * container (no sandbox, no GPU, no background fetches).
 */
export const chromiumArgs = [
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
]

/** No browser binary of the requested kind was found; `code` is `BROWSER_NOT_FOUND`. */
export class BrowserNotFoundError extends Error {
  static override readonly name = 'BrowserNotFoundError'
  override readonly name = 'BrowserNotFoundError'
  readonly code = 'BROWSER_NOT_FOUND'
  constructor(
    readonly browser: 'chromium' | 'firefox',
    message: string,
  ) {
    super(message)
  }
}

/**
 * Finds a Chromium binary, trying in order: `$CHROMIUM_PATH`, Playwright's own Chromium
 * (`npx playwright install chromium`), `/usr/bin/chromium` (Debian), `/usr/bin/chromium-browser`.
 * A candidate counts only if it is an executable file.
 *
 * @returns the absolute path, or `undefined` when none is found.
 */
export function findChromium(): string | undefined {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv && isExecutableFile(fromEnv)) return fromEnv
  const playwright = playwrightChromium()
  if (playwright !== undefined && isExecutableFile(playwright)) return playwright
  return ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find(isExecutableFile)
}

/**
 * {@link findChromium}, but throws when nothing is found.
 *
 * @throws {BrowserNotFoundError} no Chromium binary is available.
 */
export function requireChromium(): string {
  const found = findChromium()
  if (found !== undefined) return found
  throw new BrowserNotFoundError(
    'chromium',
    'No Chromium found. Install one: `apt-get install -y chromium` (Debian), or ' +
      '`npx playwright install chromium`, or set CHROMIUM_PATH.' +
      missingEnvNote('CHROMIUM_PATH'),
  )
}

/**
 * Finds a Firefox binary, trying in order: `$FIREFOX_PATH`, `/usr/bin/firefox-esr` (Debian),
 * `/usr/bin/firefox`. A candidate counts only if it is an executable file.
 *
 * @returns the absolute path, or `undefined` when none is found.
 */
export function findFirefox(): string | undefined {
  const fromEnv = process.env.FIREFOX_PATH
  if (fromEnv && isExecutableFile(fromEnv)) return fromEnv
  return ['/usr/bin/firefox-esr', '/usr/bin/firefox'].find(isExecutableFile)
}

/**
 * {@link findFirefox}, but throws when nothing is found.
 *
 * @throws {BrowserNotFoundError} no Firefox binary is available.
 */
export function requireFirefox(): string {
  const found = findFirefox()
  if (found !== undefined) return found
  throw new BrowserNotFoundError(
    'firefox',
    'No Firefox found. Install one: `apt-get install -y firefox-esr` (Debian), ' +
      'or set FIREFOX_PATH.' +
      missingEnvNote('FIREFOX_PATH'),
  )
}

function playwrightChromium(): string | undefined {
  try {
    // Throws on platforms Playwright does not support; returns a path even when the browser
    // was never downloaded, hence the existence check by the caller.
    return chromium.executablePath()
  } catch {
    return undefined
  }
}

/** A path set in the environment that points nowhere is worth saying out loud. */
function missingEnvNote(variable: 'CHROMIUM_PATH' | 'FIREFOX_PATH'): string {
  const value = process.env[variable]
  return value ? ` (${variable}=${value} is not an executable file.)` : ''
}

function isExecutableFile(path: string): boolean {
  try {
    // statSync follows symlinks: Debian's /usr/bin/firefox-esr is one.
    if (!statSync(path).isFile()) return false
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}
