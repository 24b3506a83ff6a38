/**
 * `@sessionlens/collector` as snippets see it when the doc tests run them: the real module, except
 * that `createCollector` always listens on port 0 with nothing on disk, and every collector a
 * snippet makes is closed afterwards.
 */
import * as real from "@sessionlens/collector";
import type { Collector, CollectorOptions } from "@sessionlens/collector";

export * from "@sessionlens/collector";

export const made: Collector[] = [];

export function createCollector(options: CollectorOptions = {}): Collector {
  const collector = real.createCollector({ ...options, port: 0, dataDir: null });
  made.push(collector);
  return collector;
}
