// Small statistics helpers.

/** Nearest-rank percentile of an array of numbers (p in 0..100). */
export function percentile(values, p) {
  if (values.length === 0) return NaN;
  const sorted = Float64Array.from(values).sort();
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank];
}

export function median(values) {
  return percentile(values, 50);
}

export function summarize(values) {
  return {
    n: values.length,
    p50: percentile(values, 50),
    p90: percentile(values, 90),
    p99: percentile(values, 99),
    max: values.length ? Math.max(...values) : NaN,
  };
}

/** Counts of values in fixed-width buckets from 0, for a text histogram. */
export function histogram(values, bucketWidth) {
  const buckets = [];
  for (const v of values) {
    const b = Math.max(0, Math.floor(v / bucketWidth));
    buckets[b] = (buckets[b] ?? 0) + 1;
  }
  return Array.from(buckets, (count, i) => ({ from: i * bucketWidth, to: (i + 1) * bucketWidth, count: count ?? 0 }));
}

export function round(value, digits = 2) {
  if (!Number.isFinite(value)) return value;
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
