import { type ChildProcess, execFileSync, spawn } from 'node:child_process'
import {
  chmod,
  chown,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  writeFile,
} from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath } from 'node:url'
import { afterEach, describe, expect, it } from 'vitest'
import { PublicKey } from '@ferry/core'
import { KeyFileError, type KeyFileErrorCode, loadKeyFile, loadOrCreateKeyFile } from './keyfile.js'

const cleanup: (() => Promise<unknown>)[] = []

afterEach(async () => {
  await Promise.allSettled(cleanup.splice(0).map((f) => f()))
})

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'ferry-keyfile-'))
  cleanup.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

/** Writes `content` to a new file that is exactly `mode`, whatever the umask. */
async function fileWith(path: string, content: string | Uint8Array, mode = 0o600) {
  await writeFile(path, content, { mode })
  await chmod(path, mode)
  return path
}

async function keyFileError(promise: Promise<unknown>): Promise<KeyFileErrorCode> {
  const e = await promise.then(
    () => expect.fail('expected a KeyFileError'),
    (x: unknown) => x,
  )
  expect(e).toBeInstanceOf(KeyFileError)
  expect((e as KeyFileError).name).toBe('KeyFileError')
  return (e as KeyFileError).code
}

// RFC 8032 §7.1 test 1: the secret seed, and its public key. The seed's base32 is Python's
// base64.b32encode, lowercased and unpadded.
const rfcSeedBase32 = 'tvq3dhpp7vngbouejl2jf3bmyrcetrljpmzgsglqhowaghfop5qa'
const rfcPublicKey = PublicKey.fromBytes(
  Buffer.from('d75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a', 'hex'),
)
const rfcKeyFile = `ferry-secret-key-1:${rfcSeedBase32}\n`

