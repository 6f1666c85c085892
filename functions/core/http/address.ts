import ipaddr from 'ipaddr.js';

/**
 * Address classification for the SSRF guard (DESIGN.md "CIMD rules", fetching).
 *
 * Only plain global unicast addresses are public. Everything ipaddr.js knows as a special range
 * (loopback, RFC 1918 private, link-local including 169.254.169.254, CGNAT 100.64/10, multicast,
 * broadcast, reserved, unspecified, unique-local fc00::/7, ...) is refused, and so is any IPv6
 * address outside 2000::/3, the only block IANA allocates for global unicast.
 *
 * IPv4 embedded in IPv6: an IPv4-mapped address (`::ffff:a.b.c.d`) is judged by the IPv4 address it
 * carries, because that is where the socket goes. Translation and tunnelling prefixes (6to4
 * 2002::/16, Teredo 2001::/32, NAT64 64:ff9b::/96 and 64:ff9b:1::/48, the RFC 6145 translated
 * range) are refused outright: a client ID document has no business behind them, and the IPv4
 * address they reach is not always recoverable.
 */
export type AddressClass = { public: true } | { public: false; range: string };

const GLOBAL_UNICAST_V6 = ipaddr.IPv6.parseCIDR('2000::/3');

/** Ranges refused outright even when they could carry a public IPv4 address. */
const EMBEDDING_RANGES = new Set(['6to4', 'teredo', 'rfc6052', 'rfc6145']);

/**
 * Classifies one IP address (IPv4 dotted or IPv6, optionally bracketed or with a zone ID).
 * Anything that does not parse as an address is not public (`range: 'invalid'`).
 */
export function classifyAddress(ip: string): AddressClass {
  const text = ip.startsWith('[') && ip.endsWith(']') ? ip.slice(1, -1) : ip;
  let address: ipaddr.IPv4 | ipaddr.IPv6;
  try {
    address = ipaddr.parse(text);
  } catch {
    return { public: false, range: 'invalid' };
  }
  return classifyParsed(address);
}

function classifyParsed(address: ipaddr.IPv4 | ipaddr.IPv6): AddressClass {
  if (address.kind() === 'ipv4') {
    const range = address.range();
    return range === 'unicast' ? { public: true } : { public: false, range };
  }
  const v6 = address as ipaddr.IPv6;
  const range = v6.range();
  if (range === 'ipv4Mapped') {
    const embedded = classifyParsed(v6.toIPv4Address());
    return embedded.public ? embedded : { public: false, range: `ipv4Mapped(${embedded.range})` };
  }
  if (EMBEDDING_RANGES.has(range)) return { public: false, range };
  if (range !== 'unicast') return { public: false, range };
  if (!v6.match(GLOBAL_UNICAST_V6)) return { public: false, range: 'notGlobalUnicast' };
  return { public: true };
}

/**
 * For a URL's host: `undefined` when it is a DNS name (it must be resolved and every address
 * classified), else the classification of the literal address. Takes `new URL(...).hostname`, which
 * the WHATWG parser has already normalised (`2130706433`, `0177.0.0.1`, `0x7f.1` and `127.1` all
 * become `127.0.0.1`); legacy forms that reach here some other way are parsed the same way.
 */
export function classifyHost(hostname: string): AddressClass | undefined {
  const text = hostname.startsWith('[') && hostname.endsWith(']') ? hostname.slice(1, -1) : hostname;
  if (!isIpLiteral(text)) return undefined;
  return classifyAddress(text);
}

/** True when the host is an IP address literal (any form ipaddr.js accepts), not a DNS name. */
export function isIpLiteral(host: string): boolean {
  const text = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  return ipaddr.isValid(text);
}
