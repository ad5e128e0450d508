/**
 * Server-side request forgery guard for media downloads: a media URL names a host on the allow-list, but the address
 * that host resolves to must also be public, or the worker could be steered (by a booru post, a redirect or a DNS
 * answer) at the operator's own network: a database, a cloud metadata endpoint, a router. Addresses on private,
 * loopback, link-local, CGNAT, documentation, multicast and reserved ranges are refused after resolution, unless the
 * operator trusts the host (the booru's own origin, TAGGER_MEDIA_ALLOW_PRIVATE names) or the address
 * (TAGGER_MEDIA_ALLOW_PRIVATE subnets). The check runs inside the socket's own DNS lookup, so the connection goes to
 * exactly the address that was checked: a second, different DNS answer (rebinding) never reaches a socket.
 */
import { type LookupAddress, lookup as dnsLookup } from 'node:dns';
import { BlockList, isIP } from 'node:net';

/** Resolves a host name to every address it has (as `dns.lookup(host, { all: true })`). Injected in tests. */
export type ResolveHost = (hostname: string) => Promise<LookupAddress[]>;

/** The system resolver (getaddrinfo: /etc/hosts, then DNS), every address. */
export const systemResolve: ResolveHost = (hostname) =>
  new Promise((resolve, reject) => {
    dnsLookup(hostname, { all: true, verbatim: true }, (error, addresses) =>
      error ? reject(error) : resolve(addresses),
    );
  });

/** Ranges no media download may reach unless trusted (IANA special-purpose registries, IPv4 and IPv6). */
const NON_PUBLIC: readonly [string, number, 'ipv4' | 'ipv6'][] = [
  ['0.0.0.0', 8, 'ipv4'], // "this network", unspecified
  ['10.0.0.0', 8, 'ipv4'], // private
  ['100.64.0.0', 10, 'ipv4'], // CGNAT
  ['127.0.0.0', 8, 'ipv4'], // loopback
  ['169.254.0.0', 16, 'ipv4'], // link-local, cloud metadata (169.254.169.254)
  ['172.16.0.0', 12, 'ipv4'], // private
  ['192.0.0.0', 24, 'ipv4'], // IETF protocol assignments
  ['192.0.2.0', 24, 'ipv4'], // documentation
  ['192.88.99.0', 24, 'ipv4'], // 6to4 relay
  ['192.168.0.0', 16, 'ipv4'], // private
  ['198.18.0.0', 15, 'ipv4'], // benchmarking
  ['198.51.100.0', 24, 'ipv4'], // documentation
  ['203.0.113.0', 24, 'ipv4'], // documentation
  ['224.0.0.0', 4, 'ipv4'], // multicast
  ['240.0.0.0', 4, 'ipv4'], // reserved, broadcast
  ['::', 128, 'ipv6'], // unspecified
  ['::1', 128, 'ipv6'], // loopback
  ['64:ff9b::', 96, 'ipv6'], // NAT64 (embeds an IPv4 address)
  ['64:ff9b:1::', 48, 'ipv6'], // local NAT64
  ['100::', 64, 'ipv6'], // discard
  ['2001:db8::', 32, 'ipv6'], // documentation
  ['2002::', 16, 'ipv6'], // 6to4 (embeds an IPv4 address)
  ['fc00::', 7, 'ipv6'], // unique local
  ['fe80::', 10, 'ipv6'], // link-local
  ['fec0::', 10, 'ipv6'], // site-local (deprecated)
  ['ff00::', 8, 'ipv6'], // multicast
];

const BLOCKED = new BlockList();
for (const [network, prefix, type] of NON_PUBLIC) BLOCKED.addSubnet(network, prefix, type);

