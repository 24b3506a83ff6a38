import { afterEach, describe, expect, it, vi } from "vitest";
import { ApiClient, TokenStore, type TokenRequestReason } from "../src/auth.js";
import { EventStream, type StreamState } from "../src/event-stream.js";
import type { SseEvent } from "@sessionlens/shared/client";

/** A storage double for sessionStorage. */
function memoryStorage(): Storage {
  const items = new Map<string, string>();
  return {
    getItem: (key: string) => items.get(key) ?? null,
    setItem: (key: string, value: string) => void items.set(key, value),
    removeItem: (key: string) => void items.delete(key),
    clear: () => items.clear(),
    key: () => null,
    get length() {
      return items.size;
    },
  };
}

interface Call {
  url: string;
  authorization: string | null;
  accept: string | null;
}

/** A controllable event-stream response: push text, then end or fail it. */
function sseResponse(): { response: Response; push: (text: string) => void; end: () => void } {
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  const body = new ReadableStream<Uint8Array>({
    start(c) {
      controller = c;
    },
  });
  return {
    response: new Response(body, { status: 200, headers: { "Content-Type": "text/event-stream" } }),
    push: (text) => controller.enqueue(new TextEncoder().encode(text)),
    end: () => controller.close(),
  };
}

function setup(responses: (() => Response)[], askForToken?: (reason: TokenRequestReason) => Promise<void>) {
  const calls: Call[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL, init?: RequestInit) => {
    const headers = new Headers(init?.headers);
    calls.push({ url: String(input), authorization: headers.get("Authorization"), accept: headers.get("Accept") });
    const next = responses.shift();
    if (!next) return new Promise<Response>(() => undefined); // hang: the test is over
    return next();
  });
  const tokens = new TokenStore(memoryStorage());
  const asks: TokenRequestReason[] = [];
  const api = new ApiClient({
    baseUrl: "http://collector.test/",
    tokens,
    fetch: fetch as typeof globalThis.fetch,
    askForToken:
      askForToken ??
      (async (reason) => {
        asks.push(reason);
        tokens.set("s3cret");
      }),
  });
  const events: SseEvent[] = [];
  const received: StreamState[] = [];
  const stream = new EventStream({
    api,
    baseMs: 10,
    maxMs: 20,
    onEvent: (event) => events.push(event),
    onState: (state) => received.push(state),
  });
  const states = { kinds: () => received.map((s) => s.kind), all: received };
  return { calls, tokens, asks, api, events, states, stream };
}

