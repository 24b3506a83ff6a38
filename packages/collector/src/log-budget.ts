/**
 * Log lines that something outside the collector's control can repeat at will: bad client input
 * (anyone can send it) and failures that recur with every session or frame (a store that fails
 * every write, a change-feed consumer that throws on every heartbeat). Each costs a bounded amount
 * of log, however often it happens.
 */

export type Log = (level: "warn" | "error" | "info" | "debug", message: string, details?: Record<string, unknown>) => void;

/** Characters of any one string field kept in a line. */
const FIELD_CHARS = 200;
/** Characters of an error's stack kept in an `error` line. */
const STACK_CHARS = 1_000;
/** Distinct messages with a budget of their own; past it the budgets start over. */
const MAX_MESSAGES = 1_000;
/** Lines written per window (per message, or in all); past it they are only counted. */
const LINES_PER_WINDOW = 10;
const WINDOW_MS = 10_000;

export interface LogBudgetOptions {
  /**
   * `"message"`: each message text has a budget of its own, so a flood of one failure never hides
   * another. `"shared"` (default, the client-error log): one budget for every line.
   */
  per?: "message" | "shared";
}

interface Window {
  startMs: number;
  written: number;
  heldBack: number;
}

/**
 * At most 10 lines per 10 s (per message, or shared), every string field clipped to
 * 200 characters; `warn` lines carry no stack trace, `error` lines (a failure of the collector's
 * own) a stack clipped to 1,000 characters. What was held back is summed up in one line at the
 * start of the next window, just before the first line written in it.
 */
export class LogBudget {
  readonly #windows = new Map<string, Window>();
  readonly #perMessage: boolean;

  constructor(
    readonly log: Log,
    readonly now: () => number = Date.now,
    options: LogBudgetOptions = {},
  ) {
    this.#perMessage = options.per === "message";
  }

  /** Logs the line unless its budget is spent; false when it was held back. */
  write(message: string, details: Record<string, unknown> = {}, level: "warn" | "error" = "warn"): boolean {
    const now = this.now();
    const key = this.#perMessage ? message : "";
    let window = this.#windows.get(key);
    if (window === undefined) {
      // Messages are the code's own constant texts; should one ever carry data, the map stays small.
      if (this.#windows.size >= MAX_MESSAGES) this.#windows.clear();
      window = { startMs: now, written: 0, heldBack: 0 };
      this.#windows.set(key, window);
    } else if (now - window.startMs >= WINDOW_MS) {
      if (window.heldBack > 0) {
        const what = this.#perMessage ? `more "${clip(message)}"` : "client-error log";
        this.log("warn", `${window.heldBack} ${what} lines were suppressed`, { suppressed: window.heldBack });
      }
      window.startMs = now;
      window.written = 0;
      window.heldBack = 0;
    }
    if (window.written >= LINES_PER_WINDOW) {
      window.heldBack++;
      return false;
    }
    window.written++;
    this.log(level, clip(message), clipFields(details, level === "error"));
    return true;
  }

  /** The same budget as a `Log`: `warn` and `error` lines go through it, `info` and `debug` straight to `log`. */
  asLog(): Log {
    return (level, message, details) => {
      if (level === "warn" || level === "error") this.write(message, details, level);
      else this.log(level, message, details);
    };
  }
}

function clip(text: string): string {
  return text.length > FIELD_CHARS ? `${text.slice(0, FIELD_CHARS)}…(${text.length} chars)` : text;
}

function clipFields(details: Record<string, unknown>, withStack: boolean): Record<string, unknown> {
  const clipped: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(details)) {
    if (value instanceof Error) {
      clipped[key] = {
        type: value.name,
        message: clip(value.message),
        code: (value as { code?: unknown }).code,
        ...(withStack ? { stack: value.stack?.slice(0, STACK_CHARS) } : {}),
      };
    }
    else if (typeof value === "string") clipped[key] = clip(value);
    else if (typeof value === "number" || typeof value === "boolean" || value === null) clipped[key] = value;
    else clipped[key] = clip(String(value));
  }
  return clipped;
}
