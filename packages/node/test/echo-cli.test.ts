/**
 * `ferry echo` as a user runs it: it starts with a key file in a directory that does not exist
 * yet, and a mistake (an unknown option, a port in use) ends it with one line and an exit code,
 * never a stack trace.
 */
import { spawn } from 'node:child_process'
import { createSocket } from 'node:dgram'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { EndpointTicket } from '@ferry/core'
import { ECHO_ALPN } from '@ferry/echo'
import { afterEach, describe, expect, it } from 'vitest'

const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step().catch(() => undefined)
})

/** Runs `ferry ...args`; `stopWhen` is told each stdout line and may stop the command. */
async function ferry(
  args: string[],
  stopWhen: (line: string) => boolean = () => false,
): Promise<{ code: number | null; stdout: string[]; stderr: string }> {
  const bin = fileURLToPath(new URL('../src/bin.ts', import.meta.url))
  const node = ['--conditions=@ferry/source', '--import', 'tsx']
  const child = spawn(process.execPath, [...node, bin, ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  cleanup.push(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await exited
  })
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const stdout: string[] = []
  createInterface({ input: child.stdout }).on('line', (line) => {
    stdout.push(line)
    if (stopWhen(line)) child.kill('SIGTERM')
  })
  const code = await exited
  return { code, stdout, stderr }
}

describe('ferry echo', () => {
  it('makes the key file and its directories, prints a ticket, and stops cleanly', async () => {
    // The stop is sent on its first line: a signal that arrives while it is still saying it is
    // ready must stop it cleanly too, not kill it.
    const dir = await mkdtemp(join(tmpdir(), 'ferry-echo-cli-'))
    cleanup.push(() => rm(dir, { recursive: true, force: true }))
    const keyFile = join(dir, 'not', 'yet', 'echo.key')
    const run = await ferry(['echo', '--port', '0', '--key-file', keyFile], (line) =>
      line.startsWith('endpoint '),
    )
    expect(run.code).toBe(0)
    expect(run.stdout.find((line) => line.startsWith('ticket endpoint'))).toBeDefined()
    expect((await stat(keyFile)).mode & 0o777).toBe(0o600)
  })

  it('with --json prints one JSON line whose ticket names its id and port', async () => {
    const run = await ferry(['echo', '--port', '0', '--json'], () => true)
    expect(run.code).toBe(0)
    expect(run.stdout).toHaveLength(1)
    const ready = JSON.parse(run.stdout[0]!) as Record<string, unknown>
    expect(Object.keys(ready).sort()).toEqual(['alpn', 'id', 'port', 'ticket'])
    expect(ready.alpn).toBe(ECHO_ALPN)
    const ticket = EndpointTicket.parse(ready.ticket as string)
    expect(ticket.addr.id.toString()).toBe(ready.id)
    expect(ticket.addr.direct.map((d) => new URL(d.url).port)).toEqual([String(ready.port)])
  })

  it('says in one line that its port is in use, and exits with 1', async () => {
    const socket = createSocket('udp4')
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve))
    cleanup.push(() => new Promise<void>((resolve) => socket.close(() => resolve())))
    const run = await ferry(['echo', '--port', String(socket.address().port)])
    expect(run.code).toBe(1)
    expect(run.stderr).toMatch(/^ferry echo: .*EADDRINUSE.*\n$/)
    expect(run.stdout).toEqual([])
  })

  it('refuses an unknown option with its usage, and exits with 2', async () => {
    const run = await ferry(['echo', '--prot', '4433'])
    expect(run.code).toBe(2)
    expect(run.stderr).toMatch(/^ferry: .*--prot/)
    expect(run.stderr).toContain('usage: ferry')
    expect(run.stderr).not.toMatch(/\n\s+at /)
  })
})