describe('loadOrCreateKeyFile', () => {
  it('creates one 0600 file holding one key line, and loads that key afterwards', async () => {
    const dir = await tempDir()
    const path = join(dir, 'ferry.key')
    const created = await loadOrCreateKeyFile(path)
    expect((await stat(path)).mode & 0o777).toBe(0o600)
    expect((await stat(path)).nlink).toBe(1)
    const text = await readFile(path, 'utf8')
    expect(text).toMatch(/^ferry-secret-key-1:[a-z2-7]{52}\n$/)
    expect(await readdir(dir)).toEqual(['ferry.key'])
    expect((await loadKeyFile(path)).publicKey.equals(created.publicKey)).toBe(true)
    expect((await loadOrCreateKeyFile(path)).publicKey.equals(created.publicKey)).toBe(true)
    expect(await readFile(path, 'utf8')).toBe(text)
  })

  it('makes the directories missing on the way to the file, mode 0700', async () => {
    const dir = await tempDir()
    const path = join(dir, 'a', 'b', 'ferry.key')
    const created = await loadOrCreateKeyFile(path)
    expect((await stat(join(dir, 'a'))).mode & 0o777).toBe(0o700)
    expect((await stat(join(dir, 'a', 'b'))).mode & 0o777).toBe(0o700)
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['ferry.key'])
    expect((await loadKeyFile(path)).publicKey.equals(created.publicKey)).toBe(true)
  })

  it('loads the key an existing file holds (RFC 8032 vector)', async () => {
    const path = await fileWith(join(await tempDir(), 'ferry.key'), rfcKeyFile)
    expect((await loadOrCreateKeyFile(path)).publicKey.equals(rfcPublicKey)).toBe(true)
    expect((await loadKeyFile(path)).publicKey.equals(rfcPublicKey)).toBe(true)
    // A read-only file is protected too, and trailing whitespace (a CRLF editor) is fine.
    await fileWith(path, `ferry-secret-key-1:${rfcSeedBase32}\r\n`, 0o400)
    expect((await loadKeyFile(path)).publicKey.equals(rfcPublicKey)).toBe(true)
  })

  it('gives every one of many concurrent callers the same key, and leaves no temporary file', async () => {
    const dir = await tempDir()
    const path = join(dir, 'ferry.key')
    const keys = await Promise.all(Array.from({ length: 16 }, () => loadOrCreateKeyFile(path)))
    const onDisk = await loadKeyFile(path)
    for (const key of keys) expect(key.publicKey.equals(onDisk.publicKey)).toBe(true)
    expect(await readdir(dir)).toEqual(['ferry.key'])
  })

  it('gives concurrent processes the same key', async () => {
    const dir = await tempDir()
    const path = join(dir, 'ferry.key')
    const children = Array.from({ length: 4 }, () => creatorProcess(path))
    // Every child has loaded its code and waits; then all of them, and this process, go.
    await Promise.all(children.map((c) => c.ready))
    for (const c of children) c.process.stdin?.end('go\n')
    const [ours, theirs] = await Promise.all([
      Promise.all(Array.from({ length: 4 }, () => loadOrCreateKeyFile(path))),
      Promise.all(children.map((c) => c.result)),
    ])
    const onDisk = (await loadKeyFile(path)).publicKey.toString()
    expect(ours.map((k) => k.publicKey.toString())).toEqual(Array(4).fill(onDisk))
    expect(theirs).toEqual(Array(4).fill(onDisk))
    expect(await readdir(dir)).toEqual(['ferry.key'])
  })

  it('creates the key beside temporary files a crashed creation left behind', async () => {
    const dir = await tempDir()
    const path = join(dir, 'ferry.key')
    // A crash before the sync (empty), and one before the link (a key that never became it).
    await fileWith(join(dir, '.ferry.key.aaaaaaaaaaaaaaaa.tmp'), '')
    await fileWith(join(dir, '.ferry.key.bbbbbbbbbbbbbbbb.tmp'), rfcKeyFile)
    const created = await loadOrCreateKeyFile(path)
    expect(created.publicKey.equals(rfcPublicKey)).toBe(false)
    expect((await loadKeyFile(path)).publicKey.equals(created.publicKey)).toBe(true)
    expect((await readdir(dir)).sort()).toEqual([
      '.ferry.key.aaaaaaaaaaaaaaaa.tmp',
      '.ferry.key.bbbbbbbbbbbbbbbb.tmp',
      'ferry.key',
    ])
  })

  it('reports an empty key file (an older crashed creation) as EMPTY, and leaves it', async () => {
    const path = await fileWith(join(await tempDir(), 'ferry.key'), '')
    expect(await keyFileError(loadOrCreateKeyFile(path))).toBe('EMPTY')
    expect(await keyFileError(loadKeyFile(path))).toBe('EMPTY')
    expect((await stat(path)).size).toBe(0)
  })

  it('refuses to create through a dangling symbolic link', async () => {
    const dir = await tempDir()
    const path = join(dir, 'ferry.key')
    await symlink(join(dir, 'elsewhere.key'), path)
    expect(await keyFileError(loadOrCreateKeyFile(path))).toBe('SYMLINK')
    expect((await readdir(dir)).sort()).toEqual(['ferry.key'])
  })

  it('refuses an unusable path', async () => {
    await expect(loadOrCreateKeyFile('')).rejects.toThrow(TypeError)
    await expect(loadOrCreateKeyFile(7 as unknown as string)).rejects.toThrow(TypeError)
    // A directory on the way that is a file.
    const file = await fileWith(join(await tempDir(), 'file'), 'not a directory')
    await expect(loadOrCreateKeyFile(join(file, 'ferry.key'))).rejects.toMatchObject({
      code: 'ENOTDIR',
    })
  })
})

