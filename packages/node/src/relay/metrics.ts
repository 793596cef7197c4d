/**
 * What a relay counts, as a plain snapshot ({@link RelayMetrics}), and that snapshot in the
 * Prometheus text exposition format ({@link renderPrometheus}).
 */
import { RelayCode, type RelayCodeName } from '@ferry/core/internal'

/** A snapshot of a relay's gauges (now) and counters (since it started). */
export interface RelayMetrics {
  /** Sessions open now, registered or not. */
  sessions: number
  /** Registered clients now. */
  clients: number
  /** Virtual connections now (each counted once). */
  connections: number
  /** Spliced streams now (each counted once). */
  streams: number
  /** Sessions taken past the session limits, since the start. */
  sessionsAccepted: number
  /** AUTHs that failed (late, malformed, a bad signature), since the start. */
  authFailures: number
  /**
   * Payload bytes forwarded (stream bytes and datagram payloads): read from clients, and
   * written to clients (the difference is in flight or lost with a stream that failed).
   */
  bytes: { fromClients: number; toClients: number }
  /**
   * Payload bytes read from clients, by the ALPN their connection is charged to (the first
   * allowed one of its offer). At most {@link maxAlpnLabels} ALPNs have their own entry; the
   * rest count under {@link otherAlpnLabel}, so a client cannot grow this without bound.
   */
  bytesByAlpn: Record<string, number>
  /** Datagrams forwarded, and dropped (undecodable, no connection, target busy, over rate). */
  datagrams: { forwarded: number; dropped: number }
  /** Sessions, connections and streams refused or closed by the relay, by code. */
  refusals: Record<RelayCodeName, number>
}

/** ALPNs that get an entry of their own in {@link RelayMetrics.bytesByAlpn}. */
export const maxAlpnLabels = 64
/** Where the bytes of further ALPNs count. */
export const otherAlpnLabel = '(other)'

/** The relay's counters; the gauges it reads from its own state when asked. */
export class Counters {
  sessionsAccepted = 0
  authFailures = 0
  fromClients = 0
  toClients = 0
  datagramsForwarded = 0
  datagramsDropped = 0
  readonly bytesByAlpn = new Map<string, number>()
  readonly refusals = Object.fromEntries(Object.keys(RelayCode).map((name) => [name, 0])) as Record<
    RelayCodeName,
    number
  >

  refused(code: RelayCodeName): void {
    this.refusals[code]++
  }

  /** The label `alpn`'s bytes count under. */
  alpnLabel(alpn: string): string {
    if (this.bytesByAlpn.has(alpn) || this.bytesByAlpn.size < maxAlpnLabels) return alpn
    return otherAlpnLabel
  }

  addAlpnBytes(label: string, n: number): void {
    this.bytesByAlpn.set(label, (this.bytesByAlpn.get(label) ?? 0) + n)
  }
}

type Sample = [labels: string, value: number]

/**
 * `metrics` in the Prometheus text exposition format (version 0.0.4): every metric with its
 * `# HELP` and `# TYPE`, names `ferry_relay_…`, label values escaped.
 */
export function renderPrometheus(metrics: RelayMetrics): string {
  const lines: string[] = []
  const metric = (
    name: string,
    type: 'gauge' | 'counter',
    help: string,
    samples: Sample[] | number,
  ): void => {
    lines.push(`# HELP ferry_relay_${name} ${escapeHelp(help)}`)
    lines.push(`# TYPE ferry_relay_${name} ${type}`)
    const list: Sample[] = typeof samples === 'number' ? [['', samples]] : samples
    for (const [labels, value] of list) lines.push(`ferry_relay_${name}${labels} ${number(value)}`)
  }
  const labelled = (label: string, record: Record<string, number>): Sample[] =>
    Object.entries(record).map(([key, value]) => [`{${label}="${escapeLabel(key)}"}`, value])

  metric('sessions', 'gauge', 'Sessions open now, registered or not.', metrics.sessions)
  metric('clients', 'gauge', 'Registered clients now.', metrics.clients)
  metric('connections', 'gauge', 'Virtual connections now.', metrics.connections)
  metric('streams', 'gauge', 'Spliced streams now.', metrics.streams)
  metric(
    'sessions_accepted_total',
    'counter',
    'Sessions taken past the session limits.',
    metrics.sessionsAccepted,
  )
  metric('auth_failures_total', 'counter', 'AUTHs that failed.', metrics.authFailures)
  metric(
    'bytes_total',
    'counter',
    'Payload bytes forwarded, read from or written to clients.',
    labelled('direction', {
      from_clients: metrics.bytes.fromClients,
      to_clients: metrics.bytes.toClients,
    }),
  )
  metric(
    'alpn_bytes_total',
    'counter',
    'Payload bytes read from clients, by the ALPN of their connection.',
    labelled('alpn', metrics.bytesByAlpn),
  )
  metric(
    'datagrams_forwarded_total',
    'counter',
    'Datagrams forwarded.',
    metrics.datagrams.forwarded,
  )
  metric('datagrams_dropped_total', 'counter', 'Datagrams dropped.', metrics.datagrams.dropped)
  metric(
    'refusals_total',
    'counter',
    'Sessions, connections and streams the relay refused or closed, by code.',
    labelled('reason', metrics.refusals),
  )
  return lines.join('\n') + '\n'
}

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"')
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function number(value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}
