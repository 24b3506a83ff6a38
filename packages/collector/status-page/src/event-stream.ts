/**
 * The page's connection to the live event stream (`GET api/v1/events`), read
 * with fetch so it can carry the API token. Reconnects with the shared backoff
 * (`@sessionlens/shared/client`: full jitter, 30 s cap, the collector's
 * `retry:` honoured) when it drops or goes silent, and every connection starts
 * with a fresh snapshot.
 */
import { BACKOFF_MAX_MS, createBackoff, readEventStream, SseParser, type Backoff, type SseEvent } from "@sessionlens/shared/client";
import type { ApiClient } from "./auth.js";

export type StreamState =
  | { kind: "connecting"; attempt: number }
  | { kind: "live" }
  | { kind: "waiting"; retryAtMs: number; delayMs: number; attempt: number; error: string }
  | { kind: "unauthorized" }
  | { kind: "stopped" };

export interface EventStreamOptions {
  /** First window of the reconnect backoff, in ms, until the collector sends `retry:` (default 1 s). */
  baseMs?: number;
  /** Longest backoff window, in ms (default 30 s). */
  maxMs?: number;
  api: ApiClient;
  /** Relative path of the stream (default "api/v1/events"). */
  path?: string;
  /** Reconnect when not even a heartbeat arrived for this long (default 45 s). */
  stallMs?: number;
  onEvent: (event: SseEvent) => void;
  onState: (state: StreamState) => void;
  random?: () => number;
}

/** How one connection ended. */
interface Outcome {
  /** It delivered a snapshot, so it worked: the backoff starts over. */
  wasLive: boolean;
  /** The collector ended it (a restart, usually): the first retry skips the backoff's first window. */
  endedCleanly?: boolean;
  /** The `retry:` the collector sent, if any. */
  retryMs?: number;
  /** Set when the collector answered 401: wait for a token instead of backing off. */
  unauthorizedToken?: string | null;
  reason: string;
}

/** The status page's live stream (not the agent's WebSocket connection). */
export class EventStream {
  private stopped = true;
  private abort: AbortController | null = null;
  private wake: (() => void) | null = null;
  private skipNextWait = false;
  private baseMs: number;
  private backoff: Backoff;

  constructor(private readonly options: EventStreamOptions) {
    this.baseMs = options.baseMs ?? 1000;
    this.backoff = this.createBackoff();
  }

  private createBackoff(): Backoff {
    return createBackoff({ baseMs: this.baseMs, maxMs: this.options.maxMs ?? BACKOFF_MAX_MS }, this.options.random);
  }

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
    while (!this.stopped) {
      onState({ kind: "connecting", attempt: this.backoff.attempts });
      const outcome = await this.connectOnce();
      if (this.stopped) break;
      if (outcome.unauthorizedToken !== undefined) {
        onState({ kind: "unauthorized" });
        try {
          await api.unauthorized(outcome.unauthorizedToken);
          this.backoff.reset();
        } catch {
          // The form was dismissed: wait until restart() (a token entered later).
          await this.sleep(Number.POSITIVE_INFINITY);
        }
        continue;
      }
      if (outcome.retryMs !== undefined && outcome.retryMs !== this.baseMs) {
        this.baseMs = outcome.retryMs;
        this.backoff = this.createBackoff();
      }
      if (outcome.wasLive) this.backoff.reset(outcome.endedCleanly);
      const delayMs = Math.round(this.backoff.next());
      onState({ kind: "waiting", retryAtMs: Date.now() + delayMs, delayMs, attempt: this.backoff.attempts, error: outcome.reason });
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
    const parser = new SseParser();
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
        { parser, onActivity: armStallTimer, signal: abort.signal },
      );
      if (abort.signal.aborted) throw abort.signal.reason;
      return { wasLive, endedCleanly: true, retryMs: parser.retryMs, reason: "the collector closed the event stream" };
    } catch (caught) {
      const cause: unknown = abort.signal.aborted ? abort.signal.reason : caught;
      const reason = cause instanceof Error && cause.name !== "AbortError" ? cause.message : "the connection was lost";
      return { wasLive, retryMs: parser.retryMs, reason };
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
