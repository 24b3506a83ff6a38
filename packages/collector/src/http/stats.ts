import type { Clock, Scheduler, TimerHandle } from "../options.js";

/** The four session scopes, always present in a sample (0 when none). */
export const STATS_SCOPES = ["browser", "ios", "android", "designer"] as const;
export type StatsScope = (typeof STATS_SCOPES)[number];

/** Sessions and open pages of one scope (and project): what the query layer tallies. */
export interface StatsTally {
  scope: string;
  sessions: number;
  pages: number;
}

/** What the collector holds at one instant; counters are cumulative and never go down. */
export interface StatsReading {
  /** Sessions and open pages of this collector, in any grouping that has a scope. */
  tallies: Iterable<StatsTally>;
  /** Cumulative bytes sent to the gateway, as reported by agents. */
  bytesReported: number;
  /** Cumulative frames and connections refused, by reason. */
  rejected: ReadonlyMap<string, number>;
}

/** One point of the history. */
export interface StatsSample {
  /** When it was taken, ms since the epoch. */
  at: number;
  sessions: Record<StatsScope, number>;
  pages: Record<StatsScope, number>;
  /** Bytes per second sent by all sessions since the previous sample. */
  bytesPerSecond: number;
  /** Refusals since the previous sample, by reason (only reasons that occurred). */
  rejected: Record<string, number>;
}

/** The answer of `GET /api/v1/stats`. */
export interface StatsHistorySnapshot {
  intervalMs: number;
  windowMs: number;
  /** Oldest first; at most `windowMs / intervalMs + 1` of them. */
  samples: StatsSample[];
}

export interface StatsHistoryOptions {
  clock: Clock;
  /** Runs the sampling timer (the collector's injected scheduler). */
  scheduler: Scheduler;
  /** One sample per this long. Default `5_000`. */
  intervalMs?: number;
  /** How far back samples are kept. Default `3_600_000` (one hour). */
  windowMs?: number;
  /** Reads the collector now (injected, like the metrics' sources). */
  read(): StatsReading;
}

export const STATS_DEFAULTS = { intervalMs: 5_000, windowMs: 3_600_000 } as const;

/**
 * A bounded in-memory history of what the status page charts: a ring of samples taken every
 * `intervalMs` over the last `windowMs`. Counters become rates and deltas here, once, so every
 * reader sees the same numbers; memory is fixed at `windowMs / intervalMs + 1` samples.
 */
export class StatsHistory {
  readonly intervalMs: number;
  readonly windowMs: number;
  readonly #capacity: number;
  readonly #ring: StatsSample[] = [];
  #start = 0;
  #previous: { at: number; bytes: number; rejected: Map<string, number> } | null = null;
  #timer: TimerHandle | null = null;
  readonly #o: StatsHistoryOptions;

  constructor(options: StatsHistoryOptions) {
    this.#o = options;
    this.intervalMs = positive("statsIntervalMs", options.intervalMs ?? STATS_DEFAULTS.intervalMs);
    this.windowMs = positive("statsWindowMs", options.windowMs ?? STATS_DEFAULTS.windowMs);
    this.#capacity = Math.max(2, Math.ceil(this.windowMs / this.intervalMs) + 1);
  }

  /** Takes a sample now (the first one, and then one per interval while started). */
  sample(): StatsSample {
    const reading = this.#o.read();
    const at = this.#o.clock.now();
    const previous = this.#previous;
    const elapsedMs = previous === null ? 0 : at - previous.at;
    const bytesRaised = previous === null ? 0 : Math.max(0, reading.bytesReported - previous.bytes);
    const rejected: Record<string, number> = {};
    if (previous !== null) {
      for (const [reason, count] of reading.rejected) {
        const delta = count - (previous.rejected.get(reason) ?? 0);
        if (delta > 0) rejected[reason] = delta;
      }
    }
    const sample: StatsSample = {
      at,
      sessions: byScope(reading.tallies, "sessions"),
      pages: byScope(reading.tallies, "pages"),
      bytesPerSecond: elapsedMs > 0 ? Math.round((bytesRaised * 1_000) / elapsedMs) : 0,
      rejected,
    };
    // With no time elapsed (a stopped clock) no rate can be told: the bytes wait for the next sample.
    const keepBytes = previous !== null && elapsedMs <= 0;
    this.#previous = {
      at: keepBytes ? previous.at : at,
      bytes: keepBytes ? previous.bytes : reading.bytesReported,
      rejected: new Map(reading.rejected),
    };
    this.#push(sample);
    return sample;
  }

  /** Samples of the last `windowMs`, oldest first; with `sinceMs`, only those taken after it. */
  snapshot(sinceMs?: number): StatsHistorySnapshot {
    const samples = [...this.#ring.slice(this.#start), ...this.#ring.slice(0, this.#start)];
    const newest = samples.at(-1)?.at;
    const from = Math.max(newest === undefined ? -Infinity : newest - this.windowMs, sinceMs === undefined ? -Infinity : sinceMs + 1);
    const recent = samples.filter((sample) => sample.at >= from);
    return { intervalMs: this.intervalMs, windowMs: this.windowMs, samples: recent };
  }

  /** Samples once now, then every `intervalMs` on the scheduler until `stop()`. */
  start(): void {
    if (this.#timer !== null) return;
    this.sample();
    this.#timer = this.#o.scheduler.setInterval(() => this.sample(), this.intervalMs);
  }

  stop(): void {
    if (this.#timer !== null) this.#o.scheduler.clear(this.#timer);
    this.#timer = null;
  }

  #push(sample: StatsSample): void {
    if (this.#ring.length < this.#capacity) {
      this.#ring.push(sample);
      return;
    }
    this.#ring[this.#start] = sample;
    this.#start = (this.#start + 1) % this.#capacity;
  }
}

function byScope(tallies: Iterable<StatsTally>, what: "sessions" | "pages"): Record<StatsScope, number> {
  const out: Record<StatsScope, number> = { browser: 0, ios: 0, android: 0, designer: 0 };
  for (const tally of tallies) if (tally.scope in out) out[tally.scope as StatsScope] += tally[what];
  return out;
}

function positive(name: string, value: number): number {
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`${name} must be a positive number, got ${value}`);
  return value;
}
