// Where a party's webhook may go. Webhooks are posted from inside the deployment, so an
// address inside it (loopback, private, link-local, metadata) is refused: when the URL is
// registered (its literal host) and again when it is sent (the address the name resolves to,
// checked on the very address the socket connects to, so a name re-pointed after
// registration is refused too). A receiver on the deployment's own network belongs in the
// engine configuration, whose targets are trusted and not checked here.
import { lookup as dnsLookup, type LookupAddress, type LookupAllOptions } from 'node:dns';
import { BlockList, isIP, type LookupFunction } from 'node:net';
import { Agent, buildConnector, fetch as undiciFetch } from 'undici';

const internal = new BlockList();
for (const [net, bits] of [['0.0.0.0', 8], ['10.0.0.0', 8], ['100.64.0.0', 10], ['127.0.0.0', 8], ['169.254.0.0', 16], ['172.16.0.0', 12], ['192.168.0.0', 16], ['198.18.0.0', 15], ['224.0.0.0', 3]] as const) internal.addSubnet(net, bits, 'ipv4');
// IPv4-compatible (::/96), unique local, link-local and site-local; NAT64 and 6to4 can reach any IPv4.
for (const [net, bits] of [['::', 96], ['fc00::', 7], ['fe80::', 10], ['fec0::', 10], ['64:ff9b::', 96], ['64:ff9b:1::', 48], ['2002::', 16]] as const) internal.addSubnet(net, bits, 'ipv6');

function bare(hostname: string): string {
  return hostname.replace(/^\[|\]$/g, '').toLowerCase();
}

/**
 * An IP address inside a deployment's networks. An IPv4-mapped IPv6 address is judged by its
 * IPv4 rules (BlockList does it); NAT64 `64:ff9b::/96` is refused whole, as it can reach any IPv4.
 */
export function isInternalAddress(address: string): boolean {
  const host = bare(address);
  const family = isIP(host);
  if (family === 4) return internal.check(host, 'ipv4');
  if (family === 6) return internal.check(host, 'ipv6');
  return false;
}

/** What registration can tell without resolving: not an internal literal, not a local name, a dotted name. */
export function isPublicHost(hostname: string): boolean {
  const host = bare(hostname);
  if (host === 'localhost' || host.endsWith('.localhost') || host.endsWith('.internal') || host.endsWith('.local')) return false;
  if (isIP(host) !== 0) return !isInternalAddress(host);
  return host.includes('.');
}

export class InternalAddressError extends Error {
  readonly code = 'EINTERNALADDRESS';
  constructor(host: string, address: string) {
    const where = host === address ? `${host} is` : `${host} resolves to ${address},`;
    super(`${where} an address inside the deployment: webhooks go to public addresses only`);
    this.name = 'InternalAddressError';
  }
}

export type Resolve = (hostname: string, options: LookupAllOptions, callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void) => void;

/**
 * A socket `lookup` that resolves every address of the name and refuses the connection if
 * any is internal (a name with one public and one private address is refused: the socket
 * could pick either).
 */
export function publicOnlyLookup(resolve: Resolve = dnsLookup, internal: (address: string) => boolean = isInternalAddress): LookupFunction {
  return (hostname, options, callback) => {
    resolve(hostname, { ...options, all: true }, (err, addresses) => {
      if (err) return callback(err, '', 0);
      const inside = addresses.find((a) => internal(a.address));
      if (inside) return callback(new InternalAddressError(hostname, inside.address), '', 0);
      if (addresses.length === 0) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), '', 0);
      // With `all` (Node's happy-eyeballs connect asks for it) the list, else the first address.
      if (options.all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses);
      callback(null, addresses[0]!.address, addresses[0]!.family);
    });
  };
}

/**
 * A fetch that posts to public addresses only: every connection it opens is checked, a literal
 * address before connecting and a name on the address it resolves to. Redirects are not
 * followed (a 3xx is a failed delivery): a receiver could otherwise send us anywhere.
 */
export function publicOnlyFetch(options: { resolve?: Resolve; internal?: (address: string) => boolean } = {}): typeof fetch {
  const isInternal = options.internal ?? isInternalAddress;
  const internal = (address: string) => isIP(address) !== 0 && isInternal(address);
  const connect = buildConnector({ lookup: publicOnlyLookup(options.resolve, internal) });
  const dispatcher = new Agent({
    connect: (opts, callback) => {
      if (internal(bare(opts.hostname))) {
        callback(new InternalAddressError(opts.hostname, bare(opts.hostname)), null);
        return;
      }
      connect(opts, callback);
    },
  });
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(input instanceof Request ? input.url : String(input));
    if (internal(bare(url.hostname))) throw new InternalAddressError(url.hostname, bare(url.hostname));
    return undiciFetch(url, { ...(init as Parameters<typeof undiciFetch>[1]), redirect: 'manual', dispatcher }) as unknown as Response;
  }) as typeof fetch;
}
