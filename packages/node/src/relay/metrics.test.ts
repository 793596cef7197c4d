import { encodeDatagram } from '@ferry/core/internal'
import { describe, expect, it } from 'vitest'
import { type RelayMetrics, renderPrometheus } from './metrics.js'
import { RawClient, readExactly, startRelay } from './relay-fixtures.js'

describe('Relay metrics', () => {
  it('counts sessions, connections, streams, bytes by direction and ALPN, datagrams', async () => {
    const fixture = await startRelay()
    const a = await RawClient.register(fixture)
    const b = await RawClient.register(fixture)
    const stream = await a.openBidi(
      { kind: 'connect', conn: 0, peer: b.id, offer: ['x/1', 'y/1'] },
      new Uint8Array(100),
    )
    const atB = await b.acceptBidi()
    expect(await readExactly(atB.readable.getReader(), 100)).toHaveLength(100)
    await atB.writable!.getWriter().write(new Uint8Array(30))
    expect(await readExactly(stream.readable.getReader(), 30)).toHaveLength(30)
    await a.sendDatagram(encodeDatagram(0, new Uint8Array(7)))
    await b.nextDatagram()
    await a.sendDatagram(encodeDatagram(40, new Uint8Array(7)))
    await fixture.network.settle()

    const metrics = fixture.relay.metrics()
    expect(metrics).toMatchObject({
      sessions: 2,
      clients: 2,
      connections: 1,
      streams: 1,
      sessionsAccepted: 2,
      authFailures: 0,
      bytes: { fromClients: 137, toClients: 137 },
      bytesByAlpn: { 'x/1': 137 },
      datagrams: { forwarded: 1, dropped: 1 },
    })
    expect(Object.values(metrics.refusals).every((n) => n === 0)).toBe(true)

    b.session.close({ closeCode: 0, reason: 'bye' })
    await a.next('close')
    await fixture.network.settle()
    expect(fixture.relay.metrics()).toMatchObject({ sessions: 1, connections: 0, streams: 0 })
  })

  it('renders the Prometheus text format, label values escaped', () => {
    const metrics: RelayMetrics = {
      sessions: 3,
      clients: 2,
      connections: 1,
      streams: 4,
      sessionsAccepted: 10,
      authFailures: 1,
      bytes: { fromClients: 1000, toClients: 990 },
      bytesByAlpn: { 'x/1': 600, 'a"b\\c\nd': 400 },
      datagrams: { forwarded: 5, dropped: 2 },
      refusals: { OFFLINE: 1, ACCESS_DENIED: 2 } as RelayMetrics['refusals'],
    }
    expect(renderPrometheus(metrics)).toBe(
      [
        '# HELP ferry_relay_sessions Sessions open now, registered or not.',
        '# TYPE ferry_relay_sessions gauge',
        'ferry_relay_sessions 3',
        '# HELP ferry_relay_clients Registered clients now.',
        '# TYPE ferry_relay_clients gauge',
        'ferry_relay_clients 2',
        '# HELP ferry_relay_connections Virtual connections now.',
        '# TYPE ferry_relay_connections gauge',
        'ferry_relay_connections 1',
        '# HELP ferry_relay_streams Spliced streams now.',
        '# TYPE ferry_relay_streams gauge',
        'ferry_relay_streams 4',
        '# HELP ferry_relay_sessions_accepted_total Sessions taken past the session limits.',
        '# TYPE ferry_relay_sessions_accepted_total counter',
        'ferry_relay_sessions_accepted_total 10',
        '# HELP ferry_relay_auth_failures_total AUTHs that failed.',
        '# TYPE ferry_relay_auth_failures_total counter',
        'ferry_relay_auth_failures_total 1',
        '# HELP ferry_relay_bytes_total Payload bytes forwarded, read from or written to clients.',
        '# TYPE ferry_relay_bytes_total counter',
        'ferry_relay_bytes_total{direction="from_clients"} 1000',
        'ferry_relay_bytes_total{direction="to_clients"} 990',
        '# HELP ferry_relay_alpn_bytes_total Payload bytes read from clients, by the ALPN of their connection.',
        '# TYPE ferry_relay_alpn_bytes_total counter',
        'ferry_relay_alpn_bytes_total{alpn="x/1"} 600',
        'ferry_relay_alpn_bytes_total{alpn="a\\"b\\\\c\\nd"} 400',
        '# HELP ferry_relay_datagrams_forwarded_total Datagrams forwarded.',
        '# TYPE ferry_relay_datagrams_forwarded_total counter',
        'ferry_relay_datagrams_forwarded_total 5',
        '# HELP ferry_relay_datagrams_dropped_total Datagrams dropped.',
        '# TYPE ferry_relay_datagrams_dropped_total counter',
        'ferry_relay_datagrams_dropped_total 2',
        '# HELP ferry_relay_refusals_total Sessions, connections and streams the relay refused or closed, by code.',
        '# TYPE ferry_relay_refusals_total counter',
        'ferry_relay_refusals_total{reason="OFFLINE"} 1',
        'ferry_relay_refusals_total{reason="ACCESS_DENIED"} 2',
        '',
      ].join('\n'),
    )
  })

  it('renders every refusal code of a live relay, zeros included', async () => {
    const fixture = await startRelay()
    const text = renderPrometheus(fixture.relay.metrics())
    expect(text).toContain('ferry_relay_refusals_total{reason="TOO_MANY_STREAMS"} 0\n')
    expect(text.match(/^ferry_relay_refusals_total\{/gm)).toHaveLength(14)
  })
})
