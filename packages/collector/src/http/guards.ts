import type { IncomingMessage, Server, ServerResponse } from "node:http";
import { isIP, type Socket } from "node:net";
import proxyAddr from "proxy-addr";
import type { LogBudget } from "../log-budget.js";
import { sendError } from "./respond.js";

/** Whether `host` (an interface to bind, or a `Host` name without port) is a loopback name or address. */
export function isLoopbackHost(host: string): boolean {
  const name = host.toLowerCase().replace(/^\[|\]$/g, "");
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (isIP(name) === 4) return name.startsWith("127.");
  if (isIP(name) === 6) return name === "::1" || name === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(name);
  return false;
}

/** The name part of a `Host` header: `[::1]:8787` -> `::1`, `Example.COM.:80` -> `example.com`. */
export function hostName(header: string): string {
  const text = header.trim().toLowerCase();
  if (text.startsWith("[")) {
    const end = text.indexOf("]");
    return end === -1 ? text : text.slice(1, end);
  }
  const colon = text.indexOf(":");
  return (colon === -1 ? text : text.slice(0, colon)).replace(/\.$/, "");
}

/**
 * The `Host` allow-list (DNS rebinding): a page on an attacker's name that resolves to this
 * collector sends that name as `Host`. With a list, only its names are served (`*` any); with none,
 * a collector bound to a loopback address serves only loopback names and addresses, and one bound
 * elsewhere serves any (put an API token on it).
 */
export function createHostCheck(allowedHosts: readonly string[], boundHost: string): (req: IncomingMessage) => boolean {
  if (allowedHosts.includes("*")) return () => true;
  if (allowedHosts.length === 0) {
    if (!isLoopbackHost(boundHost)) return () => true;
    return (req) => req.headers.host !== undefined && isLoopbackHost(hostName(req.headers.host));
  }
  const allowed = new Set(allowedHosts.map(hostName));
  return (req) => req.headers.host !== undefined && allowed.has(hostName(req.headers.host));
}

/**
 * Wraps the request handler of a listening server with the Host allow-list: a request whose Host is
 * not allowed gets 403 `host_not_allowed`. In-process requests (`collector.request`, a handler
 * mounted elsewhere) do not go through it: no browser can be rebound to them.
 */
export function withHostCheck(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
  allowed: (req: IncomingMessage) => boolean,
  clientErrors: LogBudget,
): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    if (allowed(req)) return handler(req, res);
    clientErrors.write("a request with a Host that is not allowed was refused", { host: req.headers.host ?? "(none)" });
    sendError(res, 403, "host_not_allowed", "this Host is not served here (see --allowed-hosts)", { "x-content-type-options": "nosniff" });
    req.resume();
  };
}

/** Whether a request with a body declares it as JSON (`application/json`, any parameters). */
export function isJsonContentType(req: IncomingMessage): boolean {
  const type = req.headers["content-type"];
  if (type === undefined) return false;
  const essence = type.split(";")[0]!.trim().toLowerCase();
  return essence === "application/json" || /^application\/[a-z0-9.+-]+\+json$/.test(essence);
}

export interface ConnectionGuardOptions {
  /** HTTP connections (not agent sockets) per client address (IPv6 by /64). */
  maxPerAddress: number;
  /** Proxies (proxy-addr syntax) exempt from the per-address cap: every client comes through them. */
  trustProxy: readonly string[];
  /** The key an address counts under (IPv6 by /64; server.ts hands the transport's `limitKey`). */
  keyOf: (address: string) => string;
  /** Counts a refused connection (metrics). */
  onRefused: () => void;
}

/**
 * Caps the HTTP connections one address holds (slowloris: idle sockets that never finish a request
 * or upgrade). A connection counts from accept until it closes or becomes an agent socket (the
 * agent transport has its own per-address cap); over the cap it is closed at once.
 *
 * An agent socket keeps nothing of the guard: the counted sockets are held in a map (not as a
 * property of the socket) and the one close listener, shared by every socket, is removed at the
 * upgrade, so the tens of thousands of long-lived agent sockets carry no per-socket closure.
 */
export class ConnectionGuard {
  readonly #counts = new Map<string, number>();
  /** Sockets counted now, with the key they count under. */
  readonly #counted = new Map<Socket, string>();
  readonly #trusted: ((address: string, hop: number) => boolean) | null;
  readonly #o: ConnectionGuardOptions;
  readonly #onClose: (this: Socket) => void;

  constructor(options: ConnectionGuardOptions) {
    this.#o = options;
    this.#trusted = options.trustProxy.length === 0 ? null : proxyAddr.compile([...options.trustProxy]);
    const release = (socket: Socket): boolean => this.#release(socket);
    this.#onClose = function onClose(this: Socket) {
      release(this);
    };
  }

  attach(server: Server): void {
    server.on("connection", (socket: Socket) => this.#accept(socket));
  }

  /** The socket became an agent socket: it no longer counts as an HTTP connection. */
  upgraded(socket: Socket): void {
    if (this.#release(socket)) socket.removeListener("close", this.#onClose);
  }

  /** HTTP connections counted now (all addresses). */
  get size(): number {
    return this.#counted.size;
  }

  #accept(socket: Socket): void {
    const address = socket.remoteAddress ?? "";
    if (this.#trusted !== null && this.#trusted(address, 0)) return;
    const key = this.#o.keyOf(address.startsWith("::ffff:") && address.includes(".") ? address.slice(7) : address);
    const count = this.#counts.get(key) ?? 0;
    if (count >= this.#o.maxPerAddress) {
      this.#o.onRefused();
      socket.destroy();
      return;
    }
    this.#counts.set(key, count + 1);
    this.#counted.set(socket, key);
    socket.on("close", this.#onClose);
  }

  /** Stops counting `socket`; false when it was not counted. */
  #release(socket: Socket): boolean {
    const key = this.#counted.get(socket);
    if (key === undefined) return false;
    this.#counted.delete(socket);
    const count = this.#counts.get(key) ?? 0;
    if (count <= 1) this.#counts.delete(key);
    else this.#counts.set(key, count - 1);
    return true;
  }
}
