/**
 * The one Server-Sent Events reader of SessionLens (query client, CLI, status page). EventSource
 * cannot send an Authorization header, so clients read the stream from a fetch body and parse it
 * here, following the WHATWG event-stream rules: lines end in CRLF, LF or CR (also split across
 * chunks), `:` starts a comment, `data` lines join with LF, a blank line dispatches, an event with
 * no data is dropped, and `retry:` sets the reconnection delay the caller should use. An event
 * larger than the cap ends the stream with a `SseParseError` instead of growing without bound.
 */

export interface SseEvent {
  /** The `event` field, or "message" when there was none. */
  type: string;
  data: string;
  /** The last event id seen so far ("" when none). */
  lastEventId: string;
}

/** Default cap on one event's size: a snapshot of 10,000 sessions is a few MB. */
export const MAX_EVENT_CHARS = 64 * 1024 * 1024;

export class SseParseError extends Error {
  readonly code = "event_too_large";
}

export class SseParser {
  /** The last `retry` field, in milliseconds, if the server sent one. */
  retryMs: number | undefined;
  lastEventId = "";
  private partialLine = "";
  private dataLines: string[] = [];
  private dataChars = 0;
  private eventType = "";
  /** The previous chunk ended in CR: a LF that starts the next one belongs to it. */
  private skipLeadingLf = false;

  constructor(private readonly maxEventChars = MAX_EVENT_CHARS) {}

  /** Feeds decoded text; returns the events it completed, in order. */
  push(chunk: string): SseEvent[] {
    const events: SseEvent[] = [];
    let start = 0;
    if (this.skipLeadingLf && chunk.charCodeAt(0) === 10) start = 1;
    this.skipLeadingLf = false;
    while (start < chunk.length) {
      const lf = chunk.indexOf("\n", start);
      const cr = chunk.indexOf("\r", start);
      const end = cr < 0 ? lf : lf < 0 ? cr : Math.min(cr, lf);
      if (end < 0) break;
      const line = this.partialLine + chunk.slice(start, end);
      this.partialLine = "";
      start = end + 1;
      if (end === cr) {
        if (start < chunk.length) {
          if (chunk.charCodeAt(start) === 10) start++;
        } else {
          this.skipLeadingLf = true;
        }
      }
      this.line(line, events);
    }
    if (start < chunk.length) {
      this.partialLine += chunk.slice(start);
      this.guard(this.partialLine.length);
    }
    return events;
  }

  private line(line: string, events: SseEvent[]): void {
    if (line === "") {
      this.dispatch(events);
      return;
    }
    if (line.charCodeAt(0) === 58 /* : */) return; // a comment: heartbeats
    const colon = line.indexOf(":");
    const field = colon < 0 ? line : line.slice(0, colon);
    let value = colon < 0 ? "" : line.slice(colon + 1);
    if (value.charCodeAt(0) === 32) value = value.slice(1);
    switch (field) {
      case "event":
        this.eventType = value;
        break;
      case "data":
        this.dataLines.push(value);
        this.dataChars += value.length + 1;
        this.guard(this.dataChars);
        break;
      case "id":
        if (!value.includes("\0")) this.lastEventId = value;
        break;
      case "retry":
        if (/^\d+$/.test(value)) this.retryMs = Number(value);
        break;
      default:
        break; // unknown fields are ignored
    }
  }

  private dispatch(events: SseEvent[]): void {
    const type = this.eventType || "message";
    const data = this.dataLines.join("\n");
    const hadData = this.dataLines.length > 0;
    this.eventType = "";
    this.dataLines = [];
    this.dataChars = 0;
    if (hadData) events.push({ type, data, lastEventId: this.lastEventId });
  }

  private guard(chars: number): void {
    if (chars > this.maxEventChars) {
      this.partialLine = "";
      this.dataLines = [];
      this.dataChars = 0;
      throw new SseParseError(`an event-stream event exceeded ${this.maxEventChars} characters`);
    }
  }
}

export interface ReadEventStreamOptions {
  /** Called for every chunk (heartbeat comments included), so a caller can tell a quiet stream from a dead one. */
  onActivity?: () => void;
  /** Aborting it ends the read. */
  signal?: AbortSignal;
  /** The parser to use; pass one to read its `retryMs` and `lastEventId` afterwards. Default: a new one. */
  parser?: SseParser;
}

/**
 * Reads an event stream to its end, calling `onEvent` for each event. An event cut off by the end
 * is dropped. Resolves when the stream ends or `signal` aborts; rejects when `onEvent` throws or
 * an event exceeds the parser's cap (the download is cancelled then).
 */
export async function readEventStream(
  body: ReadableStream<Uint8Array>,
  onEvent: (event: SseEvent) => void,
  options: ReadEventStreamOptions = {},
): Promise<void> {
  const { onActivity, signal } = options;
  const reader = body.getReader();
  // Aborting ends the read even where the body is not tied to the request's signal.
  const stop = (): void => void reader.cancel(signal?.reason).catch(() => undefined);
  if (signal?.aborted) stop();
  signal?.addEventListener("abort", stop, { once: true });
  const decoder = new TextDecoder();
  const parser = options.parser ?? new SseParser();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      onActivity?.();
      for (const event of parser.push(decoder.decode(value, { stream: true }))) onEvent(event);
    }
    for (const event of parser.push(decoder.decode())) onEvent(event);
  } catch (error) {
    // Stop the download too: a throwing handler or an oversized event ends this stream.
    reader.cancel(error).catch(() => undefined);
    throw error;
  } finally {
    signal?.removeEventListener("abort", stop);
  }
}
