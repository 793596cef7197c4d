import { spawn } from 'node:child_process'
import { createInterface } from 'node:readline'

/**
 * Starts the echo demo (a real WebTransport server and its page) in its own process, hands its
 * address to the tests through the environment, and stops it afterwards.
 */
export default async function globalSetup(): Promise<() => Promise<void>> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'apps/echo/server.ts'], {
    env: { ...process.env, FERRY_WT_PORT: '0', FERRY_HTTP_PORT: '0' },
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const lines = createInterface({ input: child.stdout })
  const url = await new Promise<string>((resolve, reject) => {
    child.once('exit', (code) => reject(new Error(`echo server exited with ${code}`)))
    lines.on('line', (line) => {
      const m = /open (http:\/\/\S+)/.exec(line)
      if (m) resolve(m[1]!)
    })
  })
  process.env.FERRY_ECHO_PAGE = url
  return async () => {
    child.kill('SIGTERM')
    await new Promise((resolve) => child.once('exit', resolve))
  }
}
