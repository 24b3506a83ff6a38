/**
 * The one reconnect schedule of every SessionLens client (agent, query client, CLI, status page):
 * exponential backoff with full jitter and a cap, anchored to the moment the connection was lost.
 *
 * Attempt n (0-based) lands at a uniformly random time inside its window: [0, base), [base, 2·base),
 * [2·base, 4·base), [4·base, 8·base)… each window twice as long as the one before, and none longer
 * than `maxMs`. With the defaults (1 s, 30 s): windows end at 1, 2, 4, 8, 16, 32, 62, 92… s, so a
 * client whose collector stays down makes 6 or 7 attempts in the first minute, then one every ~30 s.
 * Because each attempt is drawn in its own window (not added to the previous draw), a collector that
 * comes back after a second or two sees its clients return within the next window, never in step.
 *
 * A collector that announced its restart (close code 1001 or 1012) refuses connections for a
 * moment, usually a few seconds: `reset(true)` skips the first window, so the first retry is spread
 * over [base, 2·base), and keeps the next two windows one base long, [2·base, 3·base) and
 * [3·base, 4·base), before they double again from [4·base, 8·base): retries stay dense (but never in
 * step) while the collector comes back, instead of escalating to [2·base, 4·base) after one refusal.
 * An attempt that itself took long (a connect timeout) waits a random part of its window from now.
 */

export interface BackoffOptions {
  /** Length of the first window (the first retry after a drop waits [0, baseMs)). */
  baseMs: number;
  /** The longest window: the cap. */
  maxMs: number;
}

/** The cap used by every client unless told otherwise. */
export const BACKOFF_MAX_MS = 30_000;

/** After an announced restart: windows one base long, from [base, 2·base), before doubling resumes. */
const RESTART_EVEN_WINDOWS = 3;

export interface Backoff {
  /** The delay before the next attempt; each call counts one more failed attempt. */
  next(): number;
  /**
   * The connection was lost after it had worked: start the schedule over from now. With
   * `restarting`, the collector said it is going away, and the first window is skipped.
   */
  reset(restarting?: boolean): void;
  /** Attempts made since the last reset. */
  readonly attempts: number;
}

export function createBackoff(options: BackoffOptions, random: () => number = Math.random, now: () => number = Date.now): Backoff {
  const baseMs = Math.max(1, options.baseMs);
  const maxMs = Math.max(baseMs, options.maxMs);
  let anchorMs = now();
  let attempts = 0;
  /** Where the next attempt's window starts and how long it is, from the anchor. */
  let windowStartMs = 0;
  let windowMs = baseMs;
  /** Windows still to be one base long (after an announced restart). */
  let evenWindows = 0;
  const advance = (): void => {
    windowStartMs += windowMs;
    if (evenWindows > 0) {
      evenWindows--;
      windowMs = baseMs;
    }
    // [0, b) then [b, 2b), [2b, 4b)…: each window as long as everything before it, up to the cap.
    else windowMs = Math.min(maxMs, windowStartMs);
    attempts++;
  };
  return {
    next() {
      const delayMs = Math.max(0, anchorMs + windowStartMs - now()) + random() * windowMs;
      advance();
      return delayMs;
    },
    reset(restarting = false) {
      anchorMs = now();
      attempts = 0;
      windowStartMs = 0;
      windowMs = baseMs;
      evenWindows = 0;
      if (restarting) {
        evenWindows = RESTART_EVEN_WINDOWS;
        advance();
        attempts = 0;
      }
    },
    get attempts() {
      return attempts;
    },
  };
}
