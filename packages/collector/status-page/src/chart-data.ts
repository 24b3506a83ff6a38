/**
 * The charts' data: `GET api/v1/stats` answers read defensively, merged into a bounded local
 * history, and turned into SVG path geometry. No DOM here, so it is unit-tested in Node.
 */
import { SCOPES, type SessionScope } from "./session.js";

export type ScopeCounts = Record<SessionScope, number>;

export interface StatsSample {
  at: number;
  sessions: ScopeCounts;
  pages: ScopeCounts;
  bytesPerSecond: number;
  rejected: Record<string, number>;
}

export interface StatsHistory {
  intervalMs: number;
  windowMs: number;
  samples: StatsSample[];
}

const isCount = (value: unknown): value is number => typeof value === "number" && Number.isFinite(value) && value >= 0;
const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === "object" && value !== null && !Array.isArray(value);

function readScopeCounts(value: unknown): ScopeCounts | null {
  if (!isRecord(value)) return null;
  const counts = {} as ScopeCounts;
  for (const scope of SCOPES) {
    const count = value[scope] ?? 0;
    if (!isCount(count)) return null;
    counts[scope] = count;
  }
  return counts;
}

function readSample(value: unknown): StatsSample | null {
  if (!isRecord(value) || !isCount(value["at"]) || !isCount(value["bytesPerSecond"]) || !isRecord(value["rejected"])) return null;
  const sessions = readScopeCounts(value["sessions"]);
  const pages = readScopeCounts(value["pages"]);
  if (sessions === null || pages === null) return null;
  const rejected: Record<string, number> = {};
  for (const [reason, count] of Object.entries(value["rejected"])) if (isCount(count)) rejected[reason] = count;
  return { at: value["at"], sessions, pages, bytesPerSecond: value["bytesPerSecond"], rejected };
}

/** A `GET api/v1/stats` answer, or null when it is not one; bad samples are skipped. */
export function readStats(value: unknown): StatsHistory | null {
  if (!isRecord(value) || !isCount(value["intervalMs"]) || !isCount(value["windowMs"]) || !Array.isArray(value["samples"])) return null;
  if (value["intervalMs"] <= 0 || value["windowMs"] <= 0) return null;
  const samples: StatsSample[] = [];
  for (const item of value["samples"]) {
    const sample = readSample(item);
    if (sample !== null) samples.push(sample);
  }
  return { intervalMs: value["intervalMs"], windowMs: value["windowMs"], samples };
}

/** The local history with `next` appended: time-ordered, only the last `windowMs`. */
export function mergeStats(current: StatsHistory | null, next: StatsHistory): StatsHistory {
  const newestKnown = current?.samples.at(-1)?.at ?? -Infinity;
  const samples = [...(current?.samples ?? []), ...next.samples.filter((sample) => sample.at > newestKnown)];
  const newest = samples.at(-1)?.at ?? 0;
  const from = newest - next.windowMs;
  return { intervalMs: next.intervalMs, windowMs: next.windowMs, samples: samples.filter((sample) => sample.at >= from) };
}

/** 1, 2, 5, 10, 20, 50...: the smallest of these at or above `value` (at least 1). */
export function niceCeiling(value: number): number {
  if (!(value > 1)) return 1;
  const power = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 5, 10]) if (step * power >= value) return step * power;
  return 10 * power;
}

/** The reasons with the most refusals over the samples, most first; at most `limit`. */
export function topReasons(samples: readonly StatsSample[], limit: number): string[] {
  const totals = new Map<string, number>();
  for (const sample of samples) for (const [reason, count] of Object.entries(sample.rejected)) totals.set(reason, (totals.get(reason) ?? 0) + count);
  return [...totals.entries()]
    .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
    .slice(0, limit)
    .map(([reason]) => reason);
}

export interface ChartFrame {
  /** Left and right edges of the time axis, ms since the epoch. */
  fromMs: number;
  toMs: number;
  width: number;
  height: number;
  /** The value at the top edge. */
  yMax: number;
}

const round = (n: number): string => String(Math.round(n * 10) / 10);

/**
 * Stacked areas: one closed SVG path per series (the first at the bottom), over the sample times.
 * `values[s][i]` is series s at `times[i]`. A lone sample is drawn as a short step.
 */
export function stackedAreaPaths(times: readonly number[], values: readonly (readonly number[])[], frame: ChartFrame): string[] {
  if (times.length === 0) return values.map(() => "");
  const span = Math.max(1, frame.toMs - frame.fromMs);
  const x = (at: number): number => Math.min(frame.width, Math.max(0, ((at - frame.fromMs) / span) * frame.width));
  const y = (value: number): number => frame.height - (Math.min(value, frame.yMax) / frame.yMax) * frame.height;
  const xs = times.length === 1 ? [Math.max(0, x(times[0]!) - 2), x(times[0]!)] : times.map(x);
  const at = (series: readonly number[], i: number): number => (times.length === 1 ? series[0]! : series[i]!) || 0;
  const base = xs.map(() => 0);
  return values.map((series) => {
    const lower = [...base];
    for (let i = 0; i < xs.length; i++) base[i]! += at(series, i);
    const top = xs.map((px, i) => `${round(px)},${round(y(base[i]!))}`);
    const bottom = xs.map((px, i) => `${round(px)},${round(y(lower[i]!))}`).reverse();
    return `M${top.join("L")}L${bottom.join("L")}Z`;
  });
}

/** The top edge of stacked series: the largest total at any time. */
export function stackedMax(values: readonly (readonly number[])[]): number {
  let max = 0;
  const length = values[0]?.length ?? 0;
  for (let i = 0; i < length; i++) {
    let total = 0;
    for (const series of values) total += series[i] ?? 0;
    max = Math.max(max, total);
  }
  return max;
}
