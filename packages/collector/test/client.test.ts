import { createClient, SessionLensHttpError, type SessionChange } from "@sessionlens/collector/client";
import type { SessionInfo } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
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
