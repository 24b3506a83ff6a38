import type { IncomingMessage } from "node:http";
import { isIP } from "node:net";
import proxyAddr from "proxy-addr";

export type AddressResolver = (request: IncomingMessage) => string;

/**
 * The client's address with proxy-addr semantics: walk `X-Forwarded-For` from the nearest hop
 * while the hop is a trusted proxy, and stop at the first untrusted one. With nothing trusted it
 * is the socket's peer address, whatever the headers claim. A hop that is not a valid IP address
 * (junk a client put in the header) ends the walk: the address is then the trusted proxy that
 * passed it on, never the junk.
 */
export function createAddressResolver(trustProxy: readonly string[]): AddressResolver {
  const trust = trustProxy.length === 0 ? null : proxyAddr.compile([...trustProxy]);
  return (request) => {
    if (trust === null) return normaliseAddress(request.socket.remoteAddress ?? "");
    const hops = proxyAddr.all(request, trust);
    let address = hops[0] ?? "";
    for (let i = 1; i < hops.length && isIP(hops[i]!) !== 0; i++) address = hops[i]!;
    return normaliseAddress(address);
  };
}

/**
 * The key under which per-address limits count a client: the address itself for IPv4, its /64
 * network for IPv6 (one subscriber usually holds a whole /64, so counting exact addresses would
 * give them billions of allowances).
 */
export function limitKey(address: string): string {
  if (isIP(address) !== 6) return address;
  const groups = expandIPv6(address);
  return groups === null ? address : `${groups.slice(0, 4).join(":")}::/64`;
}

/** The eight hextets of an IPv6 address (lower case, no leading zeros), or null. */
function expandIPv6(address: string): string[] | null {
  let text = address.split("%")[0]!.toLowerCase();
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hextets.
  const quad = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(text);
  if (quad !== null) {
    const [a, b, c, d] = quad.slice(1).map(Number) as [number, number, number, number];
    text = `${text.slice(0, quad.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split("::") as [string, string | undefined];
  const left = head === "" ? [] : head.split(":");
  const right = tail === undefined || tail === "" ? [] : tail.split(":");
  const missing = 8 - left.length - right.length;
  if (missing < 0 || (tail === undefined && missing !== 0)) return null;
  return [...left, ...Array<string>(missing).fill("0"), ...right].map((group) => Number.parseInt(group, 16).toString(16));
}

/** `::ffff:10.0.0.1` -> `10.0.0.1`; everything else unchanged. */
function normaliseAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