/** Whether `address` (an IP literal) is on a public range. IPv4-mapped IPv6 (`::ffff:127.0.0.1`) is judged as IPv4. */
export function isPublicAddress(address: string): boolean {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return false;
  return !BLOCKED.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** Which non-public destinations the operator trusts. */
export interface PrivateAllowance {
  /** Host names (exact, or `*.domain` / `.domain`) whose addresses are never checked. */
  hosts: readonly string[];
  /** Addresses and subnets (`10.1.2.3`, `10.0.0.0/8`, `fd00::/8`) that may be reached. */
  subnets: BlockList;
}

/**
 * Reads TAGGER_MEDIA_ALLOW_PRIVATE-style entries (plus the booru's own host): an IP or CIDR is a trusted subnet,
 * anything else a trusted host name. Throws an Error naming a malformed CIDR.
 */
export function privateAllowance(entries: readonly string[]): PrivateAllowance {
  const hosts: string[] = [];
  const subnets = new BlockList();
  for (const raw of entries) {
    const entry = raw.trim().replace(/^\[|\]$/g, '');
    if (entry === '') continue;
    const [network = '', prefixText] = entry.split('/');
    const family = isIP(network);
    if (family === 0) {
      if (prefixText !== undefined) throw new Error(`not an IP subnet: ${raw}`);
      hosts.push(entry.toLowerCase());
      continue;
    }
    const type = family === 4 ? 'ipv4' : 'ipv6';
    const max = family === 4 ? 32 : 128;
    const prefix = prefixText === undefined ? max : Number(prefixText);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`bad prefix length in ${raw}`);
    subnets.addSubnet(network, prefix, type);
  }
  return { hosts, subnets };
}

/** Whether a download from `hostname` may connect to `address`. */
export function addressPermitted(hostname: string, address: string, allowance: PrivateAllowance): boolean {
  if (isPublicAddress(address)) return true;
  const host = hostname.replace(/^\[|\]$/g, '').toLowerCase();
  if (hostAllowed(host, allowance.hosts)) return true;
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  return family !== 0 && allowance.subnets.check(bare, family === 4 ? 'ipv4' : 'ipv6');
}

/** The error a refused address raises inside a connection attempt (recognised by its code). */
export class AddressRefusedError extends Error {
  readonly code = 'ERR_ADDRESS_REFUSED';
  constructor(
    readonly hostname: string,
    readonly address: string,
  ) {
    super(
      `media host ${hostname} resolves to the non-public address ${address}: refused (trust it with TAGGER_MEDIA_ALLOW_PRIVATE)`,
    );
    this.name = 'AddressRefusedError';
  }
}

/** Finds an {@link AddressRefusedError} in an error's cause chain (undici may wrap what the socket raised). */
export function findAddressRefusal(thrown: unknown): AddressRefusedError | null {
  let current: unknown = thrown;
  for (let depth = 0; depth < 5 && current instanceof Error; depth += 1) {
    if (current instanceof AddressRefusedError) return current;
    current = current.cause;
  }
  return null;
}

type LookupCallback = (error: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void;

/**
 * A `lookup` for `net.connect` / undici's `connect` options: resolves with `resolve`, refuses the connection when any
 * address is not permitted (an {@link AddressRefusedError}), and hands the socket exactly the checked addresses.
 */
export function guardedLookup(allowance: PrivateAllowance, resolve: ResolveHost = systemResolve) {
  return (hostname: string, options: { all?: boolean } | number | undefined, callback: LookupCallback): void => {
    resolve(hostname).then(
      (addresses) => {
        if (addresses.length === 0) {
          callback(Object.assign(new Error(`no address for ${hostname}`), { code: 'ENOTFOUND' }), []);
          return;
        }
        const refused = addresses.find((a) => !addressPermitted(hostname, a.address, allowance));
        if (refused) {
          callback(new AddressRefusedError(hostname, refused.address), []);
          return;
        }
        const first = addresses[0]!;
        if (typeof options === 'object' && options?.all) callback(null, addresses);
        else callback(null, first.address, first.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, []),
    );
  };
}

/** Whether `host` matches one of `allowed` (exact, or `*.domain` / `.domain` for the domain and its subdomains). */
export function hostAllowed(host: string, allowed: readonly string[]): boolean {
  const name = host.toLowerCase();
  return allowed.some((entry) => {
    const rule = entry.trim().toLowerCase();
    if (rule.startsWith('*.') || rule.startsWith('.')) {
      const domain = rule.replace(/^\*?\./, '');
      return name === domain || name.endsWith(`.${domain}`);
    }
    return name === rule;
  });
}
