/**
 * The live event stream (`GET api/v1/events`), read with fetch so it can carry
 * the API token. Reconnects with capped, jittered exponential backoff when it
 * drops or goes silent, and every connection starts with a fresh snapshot.
 */
import type { ApiClient } from "./auth.js";
import { readEventStream, type SseEvent } from "./sse.js";

export type ConnectionState =
  | { kind: "connecting"; attempt: number }
  | { kind: "live" }
  | { kind: "waiting"; retryAtMs: number; attempt: number; error: string }
  | { kind: "unauthorized" }
  | { kind: "stopped" };

export interface BackoffOptions {
  /** First retry delay, in ms (default 500). */
  baseMs?: number;
  /** Longest delay, in ms (default 30 s). */
  maxMs?: number;
}

/**
 * Delay before reconnect attempt `attempt` (0-based): doubling from baseMs up
 * to maxMs, then "equal jitter" (between half and all of it), so many open
 * status pages do not return to a restarted collector in step.
 */
export function backoffDelay(attempt: number, options: BackoffOptions = {}, random: () => number = Math.random): number {
  const baseMs = options.baseMs ?? 500;
  const maxMs = options.maxMs ?? 30_000;
  const ceiling = Math.min(maxMs, baseMs * 2 ** Math.min(Math.max(0, attempt), 30));
  return Math.round(ceiling / 2 + (ceiling / 2) * random());
}

export interface EventStreamOptions extends BackoffOptions {
  api: ApiClient;
  /** Relative path of the stream (default "api/v1/events"). */
  path?: string;
  /** Reconnect when not even a heartbeat arrived for this long (default 45 s). */
  stallMs?: number;
  onEvent: (event: SseEvent) => void;
  onState: (state: ConnectionState) => void;
  random?: () => number;
}

/** How one connection ended. */
interface Outcome {
  /** It delivered a snapshot, so it worked: the backoff starts over. */
  wasLive: boolean;
  /** Set when the collector answered 401: wait for a token instead of backing off. */
  unauthorizedToken?: string | null;
  reason: string;
}

export class EventStream {
  private stopped = true;
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  private skipNextWait = false;

  constructor(private readonly options: EventStreamOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    void this.run();
  }

  /** Ends a backoff (or token) wait early: a "Retry now" button, the browser coming back online. */
  retryNow(): void {
    this.wake?.();
  }

  /** Drops the current connection, if any, and opens a new one at once (a new token was entered). */
  restart(): void {
    this.skipNextWait = true;
    this.abort?.abort();
    this.wake?.();
  }

  stop(): void {
    this.stopped = true;
    this.abort?.abort();
    this.wake?.();
    this.options.onState({ kind: "stopped" });
  }

  private async run(): Promise<void> {
    const { api, onState } = this.options;
    let attempt = 0;
    while (!this.stopped) {
      onState({ kind: "connecting", attempt });
      const outcome = await this.connectOnce();
      if (this.stopped) break;
      if (outcome.unauthorizedToken !== undefined) {
        onState({ kind: "unauthorized" });
        try {
          await api.unauthorized(outcome.unauthorizedToken);
          attempt = 0;
        } catch {
          // The form was dismissed: wait until restart() (a token entered later).
          await this.sleep(Number.POSITIVE_INFINITY);
        }
        continue;
      }
      if (outcome.wasLive) attempt = 0;
      const delayMs = backoffDelay(attempt++, this.options, this.options.random);
      onState({ kind: "waiting", retryAtMs: Date.now() + delayMs, attempt, error: outcome.reason });
      await this.sleep(delayMs);
    }
  }

  private async connectOnce(): Promise<Outcome> {
    const { api, onEvent, onState } = this.options;
    const abort = new AbortController();
    this.abort = abort;
    const stallMs = this.options.stallMs ?? 45_000;
    let stallTimer: ReturnType<typeof setTimeout> | undefined;
    const armStallTimer = (): void => {
      clearTimeout(stallTimer);
      stallTimer = setTimeout(() => abort.abort(new Error("no data or heartbeat from the collector")), stallMs);
    };
    let wasLive = false;
    try {
      armStallTimer();
      const { response, sentToken } = await api.send(this.options.path ?? "api/v1/events", {
        headers: { Accept: "text/event-stream" },
        cache: "no-store",
        signal: abort.signal,
      });
      if (response.status === 401) {
        await response.body?.cancel().catch(() => undefined);
        return { wasLive, unauthorizedToken: sentToken, reason: "unauthorized" };
      }
      if (!response.ok || !response.body) {
        await response.body?.cancel().catch(() => undefined);
        return { wasLive, reason: `the collector answered HTTP ${response.status}` };
      }
      await readEventStream(
        response.body,
        (event) => {
          if (event.type === "snapshot" && !wasLive) {
            wasLive = true;
            onState({ kind: "live" });
          }
          onEvent(event);
        },
        armStallTimer,
        abort.signal,
      );
      if (abort.signal.aborted) throw abort.signal.reason;
      return { wasLive, reason: "the collector closed the event stream" };
    } catch (caught) {
      const cause: unknown = abort.signal.aborted ? abort.signal.reason : caught;
      const reason = cause instanceof Error && cause.name !== "AbortError" ? cause.message : "the connection was lost";
      return { wasLive, reason };
    } finally {
      clearTimeout(stallTimer);
      if (this.abort === abort) this.abort = null;
      abort.abort();
    }
  }

  private sleep(ms: number): Promise<void> {
    if (this.skipNextWait) {
      this.skipNextWait = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      let timer: ReturnType<typeof setTimeout> | undefined;
      const done = (): void => {
        clearTimeout(timer);
        if (this.wake === done) this.wake = null;
        resolve();
      };
      if (Number.isFinite(ms)) timer = setTimeout(done, ms);
      this.wake = done;
    });
  }
}