describe("EventStream", () => {
  let stop: (() => void) | undefined;
  afterEach(() => stop?.());

  it("goes live on the snapshot, then reconnects after a drop and takes a fresh snapshot", async () => {
    const first = sseResponse();
    const second = sseResponse();
    const { calls, events, states, stream } = setup([() => first.response, () => second.response]);
    stop = () => stream.stop();
    stream.start();
    first.push('event: snapshot\ndata: [{"id":"a"}]\n\n: heartbeat\n\nevent: upsert\ndata: {"id":"b"}\n\n');
    await vi.waitFor(() => expect(events).toHaveLength(2));
    expect(states.kinds()).toEqual(["connecting", "live"]);
    first.end();
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    second.push('event: snapshot\ndata: [{"id":"b"}]\n\n');
    await vi.waitFor(() => expect(events).toHaveLength(3));
    expect(events.map((e) => e.type)).toEqual(["snapshot", "upsert", "snapshot"]);
    expect(states.kinds()).toEqual(["connecting", "live", "waiting", "connecting", "live"]);
    expect(calls[0]).toEqual({ url: "http://collector.test/api/v1/events", authorization: null, accept: "text/event-stream" });
  });

  it("backs off after failures and says why", async () => {
    const { stream, calls, states } = setup([
      () => new Response("down", { status: 503 }),
      () => {
        throw new TypeError("Failed to fetch");
      },
    ]);
    stop = () => stream.stop();
    stream.start();
    await vi.waitFor(() => expect(calls).toHaveLength(3));
    const waits = states.all.filter((s): s is Extract<StreamState, { kind: "waiting" }> => s.kind === "waiting");
    expect(waits.map((s) => s.error)).toEqual(["the collector answered HTTP 503", "Failed to fetch"]);
    expect(waits.map((s) => s.attempt)).toEqual([1, 2]);
  });

  it("uses the shared backoff: the collector's retry: sets its first window, and a stream the collector ended skips that window", async () => {
    const first = sseResponse();
    const { api, calls } = setup([() => first.response, () => new Response("down", { status: 503 })]);
    const waits: number[] = [];
    const stream = new EventStream({
      api,
      baseMs: 10,
      random: () => 0.5,
      onEvent: () => undefined,
      onState: (state) => {
        if (state.kind === "waiting") waits.push(state.delayMs);
      },
    });
    stop = () => stream.stop();
    stream.start();
    first.push('retry: 40\n\nevent: snapshot\ndata: []\n\n');
    first.end();
    await vi.waitFor(() => expect(waits).toHaveLength(2));
    // [40, 80) ms after the clean end (a restart), then inside the window [80, 120) ms from that end
    // (after a restart the next windows stay one base long): its middle, 100 ms, less the time gone.
    expect(waits[0]).toBe(60);
    expect(waits[1]).toBeGreaterThanOrEqual(20);
    expect(waits[1]).toBeLessThanOrEqual(40);
    expect(calls.length).toBeGreaterThanOrEqual(2);
  });

  it("asks for the token on 401 and reconnects with it as a Bearer header, never in the URL", async () => {
    const live = sseResponse();
    const { calls, asks, stream, states } = setup([() => new Response(null, { status: 401 }), () => live.response]);
    stop = () => stream.stop();
    stream.start();
    live.push('event: snapshot\ndata: []\n\n');
    await vi.waitFor(() => expect(states.kinds().at(-1)).toBe("live"));
    expect(asks).toEqual(["required"]);
    expect(calls.map((c) => c.authorization)).toEqual([null, "Bearer s3cret"]);
    expect(calls.every((c) => !c.url.includes("s3cret"))).toBe(true);
    expect(states.kinds()).toEqual(["connecting", "unauthorized", "connecting", "live"]);
  });

  it("forgets a refused token and waits, without retrying, when the form is dismissed", async () => {
    vi.useFakeTimers();
    stop = () => {
      stream.stop();
      vi.useRealTimers();
    };
    const asked: TokenRequestReason[] = [];
    const { calls, stream, states, tokens } = setup([() => new Response(null, { status: 401 })], async (reason) => {
      asked.push(reason);
      throw new Error("dismissed");
    });
    tokens.set("old-token");
    stream.start();
    await vi.waitFor(() => expect(asked).toEqual(["rejected"]));
    // Parked: no timer at all (no retry, no stall timer), and ten minutes bring no request.
    expect(vi.getTimerCount()).toBe(0);
    await vi.advanceTimersByTimeAsync(10 * 60_000);
    expect(calls).toHaveLength(1);
    expect(tokens.get()).toBeNull();
    expect(states.kinds().at(-1)).toBe("unauthorized");
  });

  it("reconnects when even heartbeats stop (a half-dead connection)", async () => {
    const silent = sseResponse();
    const next = sseResponse();
    const { calls, api } = setup([() => silent.response, () => next.response]);
    const quiet = new EventStream({ api, stallMs: 50, baseMs: 1, maxMs: 1, onEvent: () => undefined, onState: () => undefined });
    stop = () => quiet.stop();
    quiet.start();
    silent.push('event: snapshot\ndata: []\n\n');
    await vi.waitFor(() => expect(calls).toHaveLength(2), { timeout: 2000 });
  });
});

describe("ApiClient", () => {
  it("retries a request once a token is entered, and sends it as a Bearer header", async () => {
    const { api, calls, asks } = setup([
      () => new Response(null, { status: 401 }),
      () => new Response(null, { status: 204 }),
    ]);
    const response = await api.request("api/v1/sessions/abc", { method: "DELETE" });
    expect(response.status).toBe(204);
    expect(asks).toEqual(["required"]);
    expect(calls.map((c) => [c.url, c.authorization])).toEqual([
      ["http://collector.test/api/v1/sessions/abc", null],
      ["http://collector.test/api/v1/sessions/abc", "Bearer s3cret"],
    ]);
  });

  it("resolves API paths against the page, so a path prefix works", () => {
    const api = new ApiClient({
      baseUrl: "https://ops.example.com/sessionlens/",
      tokens: new TokenStore(null),
      askForToken: async () => undefined,
      fetch: (() => undefined) as unknown as typeof fetch,
    });
    expect(api.url("api/v1/events")).toBe("https://ops.example.com/sessionlens/api/v1/events");
  });

  it("keeps the token in sessionStorage only, and in memory when storage is unavailable", () => {
    const storage = memoryStorage();
    const tokens = new TokenStore(storage);
    tokens.set("t1");
    expect(storage.getItem("sessionlens.apiToken")).toBe("t1");
    expect(tokens.headers()).toEqual({ Authorization: "Bearer t1" });
    tokens.clear();
    expect(tokens.headers({ Accept: "x" })).toEqual({ Accept: "x" });
    const broken = new TokenStore({
      getItem: () => {
        throw new Error("denied");
      },
      setItem: () => {
        throw new Error("denied");
      },
      removeItem: () => undefined,
    });
    broken.set("t2");
    expect(broken.get()).toBe("t2");
  });
});
