/**
 * The Grafana dashboard and the Prometheus rules only use metrics a live collector's /metrics
 * exposes (plus `up`, which Prometheus writes itself for every target).
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { createCollector, type Collector } from "@sessionlens/collector";

const HERE = join(import.meta.dirname, "..");
/** Series Prometheus makes itself, not the target. */
const PROMETHEUS_SERIES = new Set(["up"]);
const PROMQL_WORDS = new Set(["by", "without", "on", "ignoring", "group_left", "group_right", "bool", "and", "or", "unless", "offset", "inf", "nan"]);

/** Metric names a PromQL expression reads: identifiers that are not functions, keywords, labels or durations. */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"/g, '""') // strings
    .replace(/\{[^}]*\}/g, "") // label matchers
    .replace(/\[[^\]]*\]/g, "") // ranges
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, "") // label lists
    .replace(/\$\{?\w+\}?/g, ""); // Grafana variables
  const names: string[] = [];
  for (const match of stripped.matchAll(/[a-zA-Z_:][a-zA-Z0-9_:]*(?!\s*\()/g)) {
    const name = match[0];
    if (PROMQL_WORDS.has(name.toLowerCase())) continue;
    // The negative lookahead can stop one letter short of a function name: skip any prefix of one.
    const after = stripped.slice(match.index + name.length);
    if (/^[a-zA-Z0-9_:]*\s*\(/.test(after)) continue;
    names.push(name);
  }
  return names;
}

interface Panel {
  title: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

describe("examples/observability", () => {
  let collector: Collector;
  let exposed: Set<string>;
  let metricsText: string;

  beforeAll(async () => {
    collector = createCollector({ port: 0, dataDir: null });
    const { url } = await collector.listen();
    metricsText = await (await fetch(`${url}/metrics`)).text();
    exposed = new Set([...metricsText.matchAll(/^# TYPE (\S+) /gm)].map((match) => match[1]!));
  });
  afterAll(() => collector.close());

  it("the PromQL name extractor finds metric names and nothing else", () => {
    expect(metricNames('sum by (scope) (rate(sessionlens_x_total{job="a", instance=~"$instance"}[$__rate_interval])) > 5')).toEqual([
      "sessionlens_x_total",
    ]);
    expect(metricNames("up{job=\"sessionlens\"} == 0 and on (instance) max(foo_bar) > bool 1")).toEqual(["up", "foo_bar"]);
  });

  it("the collector exposes readiness and event-loop lag", () => {
    expect(metricsText).toMatch(/^sessionlens_ready 1$/m);
    expect(exposed.has("nodejs_eventloop_lag_p99_seconds")).toBe(true);
  });

  it("every metric the Grafana dashboard uses exists in /metrics", async () => {
    const dashboard = JSON.parse(await readFile(join(HERE, "grafana", "sessionlens-dashboard.json"), "utf8")) as {
      panels: Panel[];
      templating: { list: { definition?: string }[] };
    };
    const exprs: string[] = [];
    const walk = (panels: Panel[]) => {
      for (const panel of panels) {
        for (const target of panel.targets ?? []) exprs.push(target.expr);
        walk(panel.panels ?? []);
      }
    };
    walk(dashboard.panels);
    for (const variable of dashboard.templating.list) {
      const inner = /^label_values\((.*),\s*\w+\)$/.exec(variable.definition ?? "");
      if (inner) exprs.push(inner[1]!);
    }
    expect(exprs.length).toBeGreaterThan(10);
    const used = new Set(exprs.flatMap(metricNames));
    expect([...used].filter((name) => !exposed.has(name))).toEqual([]);
    expect([...used].some((name) => name.startsWith("sessionlens_"))).toBe(true);
  });

  it("every metric the Prometheus alert rules use exists in /metrics, and the four alerts are there", async () => {
    const rules = parse(await readFile(join(HERE, "prometheus", "alerts.yml"), "utf8")) as {
      groups: { rules: { alert: string; expr: string; for?: string }[] }[];
    };
    const all = rules.groups.flatMap((group) => group.rules);
    expect(all.map((rule) => rule.alert)).toEqual([
      "SessionLensCollectorDown",
      "SessionLensNotReady",
      "SessionLensRejectionRateHigh",
      "SessionLensEventLoopLag",
    ]);
    const used = new Set(all.flatMap((rule) => metricNames(rule.expr)));
    expect([...used].filter((name) => !exposed.has(name) && !PROMETHEUS_SERIES.has(name))).toEqual([]);
    expect(used).toContain("sessionlens_ready");
    expect(used).toContain("sessionlens_messages_rejected_total");
  });
});

describe("sessionlens_ready", () => {
  it("is 1 while the collector is ready and 0 once it drains", async () => {
    const collector = createCollector({ port: 0, dataDir: null });
    const readyLine = async () => /^sessionlens_ready (\d)$/m.exec(await collector.metrics.metrics())?.[1];
    expect(await readyLine()).toBe("0"); // not started yet
    await collector.listen();
    expect(await readyLine()).toBe("1");
    await collector.close();
    expect(await readyLine()).toBe("0");
  });
});
