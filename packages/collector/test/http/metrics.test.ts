import { describe, expect, it } from "vitest";
import { eventually, startCollector } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

/** Parses Prometheus text into `name{labels}` -> value. */
function parseMetrics(text: string): Map<string, number> {
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*(?:\{[^}]*\})?) (\S+)/.exec(line);
    if (match === null) throw new Error(`not Prometheus text: ${line}`);
    values.set(match[1]!, Number(match[2]));
  }
  return values;
}

describe("GET /metrics", () => {
  const t = useCollector();
  const scrape = async () => {
    const response = await fetch(`${t.url}/metrics`);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    return parseMetrics(await response.text());
  };

  it("reports sessions and pages by scope and project, frames, bytes, connections and rejections", async () => {
    await t.start();
    const browser = await t.join({ project: "Alpha", bytes: 100 });
    await t.join({ project: "Alpha", resume: browser.welcome!.resume });
    await t.join({ project: "Beta", scope: "designer" });
    browser.heartbeat(50);
    const bad = await t.connect();
    bad.sendRaw("not binary");
    await bad.closed;
    await eventually(async () => {
      const m = await scrape();
      expect(m.get('sessionlens_sessions{scope="browser",project="Alpha"}')).toBe(1);
      expect(m.get('sessionlens_pages{scope="browser",project="Alpha"}')).toBe(2);
      expect(m.get('sessionlens_sessions{scope="designer",project="Beta"}')).toBe(1);
      expect(m.get('sessionlens_messages_received_total{type="hello"}')).toBe(3);
      expect(m.get('sessionlens_messages_received_total{type="heartbeat"}')).toBe(1);
      expect(m.get("sessionlens_reported_bytes_total")).toBe(150);
      expect(m.get("sessionlens_connections_opened_total")).toBe(4);
      expect(m.get('sessionlens_connections_closed_total{code="4400"}')).toBe(1);
      expect(m.get('sessionlens_messages_rejected_total{reason="bad_encoding"}')).toBe(1);
      expect(m.get("sessionlens_connections_open")).toBe(3);
      expect(m.get("sessionlens_sse_subscribers")).toBe(0);
      expect(m.get("process_cpu_user_seconds_total")).toBeGreaterThan(0);
    });
  });

  it("counts the bytes of every frame that raised them, the bye included, and sessions started and ended", async () => {
    await t.start();
    const agent = await t.join({ bytes: 10 });
    agent.report("/next", 20);
    agent.bytes += 30;
    agent.bye();
    await eventually(async () => expect((await t.collector.getSessionInfo())[0]!.pageIds).toEqual([]));
    await t.collector.closeSession(agent.welcome!.sessionId);
    const m = await scrape();
    expect(m.get("sessionlens_reported_bytes_total")).toBe(60);
    expect(m.get("sessionlens_sessions_started_total")).toBe(1);
    expect(m.get('sessionlens_sessions_ended_total{reason="closed"}')).toBe(1);
    expect(m.get('sessionlens_messages_received_total{type="bye"}')).toBe(1);
  });

  it("caps distinct project labels and folds the rest into other", async () => {
    await t.start({ maxProjectLabels: 2 });
    for (const project of ["P1", "P2", "P3", "P4"]) await t.join({ project });
    const m = await scrape();
    const projects = [...m.keys()].filter((key) => key.startsWith("sessionlens_sessions{")).map((key) => /project="([^"]*)"/.exec(key)![1]);
    expect(projects.sort()).toEqual(["P1", "P2", "other"]);
    expect(m.get('sessionlens_sessions{scope="browser",project="other"}')).toBe(2);
  });

  it("two collectors in one process keep separate registries", async () => {
    await t.start();
    const other = await startCollector();
    try {
      await t.join();
      const a = await scrape();
      const b = parseMetrics(await (await fetch(`${other.url}/metrics`)).text());
      expect(a.get("sessionlens_connections_opened_total")).toBe(1);
      expect(b.get("sessionlens_connections_opened_total")).toBe(0);
    } finally {
      await other.close();
    }
  });
});
