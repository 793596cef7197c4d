import { parseArgs } from 'node:util'
import { Router } from '@ferry/core'
import { ECHO_ALPN, EchoProtocol } from '@ferry/echo'
import { Endpoint } from './endpoint.js'
import { chatCommand } from './chat-cli.js'
import { relayCommand } from './relay-cli.js'
import { stopSignal } from './stop-signal.js'

const usage = `usage: ferry <command> [options]

commands:
  echo      start an endpoint that serves the echo protocol (${ECHO_ALPN}) and print its ticket
  relay     start a relay (see ferry relay --help)
  chat      join a demo chat room from its link (see ferry chat --help)

options:
  --host HOST        address to bind (default 127.0.0.1)
  --port PORT        UDP port (default 4433; 0 picks a free one)
  --key-file FILE    keep the identity in FILE (created with mode 0600 if missing)
  --json             print the endpoint as one JSON line ({id, alpn, port, ticket})
  -h, --help         show this text
`

/** Runs the ferry command line with `argv` (without node and the script). */
export async function main(argv: string[]): Promise<number> {
  // Each command that has options of its own parses them itself.
  if (argv[0] === 'relay') return relayCommand(argv.slice(1))
  if (argv[0] === 'chat') return chatCommand(argv.slice(1))
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        host: { type: 'string', default: '127.0.0.1' },
        port: { type: 'string', default: '4433' },
        'key-file': { type: 'string' },
        json: { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
      },
    })
  } catch (error) {
    process.stderr.write(`ferry: ${(error as Error).message}\n${usage}`)
    return 2
  }
  const { values, positionals } = parsed
  const [command] = positionals
  if (values.help || command === undefined) {
    process.stdout.write(usage)
    return command === undefined && !values.help ? 2 : 0
  }
  if (command !== 'echo') {
    process.stderr.write(`ferry: unknown command ${command}\n${usage}`)
    return 2
  }
  const port = Number(values.port)
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`ferry: --port must be 0..65535\n`)
    return 2
  }
  let endpoint: Endpoint
  try {
    endpoint = await Endpoint.create({
      keyFile: values['key-file'],
      listen: { host: values.host, port },
    })
  } catch (error) {
    // A port in use, a key file that cannot be read or made: said in one line, not a trace.
    process.stderr.write(`ferry echo: ${(error as Error).message}\n`)
    return 1
  }
  const router = Router.builder(endpoint).accept(ECHO_ALPN, new EchoProtocol()).spawn()
  const stopped = stopSignal()
  const ready = {
    id: endpoint.id.toString(),
    alpn: ECHO_ALPN,
    port: endpoint.port,
    ticket: endpoint.ticket().toString(),
  }
  if (values.json) {
    process.stdout.write(`${JSON.stringify(ready)}\n`)
  } else {
    process.stdout.write(`endpoint ${ready.id}\n`)
    process.stdout.write(`serving ${ready.alpn} on udp port ${ready.port}\n`)
    process.stdout.write(`ticket ${ready.ticket}\n`)
  }
  await stopped
  await router.shutdown()
  return 0
}
