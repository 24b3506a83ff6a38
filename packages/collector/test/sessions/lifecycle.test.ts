import { SESSION_INFO_KEYS } from "@sessionlens/shared";
import { afterEach, describe, expect, it } from "vitest";
import { TestAgent } from "../helpers/agent.js";
import { eventually, startCollector, type TestCollector } from "../helpers/collector.js";

describe("session lifecycle", () => {
  let t: TestCollector;
  const agents: TestAgent[] = [];
  const join = async (...args: Parameters<typeof TestAgent.join>) => {
    const agent = await TestAgent.join(...args);
    agents.push(agent);
    return agent;
  };

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.drop()));
    await t?.close();
  });

  it("a hello creates a session with the thirteen keys and correct values", async () => {
    t = await startCollector();
    const agent = await join(t.wsUrl, { path: "/app/home", bytes: 120 });
    expect(agent.welcome).toMatchObject({ type: "welcome", v: 1, heartbeatMs: 10_000, idleTimeoutMs: 25_000, authorized: false });
    t.clock.advance(3_000);
    const [session] = await t.collector.getSessionInfo();
    expect(Object.keys(session!)).toEqual([...SESSION_INFO_KEYS]);
    expect(session).toEqual({
      userAgent: agent.helloMessage().userAgent,
      id: agent.welcome!.sessionId,
      username: "Unauthenticated",
      authorized: false,
      project: "MyProject",
      uptime: 3_000,
      clientAddress: "127.0.0.1",
      lastComm: 3_000,
      sessionScope: "browser",
      activePages: 1,
      recentBytesSent: 120,
      totalBytesSent: 120,
      pageIds: [agent.pageId],
    });
  });

  it("two pages with the same resume credential are one session with two pages", async () => {
    t = await startCollector();
    const first = await join(t.wsUrl);
    const second = await join(t.wsUrl, { resume: first.welcome!.resume });
    expect(second.welcome!.sessionId).toBe(first.welcome!.sessionId);
    const [session] = await t.collector.getSessionInfo();
    expect(session!.pageIds.sort()).toEqual([first.pageId, second.pageId].sort());
    expect(session!.activePages).toBe(2);
  });

  it("a page that says bye leaves at once; the session ends after the timeout", async () => {
    t = await startCollector();
    const agent = await join(t.wsUrl);
    agent.bye();
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([]));
    t.clock.advance(59_000);
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(await t.collector.getSessionInfo()).toHaveLength(1);
    t.clock.advance(1_500);
    await eventually(async () => expect(await t.collector.getSessionInfo()).toHaveLength(0));
  });

  it("a dropped page stays for the grace period, then leaves", async () => {
    t = await startCollector();
    const agent = await join(t.wsUrl);
    await agent.drop();
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([agent.pageId]);
    t.clock.advance(15_500);
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([]));
  });
});
