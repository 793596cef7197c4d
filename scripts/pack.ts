/**
 * Packs every published workspace package the way `pnpm publish` would (workspace versions
 * resolved, `files` applied) into one folder. The package checks and the packed-consumer test
 * both start from these tarballs.
 */
import { execFileSync } from 'node:child_process'
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'

/** The workspace's root folder. */
export const workspaceRoot = join(import.meta.dirname, '..')

/** A published package of the workspace and its tarball. */
export interface PackedPackage {
  name: string
  dir: string
  tarball: string
}

/** The packages under `packages/` that are not private, in folder order. */
export function publishedPackages(): { name: string; dir: string }[] {
  const root = join(workspaceRoot, 'packages')
  return readdirSync(root)
    .map((folder) => join(root, folder))
    .map((dir) => ({
      dir,
      manifest: JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
        name: string
        private?: boolean
      },
    }))
    .filter(({ manifest }) => !manifest.private)
    .map(({ dir, manifest }) => ({ name: manifest.name, dir }))
}

/**
 * Packs each published package into `destination` with pnpm (which rewrites `workspace:*`
 * into real versions). The packages must be built (`pnpm run build`).
 * @throws {Error} when a package has no `dist/` or pnpm fails.
 */
export function packWorkspace(destination: string): PackedPackage[] {
  return publishedPackages().map(({ name, dir }) => {
    if (!existsSync(join(dir, 'dist'))) {
      throw new Error(`${name} has no dist/: run \`pnpm run build\` first`)
    }
    const out = execFileSync(
      pnpm[0]!,
      [...pnpm.slice(1), 'pack', '--pack-destination', destination],
      {
        cwd: dir,
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    )
    const tarball = out.trim().split('\n').pop()!.trim()
    return { name, dir, tarball }
  })
}

/**
 * How to run pnpm: the one running this script when there is one (`pnpm run …` sets
 * `npm_execpath`), else the README's `npx --yes pnpm@10`.
 */
export const pnpm: string[] = process.env.npm_execpath?.includes('pnpm')
  ? [process.execPath, process.env.npm_execpath]
  : ['npx', '--yes', 'pnpm@10']
