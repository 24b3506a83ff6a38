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
}

/** Buckets looked at per `ConnectionRateLimiter.prune()`. */
const PRUNE_BATCH = 1_000;

/**
 * New connections per client address: a token bucket per address holding `burst` tokens, refilled
 * at `ratePerSecond`. Buckets that have refilled are forgotten by `prune`, so the map only holds
 * addresses that connected lately.
 */
export class ConnectionRateLimiter {
  readonly #buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    readonly ratePerSecond: number,
    readonly burst: number,
  ) {}

  /** Takes a token for a new connection from `address` at `now`; false when its bucket is empty. */
  tryTake(address: string, now: number): boolean {
    const bucket = this.#buckets.get(address);
    if (bucket === undefined) {
      this.#buckets.set(address, { tokens: this.burst - 1, at: now });
      return this.burst >= 1;
    }
    this.#refill(bucket, now);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }

  /** Forgets full buckets, looking at no more than `PRUNE_BATCH` of them. */
  prune(now: number): void {
    let seen = 0;
    for (const [address, bucket] of this.#buckets) {
      if (++seen > PRUNE_BATCH) break;
      this.#refill(bucket, now);
      if (bucket.tokens >= this.burst) this.#buckets.delete(address);
      else {
        // To the back, so the next prune looks at others first.
        this.#buckets.delete(address);
        this.#buckets.set(address, bucket);
      }
    }
  }

  #refill(bucket: { tokens: number; at: number }, now: number): void {
    const elapsed = now - bucket.at;
    if (elapsed <= 0) return;
    bucket.tokens = Math.min(this.burst, bucket.tokens + (elapsed * this.ratePerSecond) / 1_000);
    bucket.at = now;
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
