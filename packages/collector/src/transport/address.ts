import type { IncomingMessage } from "node:http";
import proxyAddr from "proxy-addr";

export type AddressResolver = (request: IncomingMessage) => string;

/**
 * The client's address with proxy-addr semantics: walk `X-Forwarded-For` from the nearest hop
 * while the hop is a trusted proxy, and stop at the first untrusted one. With nothing trusted it
 * is the socket's peer address, whatever the headers claim.
 */
export function createAddressResolver(trustProxy: readonly string[]): AddressResolver {
  const trust = trustProxy.length === 0 ? null : proxyAddr.compile([...trustProxy]);
  return (request) => {
    const address = trust === null ? (request.socket.remoteAddress ?? "") : proxyAddr(request, trust);
    return normaliseAddress(address);
  };
}

/** `::ffff:10.0.0.1` -> `10.0.0.1`; everything else unchanged. */
function normaliseAddress(address: string): string {
  return address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address;
}
