// Parent/child plumbing: every benchmark process is a forked child that answers
// requests over the IPC channel, so the orchestrator can sample each one at a
// chosen instant and kill what it started by pid.
import { fork } from "node:child_process";
import { openSync, closeSync, mkdirSync } from "node:fs";
import { dirname } from "node:path";

/**
 * Forks `modulePath` with an IPC channel. Its stdout/stderr go to `logFile`
 * (never to a pipe we would have to drain). `lifetimeMs` is passed on so the
 * child exits by itself even if the parent is killed without cleaning up.
 */
export function startChild(modulePath, { execArgv = [], env = {}, logFile, args = [], lifetimeMs = 15 * 60_000 } = {}) {
  let out = "ignore";
  if (logFile) {
    mkdirSync(dirname(logFile), { recursive: true });
    out = openSync(logFile, "a");
  }
  const child = fork(modulePath, args, {
    execArgv,
    env: { ...process.env, ...env, BENCH_LIFETIME_MS: String(lifetimeMs) },
    stdio: ["ignore", out, out, "ipc"],
  });
  if (typeof out === "number") closeSync(out);
  let nextId = 1;
  const pending = new Map();
  const listeners = new Map();
  const seen = new Map();
  let exited = null;
  const exitPromise = new Promise((resolve) => {
    child.on("exit", (code, signal) => {
      exited = { code, signal };
      for (const { reject, timer } of pending.values()) {
        clearTimeout(timer);
        reject(new Error(`${modulePath} exited (code ${code}, signal ${signal}) before answering; see ${logFile ?? "its output"}`));
      }
      pending.clear();
      resolve(exited);
    });
  });
  child.on("message", (message) => {
    if (message && typeof message.id === "number" && pending.has(message.id)) {
      const { resolve, reject, timer } = pending.get(message.id);
      pending.delete(message.id);
      clearTimeout(timer);
      if (message.ok) resolve(message.result);
      else reject(new Error(`${modulePath}: ${message.error}`));
    } else if (message && typeof message.event === "string") {
      seen.set(message.event, message.data);
      for (const listener of listeners.get(message.event) ?? []) listener(message.data);
    }
  });
  return {
    child,
    pid: child.pid,
    exited: exitPromise,
    /** Sends a command and resolves with the child's answer. */
    request(cmd, args = {}, timeoutMs = 60_000) {
      if (exited) return Promise.reject(new Error(`${modulePath} has exited`));
      const id = nextId++;
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error(`${modulePath}: no answer to "${cmd}" within ${timeoutMs} ms`));
        }, timeoutMs);
        pending.set(id, { resolve, reject, timer });
        child.send({ id, cmd, args });
      });
    },
    on(event, listener) {
      if (!listeners.has(event)) listeners.set(event, []);
      listeners.get(event).push(listener);
    },
    /** Resolves with the event's data (at once if it already came). */
    once(event, timeoutMs = 60_000) {
      if (seen.has(event)) return Promise.resolve(seen.get(event));
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`${modulePath}: no "${event}" within ${timeoutMs} ms; see ${logFile ?? "its output"}`)), timeoutMs);
        const list = listeners.get(event) ?? [];
        list.push((data) => {
          clearTimeout(timer);
          resolve(data);
        });
        listeners.set(event, list);
        exitPromise.then((e) => {
          clearTimeout(timer);
          reject(new Error(`${modulePath} exited (code ${e.code}, signal ${e.signal}) before "${event}"; see ${logFile ?? "its output"}`));
        });
      });
    },
    /** Asks the child to exit, then kills it (by its pid only) if it does not. */
    async stop(graceMs = 5_000) {
      if (exited) return exited;
      try {
        child.send({ id: 0, cmd: "exit", args: {} });
      } catch {
        // channel already closed
      }
      const timer = setTimeout(() => {
        if (!exited) child.kill("SIGKILL");
      }, graceMs);
      const result = await exitPromise;
      clearTimeout(timer);
      return result;
    },
    kill(signal = "SIGKILL") {
      if (!exited) child.kill(signal);
      return exitPromise;
    },
  };
}

/**
 * Child side: answers `{id, cmd, args}` requests with `handlers[cmd](args)`.
 * The child exits when the parent goes away or its lifetime runs out.
 */
export function serveRequests(handlers) {
  const lifetimeMs = Number(process.env.BENCH_LIFETIME_MS ?? 15 * 60_000);
  setTimeout(() => {
    console.error(`lifetime of ${lifetimeMs} ms exceeded; exiting`);
    process.exit(3);
  }, lifetimeMs).unref();
  process.on("disconnect", () => process.exit(0));
  process.on("message", async (message) => {
    if (!message || typeof message.cmd !== "string") return;
    if (message.cmd === "exit") {
      try {
        await handlers.exit?.();
      } finally {
        process.exit(0);
      }
      return;
    }
    const handler = handlers[message.cmd];
    try {
      if (!handler) throw new Error(`unknown command ${message.cmd}`);
      const result = await handler(message.args ?? {});
      process.send?.({ id: message.id, ok: true, result: result ?? null });
    } catch (error) {
      process.send?.({ id: message.id, ok: false, error: error instanceof Error ? (error.stack ?? error.message) : String(error) });
    }
  });
}

/** Sends an unsolicited event to the parent. */
export function emit(event, data) {
  process.send?.({ event, data });
}
