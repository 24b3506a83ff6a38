import { Counter, Gauge, Registry, collectDefaultMetrics } from "prom-client";
import type { SessionQueries, SessionTotals } from "../query/index.js";

/** Counts the agents' transport keeps (plain numbers bumped on hot paths, read at scrape time). */
export interface TransportStatsSource {
  stats: {
    frames: Record<string, number>;
    connectionsOpened: number;
    connectionsClosed: Map<number, number>;
    rejected: Map<string, number>;
  };
  connections: { size: number };
}

export interface MetricsSources {
  /** Session and page counts, read through the query layer. */
  queries: Pick<SessionQueries, "tally">;
  /** Totals counted from the change feed (the query layer's `SessionTotals`). */
  totals: Pick<SessionTotals, "bytesReported" | "sessionsStarted" | "sessionsEnded">;
  transport: TransportStatsSource;
  events: { subscribers: { size: number }; dropped: number; refused?: number };
  /** HTTP connections refused by the caps, and malformed requests. */
  http?: { connectionsRefused: number; badRequests: number };
  /** Problems of the embedded store (absent for other stores). */
  store?: { unreadableSnapshots: number };
  maxProjectLabels: number;
}

/**
 * Prometheus metrics in a registry of this collector's own (two collectors in one process never
 * share series). Hot paths only bump plain numbers; they are read at scrape time.
 */
export function createMetrics(sources: MetricsSources): Registry {
  const registry = new Registry();
  // Default process metrics run an event-loop-delay timer and a GC observer for as long as they
  // exist; start them with the first scrape rather than in a collector nobody scrapes.
  let defaultsStarted = false;
  const metrics = registry.metrics.bind(registry);
  registry.metrics = () => {
    if (!defaultsStarted) {
      defaultsStarted = true;
      collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
    }
    return metrics();
  };
  const { queries, totals, transport, events } = sources;
  const projectLabels = new ProjectLabels(sources.maxProjectLabels);

  new Gauge({
    name: "sessionlens_sessions",
    help: "Sessions by scope and project (projects beyond the label cap are folded into \"other\").",
    labelNames: ["scope", "project"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, value] of countBy(queries, projectLabels, false)) this.set(labelsOf(key), value);
    },
  });
  new Gauge({
    name: "sessionlens_pages",
    help: "Open pages by scope and project.",
    labelNames: ["scope", "project"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [key, value] of countBy(queries, projectLabels, true)) this.set(labelsOf(key), value);
    },
  });
  new Counter({
    name: "sessionlens_messages_received_total",
    help: "Agent frames received and applied, by type.",
    labelNames: ["type"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [type, value] of Object.entries(transport.stats.frames)) this.inc({ type }, value);
    },
  });
  new Counter({
    name: "sessionlens_reported_bytes_total",
    help: "Bytes sent to the gateway as reported by agents (every increase of a session's totalBytesSent).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(totals.bytesReported);
    },
  });
  new Counter({
    name: "sessionlens_sessions_started_total",
    help: "Sessions started (resumes not counted).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(totals.sessionsStarted);
    },
  });
  new Counter({
    name: "sessionlens_sessions_ended_total",
    help: "Sessions ended, by reason (timeout, closed, ended).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, value] of Object.entries(totals.sessionsEnded)) this.inc({ reason }, value);
    },
  });
  new Counter({
    name: "sessionlens_connections_opened_total",
    help: "Agent WebSocket connections opened.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(transport.stats.connectionsOpened);
    },
  });
  new Counter({
    name: "sessionlens_connections_closed_total",
    help: "Agent WebSocket connections closed, by close code.",
    labelNames: ["code"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [code, value] of transport.stats.connectionsClosed) this.inc({ code: String(code) }, value);
    },
  });
  new Gauge({
    name: "sessionlens_connections_open",
    help: "Agent WebSocket connections open now.",
    registers: [registry],
    collect() {
      this.set(transport.connections.size);
    },
  });
  new Counter({
    name: "sessionlens_messages_rejected_total",
    help: "Frames and connections refused, by reason (the protocol's error codes, plus missed_pong and bad_frame).",
    labelNames: ["reason"],
    registers: [registry],
    collect() {
      this.reset();
      for (const [reason, value] of transport.stats.rejected) this.inc({ reason }, value);
    },
  });
  new Gauge({
    name: "sessionlens_sse_subscribers",
    help: "Event-stream (GET /api/v1/events) subscribers connected now.",
    registers: [registry],
    collect() {
      this.set(events.subscribers.size);
    },
  });
  new Counter({
    name: "sessionlens_sse_dropped_total",
    help: "Event-stream subscribers dropped for not reading fast enough.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(events.dropped);
    },
  });
  new Counter({
    name: "sessionlens_sse_refused_total",
    help: "Event-stream subscriptions refused by the subscriber caps (total and per address).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(events.refused ?? 0);
    },
  });
  new Counter({
    name: "sessionlens_http_connections_refused_total",
    help: "HTTP connections closed on arrival: over the per-address cap or over --max-connections.",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.http?.connectionsRefused ?? 0);
    },
  });
  new Counter({
    name: "sessionlens_http_bad_requests_total",
    help: "Malformed HTTP requests refused before routing (bad request line or headers, timeouts).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.http?.badRequests ?? 0);
    },
  });
  new Counter({
    name: "sessionlens_snapshot_unreadable_total",
    help: "Unreadable session snapshots found at start (moved aside; the previous generation or a resume floor was used).",
    registers: [registry],
    collect() {
      this.reset();
      this.inc(sources.store?.unreadableSnapshots ?? 0);
    },
  });
  return registry;
}

/** A stable set of project label values: the first `max` projects seen, the rest "other". */
class ProjectLabels {
  readonly #known = new Set<string>();
  constructor(readonly max: number) {}

  label(project: string): string {
    if (this.#known.has(project)) return project;
    if (this.#known.size < this.max) {
      this.#known.add(project);
      return project;
    }
    return "other";
  }
}

function countBy(queries: Pick<SessionQueries, "tally">, projects: ProjectLabels, pages: boolean): Map<string, number> {
  const counts = new Map<string, number>();
  for (const tally of queries.tally()) {
    const key = `${tally.scope}\u0000${projects.label(tally.project)}`;
    counts.set(key, (counts.get(key) ?? 0) + (pages ? tally.pages : tally.sessions));
  }
  return counts;
}

function labelsOf(key: string): { scope: string; project: string } {
  const [scope, project] = key.split("\u0000") as [string, string];
  return { scope, project };
}
