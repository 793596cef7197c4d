/** `ferry relay`: runs a relay server until SIGINT or SIGTERM. */
import { readFile } from 'node:fs/promises'
import { parseArgs } from 'node:util'
import { PublicKey } from '@ferry/core'
import type { RelayInfo, RelayServerOptions } from './relay-server.js'
import { runRelay } from './run-relay.js'
import { stopSignal } from './stop-signal.js'

const usage = `usage: ferry relay [options]

Runs a relay: endpoints (browsers too) register with it by their EndpointId and reach each
other through it, end-to-end encrypted.

options:
  --host HOST        address to bind, UDP and TCP (default 127.0.0.1)
  --port PORT        UDP port for WebTransport (default 4433; 0 picks a free one)
  --http-port PORT   TCP port for /health, /metrics and /relay (default: the UDP port)
  --cert FILE        serve this certificate (PEM; with --key) instead of a self-signed one
  --key FILE         the certificate's private key (PEM)
  --key-file FILE    keep the relay's identity in FILE (created with mode 0600 if missing),
                     and its self-signed certificate in FILE.cert.pem, so a restarted relay
                     presents the same hash (a new one is made a day before it expires)
  --allow FILE       accept only the EndpointIds listed in FILE (one per line, # comments)
  --deny FILE        refuse the EndpointIds listed in FILE
  --token TOKEN      accept only clients that present TOKEN
  --client-rate SIZE forward at most SIZE bytes a second from each client, streams and
                     datagrams (e.g. 4MiB, 500kB; default: no limit); a client above it is
                     slowed down by QUIC flow control, its excess datagrams are dropped
  --client-burst SIZE
                     what a client may send at once after a quiet while (default: twice
                     --client-rate)
  --json             print the relay's address as one JSON object on one line
  -h, --help         show this text

It prints its URL, EndpointId and, for a self-signed certificate, the hashes pages pin
(also served at http://HOST:HTTP-PORT/relay). SIGINT or SIGTERM tells the clients it is
going away (they reconnect at once) and stops it.
`

/** A list of EndpointIds, one per line; blank lines and `#` comments are skipped. */
async function readIds(file: string): Promise<PublicKey[]> {
  const text = await readFile(file, 'utf8')
  const ids: PublicKey[] = []
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.replace(/#.*/, '').trim()
    if (line === '') continue
    try {
      ids.push(PublicKey.fromString(line))
    } catch {
      throw new Error(`${file}:${i + 1}: not an EndpointId: ${line}`)
    }
  }
  return ids
}

const units: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
}

/**
 * A byte count such as `4MiB`, `500kB`, `1.5GB` or `65536` (binary units are powers of 1024,
 * decimal ones of 1000), rounded to whole bytes.
 * @throws {Error} naming `name`, for anything else or a result below one byte.
 */
export function parseByteSize(value: string, name: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(value.trim())
  const unit = m ? units[m[2]!.toLowerCase()] : undefined
  const bytes = unit === undefined ? NaN : Math.round(Number(m![1]) * unit)
  if (!Number.isFinite(bytes) || bytes < 1) {
    throw new Error(
      `${name} must be a size in bytes such as 4MiB or 500kB, got ${JSON.stringify(value)}`,
    )
  }
  return bytes
}

function port(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${name} must be 0..65535`)
  return n
}

/** Runs `ferry relay` with `argv` (the arguments after `relay`); resolves with the exit code. */
export async function relayCommand(argv: string[]): Promise<number> {
  let options: RelayServerOptions
  let json = false
  try {
    const { values } = parseArgs({
      args: argv,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '4433' },
        'http-port': { type: 'string' },
        cert: { type: 'string' },
        key: { type: 'string' },
        'key-file': { type: 'string' },
        allow: { type: 'string' },
        deny: { type: 'string' },
        token: { type: 'string' },
        'client-rate': { type: 'string' },
        'client-burst': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
    if (values.help) {
      process.stdout.write(usage)
      return 0
    }
    json = values.json ?? false
    const udp = port(values.port, '--port')!
    const access = [values.allow, values.deny, values.token].filter((v) => v !== undefined)
    if (access.length > 1) throw new Error('give one of --allow, --deny and --token')
    if ((values.cert === undefined) !== (values.key === undefined)) {
      throw new Error('--cert and --key go together')
    }
    const clientRate = values['client-rate']
    const clientBurst = values['client-burst']
    if (clientBurst !== undefined && clientRate === undefined) {
      throw new Error('--client-burst goes with --client-rate')
    }
    options = {
      host: values.host,
      port: udp,
      httpPort: port(values['http-port'], '--http-port') ?? udp,
      keyFile: values['key-file'],
      certificate:
        values.cert !== undefined ? { certFile: values.cert, keyFile: values.key! } : undefined,
    }
    if (clientRate !== undefined) {
      options.bytesPerSecond = parseByteSize(clientRate, '--client-rate')
      if (clientBurst !== undefined)
        options.bytesBurst = parseByteSize(clientBurst, '--client-burst')
    }
    if (values.allow !== undefined) {
      options.access = { mode: 'allow', ids: await readIds(values.allow) }
    } else if (values.deny !== undefined) {
      options.access = { mode: 'deny', ids: await readIds(values.deny) }
    } else if (values.token !== undefined) {
      options.access = { mode: 'token', token: values.token }
    }
  } catch (error) {
    process.stderr.write(`ferry relay: ${(error as Error).message}\n${usage}`)
    return 2
  }
  const stopped = stopSignal()
  try {
    // With --key-file and no --cert, the self-signed certificate is kept beside the key file,
    // and renewed a day before it expires (see runRelay).
    await runRelay(
      {
        ...options,
        onError: () => {
          // Refused clients and broken streams are the relay's daily work, not news.
        },
      },
      stopped,
      (server) => print(server.info(), json),
    )
    return 0
  } catch (error) {
    process.stderr.write(`ferry relay: ${(error as Error).message}\n`)
    return 1
  }
}

/** Prints the relay's address: one JSON line, or one line per fact. */
function print(info: RelayInfo, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(info)}\n`)
  } else {
    process.stdout.write(`relay ${info.url}\n`)
    process.stdout.write(`id ${info.id}\n`)
    for (const hash of info.certHashes) process.stdout.write(`cert-hash ${hash}\n`)
    if (info.http) process.stdout.write(`http ${info.http}\n`)
  }
}
