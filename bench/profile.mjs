#!/usr/bin/env node
// Profiles one server under the ingest load and lists its hot spots (self
// time per function, file:line mapped to the TypeScript sources through the
// packages' source maps).
//
//   node bench/profile.mjs [--server collector|ws|socketio] [--pages 5000] [--seconds 30] [--whole]
//
// By default V8's sampling profiler (the one `node --cpu-prof` uses) runs over
// the measured heartbeat window only, started in the server over the inspector.
// --whole runs the server under `node --cpu-prof` instead: its whole life,
// connects and hellos included. --heap also takes a heap snapshot before the
// pages connect and one after, and lists what each connected page costs.
import { mkdirSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runIngest, SERVERS } from "./benchmarks/ingest.mjs";
import { summarizeProfile } from "./lib/cpuprofile.mjs";
import { heapGrowthPerPage } from "./lib/heapsnapshot.mjs";

const { values } = parseArgs({
  options: {
    server: { type: "string", default: "collector" },
    pages: { type: "string", default: "5000" },
    seconds: { type: "string", default: "30" },
    interval: { type: "string", default: "2000" },
    top: { type: "string", default: "25" },
    whole: { type: "boolean", default: false },
    heap: { type: "boolean", default: false },
  },
});
if (!SERVERS[values.server]) {
  console.error(`unknown server "${values.server}"; choose from ${Object.keys(SERVERS).join(", ")}`);
  process.exit(2);
}
const resultsDir = fileURLToPath(new URL("results", import.meta.url));
const stamp = new Date().toISOString().replace(/[:.]/g, "-");
const dir = join(resultsDir, "profiles", `${values.server}-${values.pages}-${stamp}`);
mkdirSync(dir, { recursive: true });

const windowProfile = join(dir, "window.cpuprofile");
const run = await runIngest({
  server: values.server,
  pages: Number(values.pages),
  heartbeatIntervalMs: Number(values.interval),
  warmupMs: 3_000,
  measureMs: Number(values.seconds) * 1000,
  logDir: dir,
  serverExecArgv: values.whole ? ["--cpu-prof", `--cpu-prof-dir=${dir}`] : [],
  profileWindowTo: values.whole ? null : windowProfile,
  heapSnapshotsTo: values.heap ? dir : null,
});
const file = values.whole ? readdirSync(dir).find((f) => f.endsWith(".cpuprofile")) : "window.cpuprofile";
if (!file) {
  console.error(`no .cpuprofile was written in ${dir}`);
  process.exit(1);
}
const summary = summarizeProfile(join(dir, file), { top: Number(values.top) });
const heap = values.heap ? heapGrowthPerPage(join(dir, "before.heapsnapshot"), join(dir, "after.heapsnapshot"), run.pages, Number(values.top)) : null;
writeFileSync(join(dir, "summary.json"), JSON.stringify({ run, summary, heap }, null, 2));
console.log(`${run.label}: ${run.pages} pages, ${run.heartbeatRate} heartbeats/s, ${run.cpuPerHeartbeatUs} µs CPU per heartbeat (profiler on, so slower than in the benchmark)`);
console.log(`profile: ${join(dir, file)} (${values.whole ? "whole process life" : "heartbeat window only"}); ${summary.busyMs} ms busy, ${summary.idleMs} ms idle\n`);
console.log("self time by package:");
for (const c of summary.byCategory) console.log(`  ${String(c.pct).padStart(5)} %  ${String(c.selfMs).padStart(6)} ms  ${c.name}`);
console.log("\nhottest functions (self time):");
for (const f of summary.top) console.log(`  ${String(f.pct).padStart(5)} %  ${String(f.selfMs).padStart(8)} ms  ${f.function}  ${f.location}`);
if (heap) {
  console.log(`\nheap growth per connected page: ${heap.totalPerPage} B (memoryUsage: ${run.memory.heapPerPage} B)`);
  for (const r of heap.top) console.log(`  ${String(r.bytesPerPage).padStart(6)} B  ${String(r.countPerPage).padStart(6)} ×  ${r.name}`);
}
console.log(`\nwrote ${join(dir, "summary.json")}`);
