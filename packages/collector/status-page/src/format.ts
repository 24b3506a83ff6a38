/** Display formatting for the table and the details panel. */

const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

/** "0s", "42s", "5m 03s", "3h 07m", "2d 4h": two units at most, like an uptime column should. */
export function formatDuration(ms: number): string {
  const totalSeconds = Number.isFinite(ms) && ms > 0 ? Math.floor(ms / 1000) : 0;
  if (totalSeconds < 60) return `${totalSeconds}s`;
  const totalMinutes = Math.floor(totalSeconds / 60);
  if (totalMinutes < 60) return `${totalMinutes}m ${pad2(totalSeconds % 60)}s`;
  const totalHours = Math.floor(totalMinutes / 60);
  if (totalHours < 24) return `${totalHours}h ${pad2(totalMinutes % 60)}m`;
  return `${Math.floor(totalHours / 24)}d ${totalHours % 24}h`;
}

/** Time since the last communication: "now" under a second, else "12s ago". */
export function formatAgo(ms: number): string {
  if (!Number.isFinite(ms) || ms < 1000) return "now";
  return `${formatDuration(ms)} ago`;
}

const BYTE_UNITS = ["KiB", "MiB", "GiB", "TiB", "PiB"];

/** "0 B", "512 B", "1.5 KiB", "12 KiB", "3.2 MiB" (binary units, as the collector's caps are). */
export function formatBytes(bytes: number): string {
  if (!Number.isFinite(bytes) || bytes <= 0) return "0 B";
  if (bytes < 1024) return `${Math.round(bytes)} B`;
  let value = bytes;
  let unit = -1;
  while (value >= 1024 && unit < BYTE_UNITS.length - 1) {
    value /= 1024;
    unit++;
  }
  // One decimal below 10 units, where it still says something.
  let shown = value < 10 ? (Math.round(value * 10) / 10).toFixed(1) : String(Math.round(value));
  if (shown.endsWith(".0")) shown = shown.slice(0, -2);
  if (shown === "1024" && unit < BYTE_UNITS.length - 1) return `1 ${BYTE_UNITS[unit + 1]}`;
  return `${shown} ${BYTE_UNITS[unit]}`;
}

/** "1,234" in the reader's locale. */
export function formatCount(n: number, locale?: string): string {
  return n.toLocaleString(locale);
}

export interface ClockOptions {
  locale?: string;
  timeZone?: string;
}

/**
 * A wall-clock time: "14:03:22" when it is on the same day as `nowMs`, else
 * "3 Jun, 14:03:22" (in the reader's locale and zone unless given).
 */
export function formatClock(epochMs: number, nowMs: number, options: ClockOptions = {}): string {
  if (!Number.isFinite(epochMs)) return "—";
  const { locale, timeZone } = options;
  const day = new Intl.DateTimeFormat(locale, { timeZone, year: "numeric", month: "2-digit", day: "2-digit" });
  const sameDay = day.format(epochMs) === day.format(nowMs);
  const format = new Intl.DateTimeFormat(locale, {
    timeZone,
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
    ...(sameDay ? {} : { day: "numeric", month: "short" }),
  });
  return format.format(epochMs);
}

/** A time from the API: epoch milliseconds or an ISO string; NaN when neither. */
export function toEpochMs(value: unknown): number {
  if (typeof value === "number") return Number.isFinite(value) ? value : Number.NaN;
  if (typeof value === "string" && value !== "") {
    const parsed = Date.parse(value);
    return Number.isFinite(parsed) ? parsed : Number.NaN;
  }
  return Number.NaN;
}
