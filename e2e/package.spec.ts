/**
 * ferry as a user gets it from npm: every published package packed into a tarball, installed
 * into a scratch project outside the workspace (no workspace links, no TypeScript loader, no
 * `@ferry/source` condition), and used there — a Node script run with plain `node`, a
 * TypeScript file type-checked against the shipped declarations, and a page built by Vite and
 * opened in Chromium.
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process'
import {
  cpSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs'
import { createServer, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { extname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { expect, test } from '@playwright/test'
import { packWorkspace, pnpm, workspaceRoot } from '../scripts/pack.js'

/** The environment of a user's shell: without the workspace's `@ferry/source` condition. */
const userEnv = (): NodeJS.ProcessEnv => {
  const env = { ...process.env }
  delete env.NODE_OPTIONS
  for (const key of Object.keys(env)) if (key.startsWith('npm_')) delete env[key]
  return env
}

let scratch: string
let server: ChildProcess | undefined
let pages: Server | undefined
let ticket: string
let echoed: string

test.describe.configure({ mode: 'serial', timeout: 300_000 })

test.beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'ferry-consumer-'))
  const tarballs = join(scratch, 'tarballs')
  mkdirSync(tarballs)
  const packed = packWorkspace(tarballs)
  const spec = (name: string): string => {
    const pkg = packed.find((p) => p.name === name)
    if (!pkg) throw new Error(`${name} was not packed`)
    return `file:${pkg.tarball}`
  }
  const workspace = JSON.parse(readFileSync(join(workspaceRoot, 'package.json'), 'utf8')) as {
    devDependencies: Record<string, string>
  }
  const manifest = {
    name: 'ferry-consumer',
    private: true,
    type: 'module',
    dependencies: Object.fromEntries(
      ['@ferry/browser', '@ferry/echo', '@ferry/node'].map((name) => [name, spec(name)]),
    ),
    devDependencies: Object.fromEntries(
      ['typescript', 'vite', '@types/node'].map((name) => [name, workspace.devDependencies[name]]),
    ),
    // The packed manifests name their ferry dependencies by version: take those from the
    // tarballs too, never from a registry.
    pnpm: { overrides: Object.fromEntries(packed.map((p) => [p.name, spec(p.name)])) },
  }
  writeFileSync(join(scratch, 'package.json'), JSON.stringify(manifest, null, 2))
  cpSync(join(workspaceRoot, 'e2e/consumer'), scratch, { recursive: true })
  const run = (command: string[]): void => {
    execFileSync(command[0]!, command.slice(1), { cwd: scratch, env: userEnv(), stdio: 'inherit' })
  }
  run([...pnpm, 'install', '--prefer-offline', '--ignore-workspace'])
  ;[server, { ticket, echoed }] = await startEchoScript()
})

test.afterAll(async () => {
  pages?.close()
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve))
    server.kill('SIGTERM')
    await exited
  }
  if (scratch) rmSync(scratch, { recursive: true, force: true })
})

/** Runs `echo.mjs` with plain node; resolves with its JSON line. */
async function startEchoScript(): Promise<[ChildProcess, { ticket: string; echoed: string }]> {
  const child = spawn(process.execPath, ['echo.mjs'], {
    cwd: scratch,
    env: userEnv(),
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const line = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`echo.mjs exited with ${code}`)))
    createInterface({ input: child.stdout }).once('line', resolve)
  })
  return [child, JSON.parse(line) as { ticket: string; echoed: string }]
}

test('a Node script run with plain node serves and dials @ferry/echo from the tarballs', () => {
  expect(echoed).toBe('hello from plain node')
  expect(ticket).toMatch(/^endpoint[a-z2-7]+$/)
  // Nothing resolved from the workspace: the packages are real copies in node_modules.
  const installed = readdirSync(join(scratch, 'node_modules/@ferry'))
  expect(installed.sort()).toEqual(['browser', 'echo', 'node'])
})

test('the ferry command runs with plain node from the installed package', () => {
  const bin = join(scratch, 'node_modules/.bin/ferry')
  const help = execFileSync(bin, ['--help'], { env: userEnv(), encoding: 'utf8' })
  expect(help).toContain('usage: ferry <command>')
})

test('a consumer .ts type-checks against the shipped declarations', () => {
  const tsc = join(scratch, 'node_modules/typescript/bin/tsc')
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.consumer.json'], {
    cwd: scratch,
    env: userEnv(),
    encoding: 'utf8',
  })
  expect(result.stdout + result.stderr).toBe('')
  expect(result.status).toBe(0)
})

test('a page built by Vite from @ferry/browser echoes against that endpoint in Chromium', async ({
  page,
}) => {
  const vite = join(scratch, 'node_modules/vite/bin/vite.js')
  execFileSync(
    process.execPath,
    [vite, 'build', 'page', '--outDir', 'dist', '--logLevel', 'warn'],
    {
      cwd: scratch,
      env: userEnv(),
      stdio: 'inherit',
    },
  )
  const built = join(scratch, 'page/dist')
  const scripts = readdirSync(join(built, 'assets')).filter((f) => f.endsWith('.js'))
  for (const file of scripts) {
    expect(readFileSync(join(built, 'assets', file), 'utf8')).not.toMatch(/["']node:/)
  }
  const url = await serveStatic(built)
  await page.goto(url)
  await expect(page.locator('body')).toHaveAttribute('data-ready', 'true')
  const text = 'hello from a page built with vite'
  const result = await page.evaluate(
    ([t, s]) =>
      (window as unknown as { ferryEcho(t: string, s: string): Promise<string> }).ferryEcho(t, s),
    [ticket, text] as const,
  )
  expect(result).toBe(text)
})

const types: Record<string, string> = {
  '.html': 'text/html',
  '.js': 'text/javascript',
  '.map': 'application/json',
}

/** Serves `root` on 127.0.0.1; resolves with its URL. */
async function serveStatic(root: string): Promise<string> {
  pages = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname
    const file = join(root, path === '/' ? 'index.html' : path)
    if (!file.startsWith(root)) return void res.writeHead(403).end()
    try {
      const body = readFileSync(file)
      res.writeHead(200, { 'content-type': types[extname(file)] ?? 'application/octet-stream' })
      res.end(body)
    } catch {
      res.writeHead(404).end()
    }
  })
  await new Promise<void>((resolve) => pages!.listen(0, '127.0.0.1', resolve))
  const address = pages.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return `http://127.0.0.1:${address.port}/`
}
