import { constants } from 'node:fs'
import { type FileHandle, link, mkdir, open, rename, unlink } from 'node:fs/promises'
import { basename, dirname, join } from 'node:path'
import { DecodeError, FerryError, SecretKey } from '@ferry/core'
import { base32Decode, base32Encode } from '@ferry/core/internal'

/**
 * The key file: one line, `ferry-secret-key-1:` and the 32-byte Ed25519 seed in ferry's
 * base32, then a newline (72 bytes). Created with mode 0600 and never rewritten.
 */
const prefix = 'ferry-secret-key-1:'

/** No key file is larger; the limit leaves room for trailing whitespace an editor adds. */
const maxKeyFileBytes = 1024

/** Why a key file could not be used. */
export type KeyFileErrorCode =
  /** Group or others have some permission on the file (as ssh refuses a private key). */
  | 'UNPROTECTED'
  /** The file belongs to another user. */
  | 'NOT_OWNED'
  /** The path's last component is a symbolic link, which a key file may not be. */
  | 'SYMLINK'
  /** The path is a directory, a device, a FIFO or a socket, not a regular file. */
  | 'NOT_A_FILE'
  /**
   * The file is empty: a creation that stopped before it wrote the key (as earlier versions
   * could leave after a crash). It never held a key; delete it and a new one is made.
   */
  | 'EMPTY'
  /** The file holds something other than a key, or is larger than any key file. */
  | 'MALFORMED'

/** A key file that is not safe to use, or does not hold a key. */
export class KeyFileError extends FerryError<KeyFileErrorCode> {
  static {
    this.prototype.name = 'KeyFileError'
  }
}

/**
 * Loads the secret key at `path`, or makes a new one there (mode 0600) if nothing is there;
 * directories missing on the way to it are made, mode 0700.
 *
 * The key is written to a temporary file beside `path`, synced, then hard-linked to `path`,
 * so a crash at any point leaves either no key file or a complete one (and at worst a
 * `.<name>.<random>.tmp` file, which later calls ignore). Two callers racing to create the
 * same file, in one process or several, end up with the same key: `link()` lets exactly one
 * of them win, and the others load its file. Needs a POSIX file system that has hard links.
 * @throws {TypeError} if `path` is not a non-empty string.
 * @throws {KeyFileError} as {@link loadKeyFile}.
 */
export async function loadOrCreateKeyFile(path: string): Promise<SecretKey> {
  checkPath(path)
  try {
    return await loadKeyFile(path)
  } catch (e) {
    if (errnoCode(e) !== 'ENOENT') throw e
  }
  return createKeyFile(path)
}

/**
 * Loads the secret key at `path`. The file is opened without following a symbolic link, and
 * checked through the open descriptor (so it cannot be swapped between the check and the
 * read): a regular file, owned by the current user, with no permission for group or others.
 * Symbolic links in the directories above it are followed, as ssh does.
 * @throws {TypeError} if `path` is not a non-empty string.
 * @throws {KeyFileError} `SYMLINK` if `path` is a symbolic link, `NOT_A_FILE` if it is not a
 *   regular file, `NOT_OWNED` if another user owns it, `UNPROTECTED` if group or others have
 *   any permission on it, `EMPTY` if it is empty, `MALFORMED` if it holds no key.
 * @throws {Error} the file system's error (`ENOENT` and others) if it cannot be opened.
 */
export async function loadKeyFile(path: string): Promise<SecretKey> {
  checkPath(path)
  const bytes = await _readPrivateFile(path, maxKeyFileBytes)
  try {
    if (bytes.length === 0) {
      throw new KeyFileError(
        'EMPTY',
        `${path} is empty: its creation was interrupted before it held a key; delete it`,
      )
    }
    return await parseKey(bytes, path)
  } finally {
    bytes.fill(0)
  }
}

/**
 * Reads a file that only its owner may read (a key file, or a private key beside one), with
 * the checks {@link loadKeyFile} describes, and at most `maxBytes` of it. For `@ferry/node`'s
 * own files, not part of the package's API. The bytes are the caller's: zero them after use
 * when they are secret.
 * @throws {KeyFileError} `SYMLINK`, `NOT_A_FILE`, `NOT_OWNED`, `UNPROTECTED` as
 *   {@link loadKeyFile}; `MALFORMED` if the file is larger than `maxBytes`.
 * @throws {Error} the file system's error (`ENOENT` and others) if it cannot be opened.
 */
export async function _readPrivateFile(path: string, maxBytes: number): Promise<Uint8Array> {
  let file: FileHandle
  try {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
    // O_NOCTTY: a terminal device must not become this process's controlling terminal.
    file = await open(
      path,
      constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK | constants.O_NOCTTY,
    )
  } catch (e) {
    // Linux and macOS say ELOOP for a final symbolic link under O_NOFOLLOW, FreeBSD EMLINK.
    const code = errnoCode(e)
    if (code === 'ELOOP' || code === 'EMLINK') {
      throw new KeyFileError('SYMLINK', `${path} is a symbolic link; use the file it names`, {
        cause: e,
      })
    }
    throw e
  }
  try {
    return await readChecked(file, path, maxBytes)
  } finally {
    await file.close()
  }
}

