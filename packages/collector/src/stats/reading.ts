import type { SessionModel } from "../sessions/model.js";
import type { TransportStats } from "../transport/agents.js";
import type { StatsReading } from "./history.js";

/** This collector's sessions and pages by scope, reported bytes and refusals, read at once. */
export function readCollectorStats(model: SessionModel, transport: { stats: TransportStats }): StatsReading {
  const sessions: Record<string, number> = {};
  const pages: Record<string, number> = {};
  for (const session of model.sessions.values()) {
    if (session.ended) continue;
    sessions[session.scope] = (sessions[session.scope] ?? 0) + 1;
    pages[session.scope] = (pages[session.scope] ?? 0) + session.pages.size;
  }
  return { sessions, pages, bytesReported: model.stats.bytesReported, rejected: transport.stats.rejected };
}
