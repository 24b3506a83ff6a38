import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { SESSION_INFO_KEYS, type AppMessage, type CloseSessionMessage } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
import { createCollector } from "@sessionlens/collector";
import { eventually, silentLogger, tempDir } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

describe("HTTP API", () => {
  const t = useCollector();
  // In process, through the collector's `request()` seam: no port for the API calls.
  const api = (path: string, init?: RequestInit) => t.collector.request(path, init);
  const overTheNetwork = (path: string, init?: RequestInit) => fetch(`${t.url}${path}`, init);

  it("GET /api/v1/sessions answers a bare array with exactly the thirteen keys", async () => {
    await t.start();
    const agent = await t.join({ bytes: 64 });
    const response = await api("/api/v1/sessions");
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/json/);
    const body = (await response.json()) as Record<string, unknown>[];
    expect(Array.isArray(body)).toBe(true);
    expect(Object.keys(body[0]!)).toEqual([...SESSION_INFO_KEYS]);
    expect(body[0]).toMatchObject({ id: agent.welcome!.sessionId, totalBytesSent: 64, pageIds: [agent.pageId] });
    expect(await (await api("/api/v1/sessions?usernameFilter=nobody")).json()).toEqual([]);
  });

  it("filters by usernameFilter and projectFilter, with wildcards", async () => {
    await t.start();
    await t.join({ project: "Alpha" });
    await t.join({ project: "Beta" });
    await t.join({ project: "Alphabet" });
    const projects = async (query: string) =>
      ((await (await api(`/api/v1/sessions${query}`)).json()) as { project: string }[]).map((s) => s.project).sort();
    expect(await projects("?projectFilter=Alpha")).toEqual(["Alpha"]);
    expect(await projects("?projectFilter=Alpha*")).toEqual(["Alpha", "Alphabet"]);
    expect(await projects("?projectFilter=*a")).toEqual(["Alpha", "Beta"]);
    expect(await projects("?usernameFilter=Unauthenticated&projectFilter=B*")).toEqual(["Beta"]);
    expect(await projects("?usernameFilter=")).toHaveLength(3);
    expect(await projects("?projectFilter=A.*")).toEqual([]);
  });

  it("the list shows pages that join and leave after it was first answered (its cached text is rebuilt)", async () => {
    await t.start();
    const first = await t.join();
    const list = async () => ((await (await api("/api/v1/sessions")).json()) as { activePages: number; pageIds: string[] }[])[0]!;
    expect(await list()).toMatchObject({ activePages: 1, pageIds: [first.pageId] });
    const second = await t.join({ resume: first.welcome!.resume });
    expect(await list()).toMatchObject({ activePages: 2, pageIds: [first.pageId, second.pageId] });
    first.bye();
    await eventually(async () => expect(await list()).toMatchObject({ activePages: 1, pageIds: [second.pageId] }));
  });

  it("streams a large answer in chunks", async () => {
    await t.start({ maxConnectionsPerIp: 1_000 });
    for (let i = 0; i < 300; i++) await t.join({ userAgent: `Agent ${i} ${"x".repeat(400)}` });
    for (const call of [api, overTheNetwork]) {
      const response = await call("/api/v1/sessions");
      expect(response.headers.get("transfer-encoding")).toBe("chunked");
      expect((await response.json()) as unknown[]).toHaveLength(300);
    }
    // Written chunks are reused: answers written at the same time never share one.
    const ids = (await t.collector.getSessionInfo()).map((session) => session.id).sort();
    const bodies = await Promise.all(Array.from({ length: 8 }, async () => (await overTheNetwork("/api/v1/sessions")).text()));
    for (const body of bodies) expect((JSON.parse(body) as { id: string }[]).map((session) => session.id).sort()).toEqual(ids);
  });

  it("GET /api/v1/sessions/:id gives details, or 404", async () => {
    await t.start();
    const agent = await t.join({
      bytes: 99,
      path: "/orders/7",
      userAgent: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
    });
    const response = await api(`/api/v1/sessions/${agent.welcome!.sessionId}`);
    expect(response.status).toBe(200);
    const details = (await response.json()) as Record<string, unknown>;
    expect(details).toMatchObject({
      id: agent.welcome!.sessionId,
      sessionScope: "ios",
      createdAt: new Date(t.clock.now()).toISOString(),
      device: { os: { name: "iOS", version: "17.4" }, device: { type: "mobile", vendor: "Apple", model: "iPhone" } },
      pages: [{ id: agent.pageId, path: "/orders/7", bytes: 99, connected: true, disconnectedAt: null }],
    });
    expect(details["userAgent"]).toContain("iPhone");
    const missing = await api("/api/v1/sessions/nope");
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ error: { code: "not_found", message: "no session nope" } });
  });

  it("DELETE /api/v1/sessions/:id closes the session: pages get closeSession and 4000; then 404", async () => {
    await t.start();
    const first = await t.join();
    const second = await t.join({ resume: first.welcome!.resume });
    const response = await api(`/api/v1/sessions/${first.welcome!.sessionId}`, {
      method: "DELETE",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ message: "maintenance" }),
    });
    expect(response.status).toBe(204);
    for (const agent of [first, second]) {
      expect((await agent.closed).code).toBe(4000);
      expect(agent.frames.find((frame) => frame.type === "closeSession")).toEqual<CloseSessionMessage>({
        type: "closeSession",
        message: "maintenance",
      });
    }
    expect(await t.collector.getSessionInfo()).toEqual([]);
    expect((await api(`/api/v1/sessions/${first.welcome!.sessionId}`, { method: "DELETE" })).status).toBe(404);
  });

  it("DELETE /api/v1/sessions/:id/pages/:pageId closes one page with 4001; 404 for unknown ones", async () => {
    await t.start();
    const first = await t.join();
    const second = await t.join({ resume: first.welcome!.resume });
    const id = first.welcome!.sessionId;
    expect((await api(`/api/v1/sessions/${id}/pages/${second.pageId}?message=later`, { method: "DELETE" })).status).toBe(204);
    expect((await second.closed).code).toBe(4001);
    expect(second.frames.find((frame) => frame.type === "closePage")).toEqual({ type: "closePage", message: "later" });
    expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([first.pageId]);
    expect((await api(`/api/v1/sessions/${id}/pages/${second.pageId}`, { method: "DELETE" })).status).toBe(404);
    expect((await api(`/api/v1/sessions/nope/pages/${first.pageId}`, { method: "DELETE" })).status).toBe(404);
  });

  it("POST /api/v1/sessions/:id/messages delivers to every page or one page; 404, 400 and 413", async () => {
    await t.start();
    const first = await t.join();
    const second = await t.join({ resume: first.welcome!.resume });
    const id = first.welcome!.sessionId;
    const post = (body: unknown, sessionId = id) =>
      api(`/api/v1/sessions/${sessionId}/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });

    const toAll = await post({ type: "refresh", payload: { reason: "deploy", at: [1, 2] } });
    expect(toAll.status).toBe(202);
    expect(await toAll.json()).toEqual({ delivered: 2 });
    for (const agent of [first, second]) {
      expect(await agent.seen("message")).toEqual<AppMessage>({ type: "message", messageType: "refresh", payload: { reason: "deploy", at: [1, 2] } });
    }
    const toOne = await post({ type: "ping", payload: 1, pageId: second.pageId });
    expect(toOne.status).toBe(202);
    await eventually(() => expect(second.frames.filter((frame) => frame.type === "message")).toHaveLength(2));
    expect(first.frames.filter((frame) => frame.type === "message")).toHaveLength(1);

    expect((await post({ type: "x", payload: 1 }, "nope")).status).toBe(404);
    expect((await post({ type: "x", payload: 1, pageId: "nope-nope" })).status).toBe(404);
    expect((await post({ payload: 1 })).status).toBe(400);
    const invalid = await api(`/api/v1/sessions/${id}/messages`, { method: "POST", body: "{nope", headers: { "content-type": "application/json" } });
    expect(invalid.status).toBe(400);
    let deep: unknown = 1;
    for (let i = 0; i < 40; i++) deep = { deep };
    const tooDeep = await post({ type: "x", payload: deep });
    expect(tooDeep.status).toBe(400);
    expect(((await tooDeep.json()) as { error: { code: string } }).error.code).toBe("too_deep");
    const tooLarge = await post({ type: "x", payload: "y".repeat(70_000) });
    expect(tooLarge.status).toBe(413);
    expect(((await tooLarge.json()) as { error: { code: string } }).error.code).toBe("too_large");
  });

  it("answers unknown routes and methods with JSON errors", async () => {
    await t.start();
    const notFound = await api("/api/v1/nothing");
    expect(notFound.status).toBe(404);
    expect(((await notFound.json()) as { error: { code: string } }).error.code).toBe("not_found");
    const wrongMethod = await api("/api/v1/sessions", { method: "PUT" });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get("allow")).toBe("GET, HEAD");
  });

  describe("with an API token", () => {
    it("every /api/ call needs the Bearer token; health and metrics do not", async () => {
      await t.start({ apiToken: "s3cret-token" });
      const none = await api("/api/v1/sessions");
      expect(none.status).toBe(401);
      expect(none.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect(((await none.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
      expect((await api("/api/v1/sessions", { headers: { authorization: "Bearer wrong" } })).status).toBe(401);
      expect((await api("/api/v1/sessions?token=s3cret-token")).status).toBe(401);
      expect((await api("/api/v1/sessions", { headers: { authorization: "Bearer s3cret-token" } })).status).toBe(200);
      expect((await api("/api/v1/events", { method: "GET" })).status).toBe(401);
      expect((await api("/api/v1/sessions/x", { method: "DELETE" })).status).toBe(401);
      expect((await api("/healthz")).status).toBe(200);
      expect((await api("/metrics")).status).toBe(200);
    });
  });

  it("/healthz and /readyz are 200 while running", async () => {
    await t.start();
    expect(await (await api("/healthz")).json()).toEqual({ status: "ok" });
    expect(await (await api("/readyz")).json()).toEqual({ status: "ready" });
  });

  it("readiness is 503 while draining (in process)", async () => {
    await t.start();
    const agent = await t.join();
    const closing = t.collector.close();
    const response = await api("/readyz");
    expect(response.status).toBe(503);
    expect(await response.json()).toEqual({ error: { code: "not_ready", message: "the collector is shutting down" } });
    expect((await agent.closed).code).toBe(1012);
    await closing;
  });

  it("answers in process before it listens: no port at all", async () => {
    const collector = createCollector({ dataDir: null, logger: silentLogger, apiToken: "t0ken" });
    try {
      expect((await collector.request("/healthz")).status).toBe(200);
      expect(await (await collector.request("/readyz")).json()).toEqual({ error: { code: "not_ready", message: "the collector is starting" } });
      expect((await collector.request("/api/v1/sessions")).status).toBe(401);
      const list = await collector.request(new Request("http://collector.local/api/v1/sessions", { headers: { authorization: "Bearer t0ken" } }));
      expect(list.status).toBe(200);
      expect(await list.json()).toEqual([]);
      expect(collector.address()).toBeNull();
    } finally {
      await collector.close();
    }
  });

  describe("status page", () => {
    it("serves a small page saying it is not built, under a CSP without inline scripts", async () => {
      const dir = await tempDir();
      await t.start({ statusPageDir: join(dir.path, "missing") });
      const response = await api("/");
      expect(response.status).toBe(200);
      expect(response.headers.get("content-security-policy")).toContain("script-src 'self'");
      expect(response.headers.get("content-security-policy")).not.toContain("unsafe-inline");
      expect(await response.text()).toContain("not built");
      await dir.remove();
    });

    it("serves index.html and its assets, and nothing outside them", async () => {
      const dir = await tempDir();
      await mkdir(join(dir.path, "assets"), { recursive: true });
      await writeFile(join(dir.path, "index.html"), "<!doctype html><title>ok</title>");
      await writeFile(join(dir.path, "assets", "app-123.js"), "console.log(1)");
      await writeFile(join(dir.path, "secret.txt"), "no");
      await t.start({ statusPageDir: dir.path });
      const index = await api("/");
      expect(await index.text()).toContain("<title>ok</title>");
      expect(index.headers.get("content-security-policy")).toContain("frame-ancestors 'none'");
      const asset = await api("/assets/app-123.js");
      expect(asset.headers.get("content-type")).toMatch(/^text\/javascript/);
      expect((await api("/secret.txt")).status).toBe(404);
      expect((await api("/assets/..%2fsecret.txt")).status).toBe(404);
      expect((await api("/assets/%2e%2e/secret.txt")).status).toBe(404);
      await dir.remove();
    });
  });
});
