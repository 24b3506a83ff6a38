import { describe, expect, it } from "vitest";
import { SessionPersistence, type SessionRecord } from "@sessionlens/collector";
import { eventually, fakeTimers, settle } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { capturingLogger } from "../hostile/helpers.js";

/** A store that fails every write: a backend down for a while, or a custom store with a bug. */
class FailingStore extends SessionPersistence {
  puts = 0;
  counted = 0;
  override async put(_record: SessionRecord): Promise<void> {
    this.puts++;
    throw new Error("the backend is down");
  }
  override countersChanged(_record: SessionRecord): void {
    this.counted++;
    throw new Error("the backend's counters bookkeeping has a bug");
  }
}

const messagesOf = (lines: string[]) => lines.map((line) => (JSON.parse(line) as { msg: string }).msg);

describe("a failure that repeats with every session or frame", () => {
  const t = useCollector();

  it("logs each kind at most 10 times per 10 s, then one line with how many were held back; sessions carry on", async () => {
    const { logger, lines } = capturingLogger();
    const store = new FailingStore();
    const [options, clock] = fakeTimers({ store, logger });
    await t.start(options, clock);

    // Every hello is a put; every heartbeat that adds bytes is a countersChanged.
    const agents = [];
    for (let i = 0; i < 30; i++) agents.push(await t.join());
    for (let i = 0; i < 15; i++) agents[0]!.heartbeat(100);
    const first = agents[0]!.welcome!.sessionId;
    await eventually(async () => expect((await t.collector.getSession(first))?.totalBytesSent).toBe(1_500));
    await eventually(() => expect(store.puts).toBeGreaterThanOrEqual(30));
    expect(store.counted).toBeGreaterThan(10);
    await settle();

    const logged = messagesOf(lines);
    expect(logged.filter((msg) => msg === "the store could not save a session")).toHaveLength(10);
    expect(logged.filter((msg) => msg === "a change-feed consumer threw on an upsert")).toHaveLength(10);
    // Everyone is still served.
    expect(await t.collector.getSessionInfo()).toHaveLength(30);
    expect(agents[0]!.frames.map((frame) => frame.type)).toEqual(["welcome"]);

    // The next window starts with what was held back, per kind.
    const heldBack = store.counted - 10;
    clock.advance(10_000);
    agents[0]!.heartbeat(100);
    await eventually(() => expect(store.counted).toBe(heldBack + 11));
    const after = messagesOf(lines.slice(lines.length - 2));
    expect(after).toEqual([`${heldBack} more "a change-feed consumer threw on an upsert" lines were suppressed`, "a change-feed consumer threw on an upsert"]);
  });
});
