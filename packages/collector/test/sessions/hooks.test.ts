import type { SessionInfo } from "@sessionlens/shared";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { eventually, pageDropped } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { SignJWT } from "jose";

describe("lifecycle hooks", () => {
  const t = useCollector();

  function record(events: string[]) {
    t.collector.on("sessionStart", (s) => void events.push(`sessionStart ${s.id}`));
    t.collector.on("pageStart", (s, pageId) => void events.push(`pageStart ${s.id} ${pageId}`));
    t.collector.on("pageEnd", (s, pageId, reason) => void events.push(`pageEnd ${s.id} ${pageId} ${reason}`));
    t.collector.on("sessionEnd", (s, reason) => void events.push(`sessionEnd ${s.id} ${reason}`));
    t.collector.on("login", (s) => void events.push(`login ${s.id} ${s.username}`));
    t.collector.on("logout", (s) => void events.push(`logout ${s.id} ${s.username}`));
  }

  it("fire once each, with the session's info and the end reason: ended by the agent", async () => {
    const secret = "hook-secret";
    await t.start({ identitySecret: secret });
    const events: string[] = [];
    record(events);
    const starts: SessionInfo[] = [];
    t.collector.on("sessionStart", (s) => void starts.push(s));
    const token = await new SignJWT({ sub: "billy" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime(Math.floor(t.clock.now() / 1000) + 600)
      .sign(new TextEncoder().encode(secret));
    const agent = await t.join({ token });
    const id = agent.welcome!.sessionId;
    agent.token(null);
    await eventually(() => expect(events).toContain(`logout ${id} Unauthenticated`));
    agent.bye();
    await agent.close(1001);
    await eventually(() => expect(events).toContain(`pageEnd ${id} ${agent.pageId} bye`));
    t.clock.advance(61_000);
    await eventually(() => expect(events).toContain(`sessionEnd ${id} ended`));
    expect(events).toEqual([
      `sessionStart ${id}`,
      `pageStart ${id} ${agent.pageId}`,
      `login ${id} billy`,
      `logout ${id} Unauthenticated`,
      `pageEnd ${id} ${agent.pageId} bye`,
      `sessionEnd ${id} ended`,
    ]);
    expect(starts[0]).toMatchObject({ id, project: "MyProject", activePages: 1, pageIds: [agent.pageId] });
  });

  it("report timeout for a session whose pages dropped, and closed for one closed by command", async () => {
    await t.start();
    const events: string[] = [];
    record(events);
    const dropped = await t.join();
    const closed = await t.join();
    await dropped.drop();
    await pageDropped(t.collector, dropped.welcome!.sessionId, dropped.pageId);
    await t.collector.closeSession(closed.welcome!.sessionId);
    t.clock.advance(15_500);
    await eventually(() => expect(events).toContain(`pageEnd ${dropped.welcome!.sessionId} ${dropped.pageId} grace`));
    t.clock.advance(60_500);
    await eventually(() => expect(events).toContain(`sessionEnd ${dropped.welcome!.sessionId} timeout`));
    expect(events.filter((event) => event.startsWith("sessionEnd"))).toEqual([
      `sessionEnd ${closed.welcome!.sessionId} closed`,
      `sessionEnd ${dropped.welcome!.sessionId} timeout`,
    ]);
    expect(events).toContain(`pageEnd ${closed.welcome!.sessionId} ${closed.pageId} session-ended`);
  });

  it("a session whose last page was closed by command ends as closed, not timeout", async () => {
    await t.start();
    const events: string[] = [];
    record(events);
    const agent = await t.join();
    const id = agent.welcome!.sessionId;
    expect(await t.collector.closePage(id, agent.pageId)).toBe(true);
    await eventually(() => expect(events).toContain(`pageEnd ${id} ${agent.pageId} closed`));
    t.clock.advance(60_500);
    await eventually(() => expect(events.filter((event) => event.startsWith("sessionEnd"))).toEqual([`sessionEnd ${id} closed`]));
  });

  it("the most recent leave decides: a page that drops after another was closed ends the session as timeout", async () => {
    await t.start();
    const events: string[] = [];
    record(events);
    const first = await t.join();
    const id = first.welcome!.sessionId;
    const second = await t.join({ resume: first.welcome!.resume });
    await t.collector.closePage(id, first.pageId);
    await second.drop();
    await pageDropped(t.collector, id, second.pageId);
    t.clock.advance(15_500);
    await eventually(() => expect(events).toContain(`pageEnd ${id} ${second.pageId} grace`));
    t.clock.advance(60_500);
    await eventually(() => expect(events).toContain(`sessionEnd ${id} timeout`));
  });

  it("a throwing, rejecting or removed handler changes nothing", async () => {
    const logged: string[] = [];
    const logger = pino({ level: "warn" }, { write: (line: string) => void logged.push(line) });
    await t.start({ logger });
    const seen: string[] = [];
    t.collector.on("sessionStart", () => {
      throw new Error("boom");
    });
    t.collector.on("sessionStart", async () => {
      throw new Error("async boom");
    });
    const off = t.collector.on("sessionStart", () => void seen.push("removed"));
    off();
    t.collector.on("sessionStart", (s) => void seen.push(s.id));
    const agent = await t.join();
    agent.heartbeat(10);
    await eventually(() => expect(seen).toEqual([agent.welcome!.sessionId]));
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.totalBytesSent).toBe(10));
    await eventually(() => expect(logged.join("")).toContain("a lifecycle handler threw"));
    await eventually(() => expect(logged.join("")).toContain("a lifecycle handler rejected"));
  });

  it("refuses unknown event names", async () => {
    await t.start();
    expect(() => t.collector.on("nope" as "login", () => {})).toThrow(/unknown collector event/);
  });
});