async function readChecked(file: FileHandle, path: string, maxBytes: number): Promise<Uint8Array> {
  const stats = await file.stat()
  if (!stats.isFile()) throw new KeyFileError('NOT_A_FILE', `${path} is not a regular file`)
  const uid = process.getuid?.()
  if (uid !== undefined && stats.uid !== uid) {
    throw new KeyFileError('NOT_OWNED', `${path} belongs to uid ${stats.uid}, not to ${uid}`)
  }
  if ((stats.mode & 0o077) !== 0) {
    throw new KeyFileError(
      'UNPROTECTED',
      `${path} is open to others (mode ${(stats.mode & 0o777).toString(8)}); chmod 600 it`,
    )
  }
  if (stats.size > maxBytes) {
    throw new KeyFileError('MALFORMED', `${path} is ${stats.size} bytes, over ${maxBytes}`)
  }
  // One byte over the limit, to notice a file that grew after the fstat.
  const bytes = new Uint8Array(maxBytes + 1)
  let length = 0
  try {
    while (length < bytes.length) {
      const { bytesRead } = await file.read(bytes, length, bytes.length - length, length)
      if (bytesRead === 0) break
      length += bytesRead
    }
  } catch (e) {
    bytes.fill(0)
    throw e
  }
  if (length > maxBytes) {
    bytes.fill(0)
    throw new KeyFileError('MALFORMED', `${path} is over ${maxBytes} bytes`)
  }
  return bytes.subarray(0, length)
}

async function parseKey(bytes: Uint8Array, path: string): Promise<SecretKey> {
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes).trimEnd()
  } catch (e) {
    throw new KeyFileError('MALFORMED', `${path} is not text`, { cause: e })
  }
  if (!text.startsWith(prefix)) {
    throw new KeyFileError('MALFORMED', `${path} is not a ferry key file`)
  }
  let seed: Uint8Array | undefined
  try {
    seed = base32Decode(text.slice(prefix.length), 32)
    if (seed.length !== 32) throw new DecodeError('INVALID', 'a seed is 32 bytes')
    return await SecretKey.fromBytes(seed)
  } catch (e) {
    throw new KeyFileError('MALFORMED', `${path} does not hold a valid key`, { cause: e })
  } finally {
    seed?.fill(0)
  }
}

async function createKeyFile(path: string): Promise<SecretKey> {
  const fresh = await SecretKey.generate()
  const seed = fresh.toBytes()
  const line = `${prefix}${base32Encode(seed)}\n`
  seed.fill(0)
  const temp = await writeTemp(path, line)
  let linked: boolean
  try {
    // Unlike rename(), link() never replaces: if another creator got there first, EEXIST.
    linked = await linkUnlessExists(temp, path)
  } catch (e) {
    await removeAfter(e, temp)
    throw e
  }
  await unlink(temp)
  // The winner makes its link durable before it returns the key; a loser too, before it
  // returns the winner's key, in case the winner crashed before its own sync.
  await syncDirectory(dirname(path))
  return linked ? fresh : loadKeyFile(path)
}

/**
 * Replaces the file at `path` with `data`, atomically and durably, mode 0600: written to a
 * temporary file beside it, synced, renamed over it, the directory synced. A crash leaves the
 * old file or the new one whole (and at worst a `.<name>.<random>.tmp` file). For
 * `@ferry/node`'s own files, not part of the package's API; unlike a key file, which is never
 * replaced, for files that may be made again (a certificate kept beside a key file).
 * @throws {TypeError} if `path` is not a non-empty string.
 * @throws {Error} the file system's error.
 */
export async function _writePrivateFile(path: string, data: string): Promise<void> {
  checkPath(path)
  const temp = await writeTemp(path, data)
  try {
    // rename() does not follow a symbolic link at `path`: it replaces the link itself.
    await rename(temp, path)
  } catch (e) {
    await removeAfter(e, temp)
    throw e
  }
  await syncDirectory(dirname(path))
}

/**
 * Writes `data` to a fresh `.<name>.<random>.tmp` beside `path`, mode 0600, synced; makes the
 * directories missing on the way, mode 0700 (as ssh makes `~/.ssh`).
 */
async function writeTemp(path: string, data: string): Promise<string> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 })
  const nonce = base32Encode(crypto.getRandomValues(new Uint8Array(10)))
  const temp = join(dirname(path), `.${basename(path)}.${nonce}.tmp`)
  // O_EXCL: a fresh file of ours, never an existing one or the target of a symbolic link.
  const file = await open(
    temp,
    constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW,
    0o600,
  )
  try {
    try {
      // The umask may have taken bits from 0600; the file must be exactly 0600 either way.
      await file.chmod(0o600)
      await file.writeFile(data)
      await file.sync()
    } finally {
      await file.close()
    }
  } catch (e) {
    await removeAfter(e, temp)
    throw e
  }
  return temp
}

/** Removes `temp` after `error`; if that fails too, throws both. */
async function removeAfter(error: unknown, temp: string): Promise<void> {
  await unlink(temp).catch((cleanup: unknown) => {
    throw new AggregateError([error, cleanup], `${temp} could not be removed after an error`)
  })
}

async function linkUnlessExists(from: string, to: string): Promise<boolean> {
  try {
    await link(from, to)
    return true
  } catch (e) {
    if (errnoCode(e) === 'EEXIST') return false
    throw e
  }
}

async function syncDirectory(directory: string): Promise<void> {
  const handle = await open(directory, constants.O_RDONLY | constants.O_DIRECTORY)
  try {
    await handle.sync()
  } finally {
    await handle.close()
  }
}

function checkPath(path: unknown): void {
  if (typeof path !== 'string' || path === '') {
    throw new TypeError('path must be a non-empty string')
  }
}

function errnoCode(e: unknown): string | undefined {
  return e instanceof Error ? (e as NodeJS.ErrnoException).code : undefined
}
