import { SESSION_INFO_KEYS } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
import { eventually, fakeTimers, pageDropped } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

describe("session lifecycle", () => {
  const t = useCollector();

  it("a hello creates a session with the thirteen keys and correct values", async () => {
    await t.start();
    const agent = await t.join({ path: "/app/home", bytes: 120 });
    expect(agent.welcome).toMatchObject({ type: "welcome", v: 1, heartbeatMs: 10_000, idleTimeoutMs: 40_000, authorized: false });
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
    await t.start();
    const first = await t.join();
    const second = await t.join({ resume: first.welcome!.resume });
    expect(second.welcome!.sessionId).toBe(first.welcome!.sessionId);
    const [session] = await t.collector.getSessionInfo();
    expect(session!.pageIds.sort()).toEqual([first.pageId, second.pageId].sort());
    expect(session!.activePages).toBe(2);
  });

  it("a page that says bye leaves at once; the session ends after the timeout", async () => {
    await t.start(...fakeTimers());
    const agent = await t.join();
    agent.bye();
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([]));
    // Each advance runs the lifecycle sweep: at 59 s it must keep the session, at 60.5 s end it.
    t.clock.advance(59_000);
    expect(await t.collector.getSessionInfo()).toHaveLength(1);
    t.clock.advance(1_500);
    expect(await t.collector.getSessionInfo()).toHaveLength(0);
  });

  it("a dropped page stays for the grace period, then leaves", async () => {
    await t.start(...fakeTimers());
    const agent = await t.join();
    await agent.drop();
    await pageDropped(t.collector, agent.welcome!.sessionId, agent.pageId);
    t.clock.advance(14_000);
    expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([agent.pageId]);
    t.clock.advance(1_500);
    expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([]);
  });
});

