/**
 * The ALPN offer in a WebTransport URL's query. Dialers send their offer in the `protocols`
 * option (`wt-available-protocols`) and, for browsers that lack that option (Firefox 153), as
 * repeated `alpn` query parameters too; the acceptor reads the query only when the header is
 * missing. See PROTOCOL.md, "ALPN negotiation".
 */

/** The query parameter that carries the ALPN offer. */
const alpnQuery = 'alpn'

/** `url` with `alpns` as its offer, in preference order (any offer it carried is replaced). */
export function withAlpnOffer(url: string | URL, alpns: readonly string[]): URL {
  const u = new URL(url)
  u.searchParams.delete(alpnQuery)
  for (const alpn of alpns) u.searchParams.append(alpnQuery, alpn)
  return u
}

/** The ALPN offer in `url`'s query, in the dialer's preference order. */
export function alpnOfferOf(url: URL): string[] {
  return url.searchParams.getAll(alpnQuery)
}
