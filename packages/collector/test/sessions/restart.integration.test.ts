import { readFile, stat } from "node:fs/promises";
import { join as joinPath } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ManualClock, eventually, pageDropped, tempDir } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

describe("restart with the same data dir", () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  // Registered first, so it runs last: after the collector has let go of the data dir.
  afterEach(async () => {
    await dir?.remove();
  });
  const t = useCollector();

  it("keeps the secret in the data dir (mode 0600) and reuses it", async () => {
    dir = await tempDir();
    await t.start({ dataDir: dir.path });
    const first = (await readFile(joinPath(dir.path, "secret"), "utf8")).trim();
    expect(first.length).toBeGreaterThanOrEqual(32);
    expect((await stat(joinPath(dir.path, "secret"))).mode & 0o777).toBe(0o600);
    await t.close();
    await t.start({ dataDir: dir.path });
    expect((await readFile(joinPath(dir.path, "secret"), "utf8")).trim()).toBe(first);
  });

  it("resumes the same session: same id, uptime continues, totals continue with a page that closed before the restart", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    await t.start({ dataDir: dir.path }, clock);
    const stays = await t.join({ bytes: 1_000 });
    const leaves = await t.join({ resume: stays.welcome!.resume, bytes: 700 });
    leaves.bye();
    await leaves.close();
    const { sessionId, resume } = stays.welcome!;
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([stays.pageId]));
    clock.advance(20_000);
    await t.close(); // agents are told 1012 (service restart) and will resume
    expect((await stays.closed).code).toBe(1012);

    clock.advance(5_000);
    await t.start({ dataDir: dir.path }, clock);
    // Restored at once, before the agent is back: the list does not blink.
    expect((await t.collector.getSessionInfo())[0]).toMatchObject({ id: sessionId, totalBytesSent: 1_700 });
    const back = await t.join({ resume, pageId: stays.pageId, epoch: stays.epoch, bytes: 1_100 });
    expect(back.welcome!.sessionId).toBe(sessionId);
    const [session] = await t.collector.getSessionInfo();
    expect(session).toMatchObject({ id: sessionId, uptime: 25_000, totalBytesSent: 1_800, recentBytesSent: 100, pageIds: [stays.pageId] });
  });

  it("survives a crash: the snapshot written every few seconds is enough", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    const crashed = await t.start({ dataDir: dir.path, snapshotIntervalMs: 50, countersIntervalMs: 50 }, clock);
    const agent = await t.join({ bytes: 400 });
    const other = await t.join({ resume: agent.welcome!.resume, bytes: 100 });
    other.bye();
    await other.close();
    await eventually(async () => {
      const text = await readFile(joinPath(dir.path, "sessions.json"), "utf8");
      expect(JSON.parse(text).sessions[0].closedPagesBytes).toBe(100);
    });
    // Simulate SIGKILL: nothing graceful, the process's state is simply gone. A second collector
    // on the same data dir only has what is on disk.
    await t.start({ dataDir: dir.path }, clock);
    const back = await t.join({ resume: agent.welcome!.resume, pageId: agent.pageId, epoch: agent.epoch, bytes: 400 });
    expect(back.welcome!.sessionId).toBe(agent.welcome!.sessionId);
    expect((await t.collector.getSessionInfo())[0]).toMatchObject({ totalBytesSent: 500 });
    await crashed.close();
  });

  it("a crash loses no bytes that were in the counters file: heartbeats write it, not the snapshot", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    const crashed = await t.start({ dataDir: dir.path, snapshotIntervalMs: 50, countersIntervalMs: 50 }, clock);
    const snapshotPath = joinPath(dir.path, "sessions.json");
    const countersPath = joinPath(dir.path, "counters.json");
    const agent = await t.join({ bytes: 400, path: "/start" });
    await eventually(async () => expect(JSON.parse(await readFile(snapshotPath, "utf8")).sessions[0]).toMatchObject({ totalBytesSent: 400 }));
    const snapshot = await readFile(snapshotPath, "utf8");
    const { mtimeMs } = await stat(snapshotPath);
    // Only counters change from here on: no page joins or leaves, no login.
    agent.heartbeat(250);
    await eventually(async () => {
      const counters = JSON.parse(await readFile(countersPath, "utf8"));
      expect(counters.generation).toBe(JSON.parse(snapshot).generation);
      expect(counters.sessions).toEqual([[agent.welcome!.sessionId, 650, expect.any(Number), [agent.pageId, agent.epoch, expect.any(Number), 650, 0]]]);
    });
    agent.heartbeat(100);
    await eventually(async () => expect(JSON.parse(await readFile(countersPath, "utf8")).sessions[0][1]).toBe(750));
    // The full snapshot (user agent, paths, identity) was not rewritten for counters.
    expect(await readFile(snapshotPath, "utf8")).toBe(snapshot);
    expect((await stat(snapshotPath)).mtimeMs).toBe(mtimeMs);
    // SIGKILL: the page then closes while the collector is down, so the agent cannot resend its bytes.
    await t.start({ dataDir: dir.path }, clock);
    expect((await t.collector.getSessionInfo())[0]).toMatchObject({ id: agent.welcome!.sessionId, totalBytesSent: 750 });
    await crashed.close();
  });

  it("a new path is a structural change: the snapshot is rewritten and keeps it over a crash", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    const crashed = await t.start({ dataDir: dir.path, snapshotIntervalMs: 50, countersIntervalMs: 50 }, clock);
    const snapshotSession = async () => JSON.parse(await readFile(joinPath(dir.path, "sessions.json"), "utf8")).sessions[0];
    const agent = await t.join({ bytes: 400, path: "/start" });
    await eventually(async () => expect(await snapshotSession()).toMatchObject({ totalBytesSent: 400 }));
    agent.report("/checkout", 0);
    await eventually(async () => expect((await snapshotSession()).pages[0].path).toBe("/checkout"));
    // SIGKILL.
    await t.start({ dataDir: dir.path }, clock);
    expect((await t.collector.getSession(agent.welcome!.sessionId))!.pages[0]!.path).toBe("/checkout");
    await crashed.close();
  });

  it("an ended session is refused on resume after a restart", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    await t.start({ dataDir: dir.path }, clock);
    const closedOne = await t.join();
    const timedOut = await t.join();
    await t.collector.closeSession(closedOne.welcome!.sessionId, "bye");
    await timedOut.drop();
    await pageDropped(t.collector, timedOut.welcome!.sessionId, timedOut.pageId);
    clock.advance(16_000);
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([]));
    clock.advance(61_000);
    await eventually(async () => expect(await t.collector.getSessionInfo()).toHaveLength(0));
    await t.close();

    await t.start({ dataDir: dir.path }, clock);
    expect(await t.collector.getSessionInfo()).toHaveLength(0);
    for (const agent of [closedOne, timedOut]) {
      const again = await t.join({ resume: agent.welcome!.resume, pageId: agent.pageId });
      expect(again.welcome!.sessionId).not.toBe(agent.welcome!.sessionId);
    }
  });

  it("restored pages that never come back leave after the grace period, and the session times out", async () => {
    dir = await tempDir();
    const clock = new ManualClock();
    await t.start({ dataDir: dir.path }, clock);
    await t.join();
    await t.close();
    await t.start({ dataDir: dir.path }, clock);
    expect((await t.collector.getSessionInfo())[0]!.activePages).toBe(1);
    clock.advance(15_500);
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.activePages).toBe(0));
    clock.advance(60_500);
    await eventually(async () => expect(await t.collector.getSessionInfo()).toHaveLength(0));
  });
});