describe("resume and pages", () => {
  const t = useCollector();

  it("a dropped page that reconnects within the grace period continues the same page and session", async () => {
    await t.start(...fakeTimers());
    const first = await t.join({ bytes: 100 });
    await first.drop();
    await pageDropped(t.collector, first.welcome!.sessionId, first.pageId);
    t.clock.advance(10_000);
    const again = await t.join({ resume: first.welcome!.resume, pageId: first.pageId, bytes: 150 });
    expect(again.welcome!.sessionId).toBe(first.welcome!.sessionId);
    // Past the first drop's grace period: the sweep that runs now must not remove the page.
    t.clock.advance(10_000);
    const [session] = await t.collector.getSessionInfo();
    expect(session).toMatchObject({ pageIds: [first.pageId], totalBytesSent: 150, recentBytesSent: 50 });
  });

  it("a forged or foreign resume credential starts a new session", async () => {
    await t.start();
    const first = await t.join();
    const parts = first.welcome!.resume.split(".");
    const forged = [...parts.slice(0, 4), "A".repeat(43)].join(".");
    const attacker = await t.join({ resume: forged });
    expect(attacker.welcome!.sessionId).not.toBe(first.welcome!.sessionId);
    // The session id alone (as admins see it) is not a credential either.
    const guesser = await t.join({ resume: first.welcome!.sessionId });
    expect(guesser.welcome!.sessionId).not.toBe(first.welcome!.sessionId);
    // A real credential presented for another project does not resume.
    const otherProject = await t.join({ resume: first.welcome!.resume, project: "Other" });
    expect(otherProject.welcome!.sessionId).not.toBe(first.welcome!.sessionId);
    expect(await t.collector.getSessionInfo()).toHaveLength(4);
  });

  it("repeated, stale and out-of-order reports never double-count", async () => {
    await t.start();
    const agent = await t.join({ bytes: 10 });
    const { epoch } = agent;
    agent.send({ type: "heartbeat", epoch, seq: 5, bytes: 100 });
    agent.send({ type: "heartbeat", epoch, seq: 5, bytes: 100 }); // repeated
    agent.send({ type: "heartbeat", epoch, seq: 3, bytes: 60 }); // older, arrives late
    agent.send({ type: "report", epoch, seq: 4, bytes: 80, path: "/stale" }); // older report
    agent.send({ type: "heartbeat", epoch: epoch - 1, seq: 99, bytes: 5_000 }); // an older epoch
    await eventually(async () => {
      const [session] = await t.collector.getSessionInfo();
      expect(session!.totalBytesSent).toBe(100);
      expect(session!.recentBytesSent).toBe(0);
    });
    const details = await t.collector.getSession(agent.welcome!.sessionId);
    expect(details!.pages[0]!.path).toBe("/app/home");
    // A new epoch of the page keeps the old one's bytes.
    agent.send({ type: "report", epoch: epoch + 1, seq: 0, bytes: 30, path: "/next" });
    await eventually(async () => {
      const [session] = await t.collector.getSessionInfo();
      expect(session).toMatchObject({ totalBytesSent: 130, recentBytesSent: 30 });
    });
  });

  it("totals include pages that closed, and a page that comes back is not counted twice", async () => {
    await t.start();
    const first = await t.join({ bytes: 1_000 });
    const second = await t.join({ resume: first.welcome!.resume, bytes: 500 });
    second.bye();
    await second.close(1001);
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([first.pageId]));
    expect((await t.collector.getSessionInfo())[0]!.totalBytesSent).toBe(1_500);
    // Back from the back/forward cache with the same page id and cumulative counters.
    const back = await t.join({ resume: first.welcome!.resume, pageId: second.pageId, epoch: second.epoch, bytes: 520 });
    expect(back.welcome!.sessionId).toBe(first.welcome!.sessionId);
    const [session] = await t.collector.getSessionInfo();
    expect(session).toMatchObject({ totalBytesSent: 1_520, recentBytesSent: 20, activePages: 2 });
  });

  it("lastComm counts from the last frame of any page", async () => {
    await t.start();
    const agent = await t.join();
    t.clock.advance(4_000);
    agent.heartbeat();
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.lastComm).toBe(0));
    t.clock.advance(1_234);
    expect((await t.collector.getSessionInfo())[0]).toMatchObject({ lastComm: 1_234, uptime: 5_234 });
  });

  it("a session that timed out or was closed never comes back by resuming", async () => {
    await t.start();
    const agent = await t.join();
    const { resume, sessionId } = agent.welcome!;
    await agent.drop();
    await pageDropped(t.collector, sessionId, agent.pageId);
    t.clock.advance(15_500);
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([]));
    t.clock.advance(61_000);
    await eventually(async () => expect(await t.collector.getSessionInfo()).toHaveLength(0));
    const again = await t.join({ resume });
    expect(again.welcome!.sessionId).not.toBe(sessionId);

    await t.collector.closeSession(again.welcome!.sessionId);
    const third = await t.join({ resume: again.welcome!.resume });
    expect(third.welcome!.sessionId).not.toBe(again.welcome!.sessionId);
  });

  it("a credential that verifies for a session this collector never saw recreates it with its id and creation time", async () => {
    const secret = "cluster-secret";
    await t.start({ secret });
    const agent = await t.join();
    t.clock.advance(30_000);
    const { resume, sessionId } = agent.welcome!;
    await agent.drop();
    await t.close();
    // Another node of the cluster (same secret, no shared data).
    await t.start({ secret }, t.clock);
    const back = await t.join({ resume, pageId: agent.pageId });
    expect(back.welcome!.sessionId).toBe(sessionId);
    expect((await t.collector.getSessionInfo())[0]!.uptime).toBe(30_000);
  });

  it("a page closed by command may not come back", async () => {
    await t.start({ maxMessagesPerWindow: 1_000 });
    const first = await t.join();
    expect(await t.collector.closePage(first.welcome!.sessionId, first.pageId, "bye now")).toBe(true);
    expect(await first.closed).toMatchObject({ code: 4001 });
    const retry = await t.connect();
    retry.send(retry.helloMessage({ resume: first.welcome!.resume, pageId: first.pageId }));
    expect(await retry.closed).toMatchObject({ code: 4001 });
  });
});
