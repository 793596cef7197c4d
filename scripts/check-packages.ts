/**
 * Checks what each published package would ship, from its packed tarball: `publint` (the
 * package.json against the files), `@arethetypeswrong/cli` (its types resolve for ESM
 * consumers under Node 16+ and bundlers), no tests, test fixtures or build state in the
 * tarball, no `node:` import in the browser bundles, and no README link to a file the tarball
 * does not hold (npm shows the README without the rest of the workspace). Prints each package's packed size and
 * file count. Exits 1 on any problem.
 *
 * Run as `pnpm run check:packages` after `pnpm run build`.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, posix } from 'node:path'
import { publint } from 'publint'
import { formatMessage } from 'publint/utils'
import { packWorkspace, workspaceRoot } from './pack.js'

const destination = mkdtempSync(join(tmpdir(), 'ferry-pack-'))
const problems: string[] = []
try {
  for (const pkg of packWorkspace(destination)) {
    const files = execFileSync('tar', ['-tzf', pkg.tarball], { encoding: 'utf8' })
      .trim()
      .split('\n')
    const size = statSync(pkg.tarball).size
    console.log(`${pkg.name}: ${files.length} files, ${(size / 1024).toFixed(1)} KiB packed`)

    const manifest = JSON.parse(readFileSync(join(pkg.dir, 'package.json'), 'utf8')) as object
    const tarball = readFileSync(pkg.tarball)
    const { messages } = await publint({
      pack: { tarball: tarball.buffer.slice(tarball.byteOffset, tarball.byteOffset + size) },
      strict: true,
    })
    for (const message of messages) {
      problems.push(`${pkg.name}: publint: ${formatMessage(message, manifest) ?? message.code}`)
    }

    // ESM only: CommonJS `require` and TypeScript's pre-exports `node10` resolution are out.
    const attw = spawnSync('attw', [pkg.tarball, '--profile', 'esm-only', '--format', 'ascii'], {
      cwd: workspaceRoot,
      encoding: 'utf8',
      shell: false,
      env: {
        ...process.env,
        PATH: `${join(workspaceRoot, 'node_modules/.bin')}:${process.env.PATH}`,
      },
    })
    if (attw.status !== 0) problems.push(`${pkg.name}: attw:\n${attw.stdout}${attw.stderr}`)

    const unwanted = files.filter((f) => /\.test\.|-fixtures\.|\.tsbuildinfo$/.test(f))
    if (unwanted.length > 0) problems.push(`${pkg.name}: ships ${unwanted.join(', ')}`)

    const readme = readFileSync(join(pkg.dir, 'README.md'), 'utf8')
    for (const [, target] of readme.matchAll(/\]\(([^)#\s]+)[^)]*\)/g)) {
      if (/^[a-z]+:/i.test(target!)) continue
      const packed = posix.join('package', target!)
      if (!files.some((f) => f === packed || f.startsWith(`${packed.replace(/\/$/, '')}/`))) {
        problems.push(`${pkg.name}: README links ${target}, which the package does not ship`)
      }
    }
  }

  for (const bundle of ['ferry.js', 'ferry.iife.js']) {
    const text = readFileSync(join(workspaceRoot, 'packages/browser/dist', bundle), 'utf8')
    const nodeImport = /\bfrom\s*["']node:|import\(\s*["']node:|require\(\s*["']node:/.exec(text)
    if (nodeImport) problems.push(`@ferry/browser: dist/${bundle} imports ${nodeImport[0]}`)
  }
} finally {
  rmSync(destination, { recursive: true, force: true })
}

if (problems.length > 0) {
  for (const problem of problems) console.error(problem)
  process.exit(1)
}
console.log('packages: publint, attw and contents ok')