describe('loadKeyFile', () => {
  it('fails with ENOENT when there is no file, and creates none', async () => {
    const dir = await tempDir()
    await expect(loadKeyFile(join(dir, 'ferry.key'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await readdir(dir)).toEqual([])
  })

  it('refuses a symbolic link, even to a good key file', async () => {
    const dir = await tempDir()
    const target = await fileWith(join(dir, 'real.key'), rfcKeyFile)
    const path = join(dir, 'ferry.key')
    await symlink(target, path)
    expect(await keyFileError(loadKeyFile(path))).toBe('SYMLINK')
    expect(await keyFileError(loadOrCreateKeyFile(path))).toBe('SYMLINK')
  })

  it('refuses a file that group or others may use in any way', async () => {
    const dir = await tempDir()
    for (const mode of [0o640, 0o604, 0o620, 0o602, 0o610, 0o601, 0o644, 0o666]) {
      const path = await fileWith(join(dir, `${mode.toString(8)}.key`), rfcKeyFile, mode)
      expect(await keyFileError(loadKeyFile(path))).toBe('UNPROTECTED')
      expect(await keyFileError(loadOrCreateKeyFile(path))).toBe('UNPROTECTED')
    }
  })

  it('refuses a file another user owns, even when its mode is 0600', async () => {
    const uid = process.getuid?.()
    expect(uid).toBeDefined()
    let path: string
    if (uid === 0) {
      // Root may give a file away; a key file root did not write is still refused.
      path = await fileWith(join(await tempDir(), 'ferry.key'), rfcKeyFile)
      await chown(path, 1, 1)
    } else {
      // Anyone else cannot give a file away, but may open one root owns.
      path = '/etc/passwd'
    }
    expect((await stat(path)).uid).not.toBe(uid)
    expect(await keyFileError(loadKeyFile(path))).toBe('NOT_OWNED')
    expect(await keyFileError(loadOrCreateKeyFile(path))).toBe('NOT_OWNED')
  })

  it('refuses a directory, a FIFO (without waiting for a writer) and a device', async () => {
    const dir = await tempDir()
    const directory = join(dir, 'directory.key')
    await mkdir(directory, { mode: 0o700 })
    expect(await keyFileError(loadKeyFile(directory))).toBe('NOT_A_FILE')
    const fifo = join(dir, 'fifo.key')
    execFileSync('mkfifo', ['-m', '600', fifo])
    expect(await keyFileError(loadKeyFile(fifo))).toBe('NOT_A_FILE')
    expect(await keyFileError(loadOrCreateKeyFile(fifo))).toBe('NOT_A_FILE')
    expect(await keyFileError(loadKeyFile('/dev/zero'))).toBe('NOT_A_FILE')
  })

  it('refuses garbage as MALFORMED', async () => {
    const dir = await tempDir()
    const seed = rfcSeedBase32
    const garbage: [string, string | Uint8Array][] = [
      ['other prefix', `ferry-secret-key-2:${seed}\n`],
      ['no prefix', `${seed}\n`],
      ['whitespace only', '\n\n'],
      ['not base32', 'ferry-secret-key-1:not base32!\n'],
      ['upper case', `ferry-secret-key-1:${seed.toUpperCase()}\n`],
      ['31 bytes', `ferry-secret-key-1:${seed.slice(0, 50)}\n`],
      ['33 bytes', `ferry-secret-key-1:${seed}aa\n`],
      ['no seed', 'ferry-secret-key-1:\n'],
      ['a second line', `ferry-secret-key-1:${seed}\nferry-secret-key-1:${seed}\n`],
      ['leading space', ` ferry-secret-key-1:${seed}\n`],
      ['invalid UTF-8', new Uint8Array([0x66, 0xff, 0xfe, 0x0a])],
      ['binary', new Uint8Array(72).fill(0)],
    ]
    for (const [name, content] of garbage) {
      const path = await fileWith(join(dir, `${name}.key`), content)
      expect([name, await keyFileError(loadKeyFile(path))]).toEqual([name, 'MALFORMED'])
      expect([name, await keyFileError(loadOrCreateKeyFile(path))]).toEqual([name, 'MALFORMED'])
    }
  })

  it('reads up to 1024 bytes and refuses a larger file as MALFORMED', async () => {
    const dir = await tempDir()
    const padded = (size: number) => rfcKeyFile.padEnd(size, '\n')
    const largest = await fileWith(join(dir, 'largest.key'), padded(1024))
    expect((await loadKeyFile(largest)).publicKey.equals(rfcPublicKey)).toBe(true)
    for (const size of [1025, 1 << 20]) {
      const path = await fileWith(join(dir, `${size}.key`), padded(size))
      expect(await keyFileError(loadKeyFile(path))).toBe('MALFORMED')
    }
  })
})

/**
 * A child process that loads the key file's module, says `ready`, waits for a line on stdin,
 * then calls `loadOrCreateKeyFile(path)` and prints the key's public key.
 */
function creatorProcess(path: string): {
  process: ChildProcess
  ready: Promise<void>
  result: Promise<string>
} {
  const module = fileURLToPath(new URL('./keyfile.ts', import.meta.url))
  const script = `
    import { createInterface } from 'node:readline'
    import { loadOrCreateKeyFile } from ${JSON.stringify(module)}
    const lines = createInterface({ input: process.stdin })[Symbol.asyncIterator]()
    console.log('ready')
    await lines.next()
    console.log((await loadOrCreateKeyFile(${JSON.stringify(path)})).publicKey.toString())
    process.exit(0)
  `
  const child = spawn(
    process.execPath,
    ['--conditions=@ferry/source', '--import', 'tsx', '--input-type=module', '-e', script],
    { stdio: ['pipe', 'pipe', 'inherit'] },
  )
  cleanup.push(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill()
    return Promise.resolve()
  })
  const lines = createInterface({ input: child.stdout })[Symbol.asyncIterator]()
  const nextLine = async () => {
    const next = await lines.next()
    if (next.done) throw new Error(`the creator process ended early (exit ${child.exitCode})`)
    return next.value
  }
  const ready = nextLine().then((line) => {
    if (line !== 'ready') throw new Error(`the creator process said ${line}`)
  })
  const result = ready.then(nextLine)
  return { process: child, ready, result }
}
