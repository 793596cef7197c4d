import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'

/** A child process running a TypeScript entry through tsx. */
export interface Child {
  process: ChildProcess
  stop(): Promise<void>
}

/**
 * Starts `entry` with tsx and resolves with the first stdout line that `match` accepts (what the
 * child prints once it listens), so callers wait on the child's own word, not on a timer.
 */
export async function startChild<T>(
  entry: string,
  env: Record<string, string>,
  match: (line: string) => T | undefined,
): Promise<[Child, T]> {
  // The workspace runs the packages from their sources (the `@ferry/source` export condition).
  const node = ['--conditions=@ferry/source', '--import', 'tsx']
  const child = spawn(process.execPath, [...node, entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  const value = await new Promise<T>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`${entry} exited with ${code}`)))
    lines.on('line', (line) => {
      const v = match(line)
      if (v !== undefined) resolve(v)
    })
  })
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return
    const exited = new Promise((resolve) => child.once('exit', resolve))
    child.kill('SIGTERM')
    await exited
  }
  return [{ process: child, stop }, value]
}

/** Starts the browser-check fixture (e2e/fixture/main.ts); resolves with its page URL. */
export async function startFixtureProcess(): Promise<[Child, { pageUrl: string }]> {
  return startChild('e2e/fixture/main.ts', {}, (line) =>
    line.startsWith('{') ? (JSON.parse(line) as { pageUrl: string }) : undefined,
  )
}

/** Starts the ferry endpoint fixture (e2e/ferry/main.ts); resolves with its JSON line. */
export async function startFerryFixture(): Promise<[Child, string]> {
  return startChild('e2e/ferry/main.ts', {}, (line) => (line.startsWith('{') ? line : undefined))
}

/** Starts the Session suite's responder and page (e2e/session/main.ts); resolves with its line. */
export async function startSessionFixture(): Promise<[Child, string]> {
  return startChild('e2e/session/main.ts', {}, (line) => (line.startsWith('{') ? line : undefined))
}

/** Starts the relay tests' fixture (e2e/relay/main.ts); resolves with its JSON line. */
export async function startRelayFixture(): Promise<[Child, string]> {
  return startChild('e2e/relay/main.ts', {}, (line) => (line.startsWith('{') ? line : undefined))
}

/**
 * Starts the chat demo (`apps/chat/start.ts`, what `npm start` runs) on free ports, its relay's
 * key kept in a temporary directory that stopping it removes; resolves with its page URL.
 */
export async function startChatDemo(): Promise<[Child, string]> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-e2e-chat-'))
  const removeDir = (): Promise<void> => rm(dir, { recursive: true, force: true })
  let started: [Child, string]
  try {
    started = await startChild(
      'apps/chat/start.ts',
      {
        FERRY_RELAY_PORT: '0',
        FERRY_HTTP_PORT: '0',
        FERRY_RELAY_KEY_FILE: join(dir, 'relay.key'),
      },
      (line) => /open (http:\/\/\S+)/.exec(line)?.[1],
    )
  } catch (error) {
    await removeDir()
    throw error
  }
  const [child, url] = started
  return [
    {
      process: child.process,
      async stop() {
        await child.stop()
        await removeDir()
      },
    },
    url,
  ]
}
