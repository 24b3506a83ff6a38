import { CLOSE_CODES, type ErrorCode } from "@sessionlens/shared";

/** Origins allowed to open agent sockets; an empty list allows any (webviews often send none). */
export function createOriginCheck(allowedOrigins: readonly string[]): (origin: string | undefined) => boolean {
  if (allowedOrigins.length === 0) return () => true;
  const allowed = new Set(allowedOrigins.map(normaliseOrigin));
  return (origin) => origin !== undefined && allowed.has(normaliseOrigin(origin));
}

function normaliseOrigin(origin: string): string {
  return origin.trim().replace(/\/+$/, "").toLowerCase();
}

/** Open agent sockets per client address. */
export class ConnectionCounter {
  readonly #counts = new Map<string, number>();

  constructor(readonly maxPerAddress: number) {}

  /** Counts a connection in; false (and nothing counted) when the address is at its cap. */
  tryAdd(address: string): boolean {
    const count = this.#counts.get(address) ?? 0;
    if (count >= this.maxPerAddress) return false;
    this.#counts.set(address, count + 1);
    return true;
  }

  remove(address: string): void {
    const count = this.#counts.get(address);
    if (count === undefined) return;
    if (count <= 1) this.#counts.delete(address);
    else this.#counts.set(address, count - 1);
  }

  get addresses(): number {
    return this.#counts.size;
  }
}

/** The WebSocket close code that goes with each error an agent can be refused with. */
export function closeCodeFor(code: ErrorCode): number {
  switch (code) {
    case "unsupported_version":
      return CLOSE_CODES.unsupportedVersion;
    case "hello_timeout":
      return CLOSE_CODES.helloTimeout;
    case "rate_limited":
    case "too_many_connections":
      return CLOSE_CODES.rateLimited;
    case "origin_not_allowed":
    case "too_many_pages":
    case "project_not_allowed":
    case "token_invalid":
    case "token_expired":
      return CLOSE_CODES.rejected;
    case "shutting_down":
      return CLOSE_CODES.goingAway;
    default:
      return CLOSE_CODES.badMessage;
  }
}
