// What every server under test answers over IPC: its own CPU time, its memory
// after a full GC, its file descriptors. Measured inside the server process so
// the load generator's work never counts.
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector";
import { writeHeapSnapshot } from "node:v8";
import { serveRequests, emit } from "./ipc.mjs";

export function cpuSample() {
  const { user, system } = process.cpuUsage();
  return { userUs: user, systemUs: system, wallNs: process.hrtime.bigint().toString() };
}

/** Full GCs until the heap stops shrinking, then memoryUsage(). Needs --expose-gc. */
export function memoryAfterGc() {
  if (typeof globalThis.gc !== "function") throw new Error("start the server with --expose-gc");
  let previous = Infinity;
  for (let i = 0; i < 6; i++) {
    globalThis.gc();
    const used = process.memoryUsage().heapUsed;
    if (previous - used < 64 * 1024) break;
    previous = used;
  }
  const usage = process.memoryUsage();
  return { heapUsed: usage.heapUsed, heapTotal: usage.heapTotal, rss: usage.rss, external: usage.external, arrayBuffers: usage.arrayBuffers };
}

export function openFileDescriptors() {
  try {
    return readdirSync("/proc/self/fd").length;
  } catch {
    return null;
  }
}

export function fileDescriptorLimit() {
  try {
    const line = readFileSync("/proc/self/limits", "utf8").split("\n").find((l) => l.startsWith("Max open files"));
    const soft = Number(line?.split(/\s{2,}/)[1]);
    return Number.isFinite(soft) ? soft : null;
  } catch {
    return null;
  }
}

let profiler = null;
const post = (session, method, params) =>
  new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))));

/** Starts V8's sampling CPU profiler (the one `node --cpu-prof` uses) in this process. */
export async function profileStart({ intervalUs = 1000 } = {}) {
  profiler = new Session();
  profiler.connect();
  await post(profiler, "Profiler.enable");
  await post(profiler, "Profiler.setSamplingInterval", { interval: intervalUs });
  await post(profiler, "Profiler.start");
  return null;
}

/** Stops the profiler and writes a .cpuprofile file. */
export async function profileStop({ path }) {
  const { profile } = await post(profiler, "Profiler.stop");
  profiler.disconnect();
  profiler = null;
  writeFileSync(path, JSON.stringify(profile));
  return { path };
}

/**
 * Serves the common requests plus `extra`, then tells the parent `ready` with
 * whatever `info` the server reports (its port...).
 */
export function serveServer(info, extra = {}) {
  serveRequests({
    cpu: () => cpuSample(),
    mem: () => memoryAfterGc(),
    fds: () => ({ open: openFileDescriptors(), limit: fileDescriptorLimit() }),
    profileStart,
    profileStop,
    heapSnapshot: ({ path }) => ({ path: writeHeapSnapshot(path) }),
    ...extra,
  });
  emit("ready", { ...info, pid: process.pid, fds: openFileDescriptors(), fdLimit: fileDescriptorLimit() });
}
