import { eventually } from "../../../../testing/eventually.js";

export interface SseEvent {
  type: string;
  data: string;
}

/** Reads an event stream with fetch; `next()` waits for the next event (comments are counted apart). */
export class SseReader {
  readonly events: SseEvent[] = [];
  comments = 0;
  readonly #controller = new AbortController();
  done: Promise<void> = Promise.resolve();
  status = 0;

  /** Opens the stream with `fetch`, or with another fetch-like function (a collector's `request`). */
  static async open(
    url: string,
    headers: Record<string, string> = {},
    fetcher: (url: string, init: RequestInit) => Promise<Response> = fetch,
  ): Promise<SseReader> {
    const reader = new SseReader();
    const response = await fetcher(url, { headers: { accept: "text/event-stream", ...headers }, signal: reader.#controller.signal });
    reader.status = response.status;
    if (response.ok && response.body) reader.done = reader.#read(response.body).catch(() => {});
    return reader;
  }

  async #read(body: ReadableStream<Uint8Array>): Promise<void> {
    const decoder = new TextDecoder();
    let buffer = "";
    let type = "";
    let data: string[] = [];
    for await (const chunk of body) {
      buffer += decoder.decode(chunk, { stream: true });
      let index: number;
      while ((index = buffer.indexOf("\n")) !== -1) {
        const line = buffer.slice(0, index);
        buffer = buffer.slice(index + 1);
        if (line === "") {
          if (data.length > 0) this.events.push({ type: type || "message", data: data.join("\n") });
          type = "";
          data = [];
        } else if (line.startsWith(":")) {
          this.comments++;
        } else if (line.startsWith("event:")) {
          type = line.slice(6).trim();
        } else if (line.startsWith("data:")) {
          data.push(line.slice(5).replace(/^ /, ""));
        }
      }
    }
  }

  /** Waits until an event matching `test` has arrived; returns it. */
  waitFor(test: (event: SseEvent) => boolean, timeoutMs = 5_000): Promise<SseEvent> {
    return eventually(
      () => this.events.find(test) ?? fail(`no matching event; got ${this.events.map((event) => event.type).join(", ")}`),
      { timeoutMs },
    );
  }

  close(): void {
    this.#controller.abort();
  }
}

function fail(message: string): never {
  throw new Error(message);
}
