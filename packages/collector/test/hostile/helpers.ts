import { Writable } from "node:stream";
import type { CollectorMessage } from "@sessionlens/shared";
import { pino, type Logger } from "pino";
import { expect } from "vitest";
import type { Collector } from "@sessionlens/collector";
import { SnapshotFile } from "../../src/store/snapshot.js";
import type { TestAgent } from "../helpers/agent.js";
import { makeRecord } from "../store.contract.js";

/** Long variants (10-minute soak, full-size load) run only with SESSIONLENS_SOAK=1. */
export const SOAK = process.env["SESSIONLENS_SOAK"] === "1";

/** A pino logger that keeps every line it writes (level `warn` and above unless told). */
export function capturingLogger(level = "warn"): { logger: Logger; lines: string[]; errors(): string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) if (line !== "") lines.push(line);
      done();
    },
  });
  return { logger: pino({ level }, stream), lines, errors: () => lines.filter((line) => (JSON.parse(line) as { level: number }).level >= 50) };
}

/** The value of one series in the collector's `/metrics` (read in-process), or 0. */
export async function metricValue(collector: Collector, name: string, labels: Record<string, string> = {}): Promise<number> {
  const metric = collector.metrics.getSingleMetric(name);
  const values = (await metric?.get())?.values ?? [];
  const found = values.find((value) => Object.entries(labels).every(([key, expected]) => String(value.labels[key]) === expected));
  return found?.value ?? 0;
}

/** Refusals counted under `reason` in `sessionlens_messages_rejected_total`. */
export function rejected(collector: Collector, reason: string): Promise<number> {
  return metricValue(collector, "sessionlens_messages_rejected_total", { reason });
}

/** Waits for the agent's socket to close; returns the close code and the error frame it got, if any. */
export async function refusal(agent: TestAgent): Promise<{ code: number; error: string | null }> {
  const { code } = await agent.closed;
  const frame = agent.frames.find((candidate): candidate is Extract<CollectorMessage, { type: "error" }> => candidate.type === "error");
  return { code, error: frame?.code ?? null };
}

/**
 * A session that must not notice any attack: it is listed with its totals and its page, and a
 * heartbeat it sends now still raises its total.
 */
export async function expectUntouched(collector: Collector, bystander: TestAgent, eventually: <T>(check: () => T | Promise<T>) => Promise<T>) {
  const id = bystander.welcome!.sessionId;
  const before = (await collector.getSessionInfo()).find((session) => session.id === id);
  expect(before, "the bystander session is still listed").toBeDefined();
  expect(before!.pageIds).toEqual([bystander.pageId]);
  expect(bystander.ws.readyState).toBe(1);
  bystander.heartbeat(7);
  await eventually(async () => {
    const after = (await collector.getSessionInfo()).find((session) => session.id === id);
    expect(after!.totalBytesSent).toBe(before!.totalBytesSent + 7);
  });
}

/**
 * Writes a snapshot of `count` sessions into `dataDir`, so a collector started on it restores them
 * at once (far faster than connecting that many agents). Each has no page and a 400-character user
 * agent; `createdAt`/`lastCommAt` are `now`.
 */
export async function seedSnapshot(dataDir: string, count: number, now: number, prefix = "seeded"): Promise<void> {
  const records = Array.from({ length: count }, (_, i) => makeRecord(`${prefix}-${i}`, { userAgent: "U".repeat(400), createdAt: now, lastCommAt: now }));
  await new SnapshotFile(dataDir).write(records, new Map(), 0, now, 1);
}
