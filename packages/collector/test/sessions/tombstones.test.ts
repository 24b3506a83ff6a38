import { describe, expect, it } from "vitest";
import type { MemorySessionStore } from "../../src/store/memory.js";
import { TestAgent } from "../helpers/agent.js";
import { ManualClock, fakeTimers, settle, startCollector } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

describe("tombstones of ended sessions", () => {
  const t = useCollector();
  const store = () => t.collector.store as MemorySessionStore;

  it("expired tombstones are forgotten by the sweep, not only on lookup or at startup", async () => {
    await t.start(...fakeTimers({ resumeMaxAgeMs: 120_000 }));
    for (let i = 0; i < 3; i++) {
      const agent = await t.join();
      await t.collector.closeSession(agent.welcome!.sessionId);
    }
    await settle();
    expect(store().tombstoneCount()).toBe(3);
    // Each advance runs the sweep (and its prune): at 60 s nothing has expired, at 120 s all has.
    t.clock.advance(60_000);
    await settle();
    expect(store().tombstoneCount()).toBe(3);
    t.clock.advance(60_001);
    await settle();
    expect(store().tombstoneCount()).toBe(0);
  });

  it("beyond maxTombstones the oldest are evicted, and a credential issued before the floor never recreates its session", async () => {
    const clock = new ManualClock();
    await t.start({ maxTombstones: 2, secret: "shared-cluster-secret" }, clock);
    const agents = [];
    for (let i = 0; i < 3; i++) agents.push(await t.join());
    for (const agent of agents) {
      clock.advance(1_000);
      await t.collector.closeSession(agent.welcome!.sessionId);
    }
    expect(store().tombstoneCount()).toBe(2);
    const [evicted] = agents;
    // Its tombstone is gone, but it ended: it must not come back by resuming.
    const again = await t.join({ resume: evicted!.welcome!.resume });
    expect(again.welcome!.sessionId).not.toBe(evicted!.welcome!.sessionId);

    // A session this node never knew (another node of the cluster), credential issued after the floor: recreated.
    const otherNode = await startCollector({ secret: "shared-cluster-secret" }, clock);
    try {
      clock.advance(1_000);
      const elsewhere = await TestAgent.join(otherNode.wsUrl);
      const moved = await t.join({ resume: elsewhere.welcome!.resume, pageId: elsewhere.pageId });
      expect(moved.welcome!.sessionId).toBe(elsewhere.welcome!.sessionId);
      await elsewhere.drop();
    } finally {
      await otherNode.close();
    }
  });
});
