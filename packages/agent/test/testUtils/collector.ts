import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCollector, type Collector, type CollectorOptions } from "@sessionlens/collector";

/** A logger that says nothing (the collector takes any pino-shaped logger). */
const quiet = Object.assign(
  Object.fromEntries(["fatal", "error", "warn", "info", "debug", "trace"].map((level) => [level, () => undefined])),
  { level: "silent", child: () => quiet },
) as unknown as NonNullable<CollectorOptions["logger"]>;

export const IDENTITY_SECRET = "integration-secret-0123456789abcdef";

export interface RunningCollector {
  collector: Collector;
  port: number;
  wsUrl: string;
  httpUrl: string;
  /** WebSocket upgrade requests seen: one per agent connection attempt. */
  upgrades: number;
  close(): Promise<void>;
}

/** A real collector on port 0 (or `port`), fast timers, its data in `dataDir` when given. */
export async function runCollector(options: CollectorOptions = {}): Promise<RunningCollector> {
  const collector = createCollector({
    port: 0,
    dataDir: null,
    logger: quiet,
    sweepIntervalMs: 20,
    identitySecret: IDENTITY_SECRET,
    ...options,
  });
  const address = await collector.listen();
  const running: RunningCollector = {
    collector,
    port: address.port,
    wsUrl: address.wsUrl,
    httpUrl: address.url,
    upgrades: 0,
    close: () => collector.close(),
  };
  collector.server.on("upgrade", () => running.upgrades++);
  return running;
}

export function tempDir(): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), "sessionlens-agent-it-"));
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) };
}
