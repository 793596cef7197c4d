import { open, readFile, stat } from 'node:fs/promises'
import { DecodeError, FerryError, SecretKey } from '@ferry/core'
import { base32Decode, base32Encode } from '@ferry/core/internal'

/**
 * The key file: one line, `ferry-secret-key-1:` and the 32-byte Ed25519 seed in ferry's
 * base32, then a newline. Created with mode 0600 and never rewritten.
 */
const prefix = 'ferry-secret-key-1:'

/** Why a key file could not be used. */
export type KeyFileErrorCode = 'UNPROTECTED' | 'MALFORMED'

/** A key file that is readable by others, or does not hold a key. */
export class KeyFileError extends FerryError<KeyFileErrorCode> {
  static {
    this.prototype.name = 'KeyFileError'
  }
}

/**
 * Loads the secret key at `path`, or makes a new one there (mode 0600) if the file does not
 * exist. Two processes racing to create it end up with the same key.
 * @throws {KeyFileError} `UNPROTECTED` if group or others may read the file (as ssh refuses),
 *   `MALFORMED` if it holds no key.
 */
export async function loadOrCreateKeyFile(path: string): Promise<SecretKey> {
  const fresh = await SecretKey.generate()
  try {
    const file = await open(path, 'wx', 0o600)
    try {
      await file.writeFile(`${prefix}${base32Encode(fresh.toBytes())}\n`)
      await file.sync()
    } finally {
      await file.close()
    }
    return fresh
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e
  }
  return loadKeyFile(path)
}

/**
 * Loads the secret key at `path`.
 * @throws {KeyFileError} as {@link loadOrCreateKeyFile}.
 */
export async function loadKeyFile(path: string): Promise<SecretKey> {
  const { mode } = await stat(path)
  if ((mode & 0o077) !== 0) {
    throw new KeyFileError(
      'UNPROTECTED',
      `${path} is readable by others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`,
    )
  }
  const text = (await readFile(path, 'utf8')).trimEnd()
  if (!text.startsWith(prefix)) {
    throw new KeyFileError('MALFORMED', `${path} is not a ferry key file`)
  }
  try {
    const seed = base32Decode(text.slice(prefix.length), 32)
    if (seed.length !== 32) throw new DecodeError('INVALID', 'a seed is 32 bytes')
    return await SecretKey.fromBytes(seed)
  } catch (e) {
    throw new KeyFileError('MALFORMED', `${path} does not hold a valid key`, { cause: e })
  }
}
