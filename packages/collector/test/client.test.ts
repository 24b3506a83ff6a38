import { createClient, SessionLensHttpError, type SessionChange } from "@sessionlens/collector/client";
import type { SessionInfo } from "@sessionlens/shared";
import { describe, expect, it, vi } from "vitest";
import { eventually } from "./helpers/collector.js";
import { useCollector } from "./helpers/fixture.js";

describe("@sessionlens/collector/client", () => {
  const t = useCollector();

  it("getSessionInfo works in both call forms, with the token", async () => {
    await t.start({ apiToken: "tok" });
    await t.join({ project: "Alpha" });
    await t.join({ project: "Beta" });
    const client = createClient({ url: `${t.url}/`, token: "tok" });
    expect(await client.getSessionInfo()).toHaveLength(2);
    expect((await client.getSessionInfo(undefined, "Alpha")).map((s) => s.project)).toEqual(["Alpha"]);
    expect((await client.getSessionInfo("Unauthenticated", "B*")).map((s) => s.project)).toEqual(["Beta"]);
    expect((await client.getSessionInfo({ projectFilter: "Beta" })).map((s) => s.project)).toEqual(["Beta"]);
    expect(await client.getSessionInfo("billy")).toEqual([]);
    // Same answer as in-process.
    expect((await client.getSessionInfo()).map((s) => s.id).sort()).toEqual((await t.collector.getSessionInfo()).map((s) => s.id).sort());
  });

  it("fails with the collector's error code", async () => {
    await t.start({ apiToken: "tok" });
    const client = createClient({ url: t.url, token: "wrong" });
    const error = await client.getSessionInfo().catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SessionLensHttpError);
    expect(error).toMatchObject({ status: 401, code: "unauthorized" });
  });

  it("getSession, sendMessage, closePage and closeSession", async () => {
    await t.start();
    const first = await t.join();
    const second = await t.join({ resume: first.welcome!.resume });
    const id = first.welcome!.sessionId;
    const client = createClient({ url: t.url });
    expect((await client.getSession(id))!.pages).toHaveLength(2);
    expect(await client.getSession("nope")).toBeNull();
    expect(await client.sendMessage(id, "hello", { n: 1 })).toBe(true);
    expect(await first.seen("message")).toMatchObject({ messageType: "hello", payload: { n: 1 } });
    expect(await client.sendMessage("nope", "hello", 1)).toBe(false);
    expect(await client.closePage(id, second.pageId, "only this tab")).toBe(true);
    expect((await second.closed).code).toBe(4001);
    expect(await client.closeSession(id)).toBe(true);
    expect((await first.closed).code).toBe(4000);
    expect(await client.closeSession(id)).toBe(false);
  });

  it("watchSessions follows the event stream: snapshot, upsert, remove", async () => {
    await t.start({ sseCoalesceMs: 20 });
    const existing = await t.join({ project: "Alpha" });
    const client = createClient({ url: t.url });
    const changes: SessionChange[] = [];
    let latest: SessionInfo[] = [];
    const watch = client.watchSessions({ projectFilter: "Alpha" }, (sessions, change) => {
      latest = sessions;
      changes.push(change);
    });
    try {
      await watch.ready;
      expect(latest.map((s) => s.id)).toEqual([existing.welcome!.sessionId]);
      const added = await t.join({ project: "Alpha" });
      await t.join({ project: "Beta" });
      await eventually(() => expect(latest.map((s) => s.id).sort()).toEqual([existing.welcome!.sessionId, added.welcome!.sessionId].sort()));
      await t.collector.closeSession(existing.welcome!.sessionId);
      await eventually(() => expect(latest.map((s) => s.id)).toEqual([added.welcome!.sessionId]));
      expect(changes.at(-1)).toEqual({ type: "remove", id: existing.welcome!.sessionId, reason: "closed" });
      expect(changes[0]!.type).toBe("snapshot");
    } finally {
      watch.close();
    }
  });
});

/** A fetch that answers the event stream with the given bodies, one per call (then hangs). */
function streamingFetch(bodies: string[]) {
  const calls: string[] = [];
  const fetchImpl = (async (input: string | URL | Request, init?: RequestInit) => {
    calls.push(String(input));
    const body = bodies.shift();
    if (body === undefined) {
      return new Promise<Response>((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(new Error("aborted"))));
    }
    return new Response(body, { headers: { "content-type": "text/event-stream" } });
  }) as typeof fetch;
  return { calls, fetchImpl };
}

describe("watchSessions on the shared backoff and SSE parser", () => {
  it("honours the collector's retry: and, after a stream the collector ended, waits one to two of its windows", async () => {
    const { calls, fetchImpl } = streamingFetch([
      'retry: 30\r\n\r\nevent: snapshot\r\ndata: [{"id":"a"}]\r\n\r\n',
      "event: snapshot\rdata: []\r\r",
    ]);
    const delays: number[] = [];
    const changes: SessionChange[] = [];
    const watch = createClient({ url: "http://collector.test", fetch: fetchImpl }).watchSessions(undefined, (_sessions, change) => changes.push(change), {
      onRetry: (delayMs) => delays.push(delayMs),
    });
    try {
      await vi.waitFor(() => expect(changes).toHaveLength(2));
      expect(changes.map((change) => change.type)).toEqual(["snapshot", "snapshot"]);
      // CRLF and CR line ends both parse; the first reconnect waited [30, 60) ms: retry: 30, first window skipped.
      expect(delays[0]).toBeGreaterThanOrEqual(30);
      expect(delays[0]).toBeLessThan(60);
      // The second stream ended too, so a third call may already be under way on a slow machine.
      expect(calls.length).toBeGreaterThanOrEqual(2);
    } finally {
      watch.close();
    }
  });

  it("reports HTTP errors with the collector's code, keeps retrying on 5xx and stops on 401", async () => {
    const answers = [
      new Response(JSON.stringify({ error: { code: "not_ready", message: "the store is unreachable" } }), { status: 503 }),
      new Response(JSON.stringify({ error: { code: "unauthorized", message: "an API token is required" } }), { status: 401 }),
    ];
    let fetched = 0;
    const fetchImpl = (async () => {
      fetched++;
      return answers.shift()!;
    }) as unknown as typeof fetch;
    const errors: unknown[] = [];
    const watch = createClient({ url: "http://collector.test", fetch: fetchImpl }).watchSessions(undefined, () => undefined, {
      retryMs: 1,
      onError: (error) => errors.push(error),
    });
    try {
      await watch.done; // a 401 ends the watch by itself
      expect(errors.map((error) => [(error as SessionLensHttpError).status, (error as SessionLensHttpError).code])).toEqual([
        [503, "not_ready"],
        [401, "unauthorized"],
      ]);
      expect(fetched).toBe(2);
    } finally {
      watch.close();
    }
  });
});
