import { afterEach, describe, expect, it } from "vitest";
import { TestAgent } from "../helpers/agent.js";
import { eventually, startCollector, type TestCollector } from "../helpers/collector.js";

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
  const scrape = async () => {
    const response = await fetch(`${t.url}/metrics`);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain/);
    return parseMetrics(await response.text());
  };

  it("reports sessions and pages by scope and project, frames, bytes, connections and rejections", async () => {
    t = await startCollector();
    const browser = await join(t.wsUrl, { project: "Alpha", bytes: 100 });
    await join(t.wsUrl, { project: "Alpha", resume: browser.welcome!.resume });
    await join(t.wsUrl, { project: "Beta", scope: "designer" });
    browser.heartbeat(50);
    const bad = await TestAgent.connect(t.wsUrl);
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

  it("caps distinct project labels and folds the rest into other", async () => {
    t = await startCollector({ maxProjectLabels: 2 });
    for (const project of ["P1", "P2", "P3", "P4"]) await join(t.wsUrl, { project });
    const m = await scrape();
    const projects = [...m.keys()].filter((key) => key.startsWith("sessionlens_sessions{")).map((key) => /project="([^"]*)"/.exec(key)![1]);
    expect(projects.sort()).toEqual(["P1", "P2", "other"]);
    expect(m.get('sessionlens_sessions{scope="browser",project="other"}')).toBe(2);
  });

  it("two collectors in one process keep separate registries", async () => {
    t = await startCollector();
    const other = await startCollector();
    try {
      await join(t.wsUrl);
      const a = await scrape();
      const b = parseMetrics(await (await fetch(`${other.url}/metrics`)).text());
      expect(a.get("sessionlens_connections_opened_total")).toBe(1);
      expect(b.get("sessionlens_connections_opened_total")).toBe(0);
    } finally {
      await other.close();
    }
  });
});
