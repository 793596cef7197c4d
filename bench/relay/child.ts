/**
 * Child processes of `bench/relay.ts`: Node running a TypeScript entry through tsx on the
 * packages' sources (as `e2e/processes.ts` starts them), read line by line, with its CPU time
 * and memory read from `/proc`.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createInterface } from 'node:readline'

/** Clock ticks a second, the unit of `/proc/<pid>/stat`'s CPU times. */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  } catch {
    return 100
  }
})()

/** A running child: what it printed, one line at a time, and how to stop it. */
export class NodeChild {
  readonly process: ChildProcess
  readonly #lines: string[] = []
  #waiting: (() => void) | undefined
  #exited: Promise<number | null>

  constructor(args: string[], env: Record<string, string> = {}, stdin = false) {
    this.process = spawn(
      process.execPath,
      ['--conditions=@ferry/source', '--import', 'tsx', ...args],
      {
        env: { ...process.env, ...env },
        stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'inherit'],
      },
    )
    createInterface({ input: this.process.stdout! }).on('line', (line) => {
      this.#lines.push(line)
      this.#waiting?.()
    })
    this.#exited = new Promise((resolve) => this.process.once('exit', resolve))
    void this.#exited.then(() => this.#waiting?.())
  }

  get pid(): number {
    return this.process.pid!
  }

  /**
   * The next JSON line that `match` accepts (earlier lines are dropped).
   * @throws {Error} when the child exits first.
   */
  async next<T>(match: (value: Record<string, unknown>) => boolean = () => true): Promise<T> {
    for (;;) {
      while (this.#lines.length > 0) {
        const line = this.#lines.shift()!
        if (!line.startsWith('{')) continue
        const value = JSON.parse(line) as Record<string, unknown>
        if (match(value)) return value as T
      }
      if (this.process.exitCode !== null || this.process.signalCode !== null) {
        throw new Error(`child ${this.process.spawnargs.join(' ')} exited`)
      }
      await new Promise<void>((resolve) => (this.#waiting = resolve))
      this.#waiting = undefined
    }
  }

  /** Writes one line to the child's stdin. */
  send(line: string): void {
    this.process.stdin!.write(`${line}\n`)
  }

  /** User + system CPU time so far, in ms. */
  cpuMs(): number {
    // The fields after the command (which is in parentheses and may hold spaces).
    const stat = readFileSync(`/proc/${this.pid}/stat`, 'utf8')
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 after the command.
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / ticksPerSecond
  }

  /** SIGTERMs the child and waits for it to exit. */
  async stop(): Promise<void> {
    if (this.process.exitCode !== null || this.process.signalCode !== null) return
    this.process.kill('SIGTERM')
    await this.#exited
  }
}
