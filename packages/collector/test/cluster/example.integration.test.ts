import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { freePort, redisServerAvailable } from "../../../../testing/redis.js";
import { TestAgent } from "../helpers/agent.js";
import { eventually } from "../helpers/collector.js";

const ROOT = fileURLToPath(new URL("../../../../", import.meta.url));
const BUILT = ["packages/collector/dist/cli/index.js", "packages/agent/dist/sessionlens-agent.iife.js", "examples/gateway-demo/dist/main.js"].every((file) =>
  existsSync(`${ROOT}${file}`),
);
if (!BUILT) console.warn("[skip] pnpm cluster test: build the packages first (npx -y pnpm@10 build)");

const stops: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const stop of stops.splice(0)) await stop();
});

describe.runIf(BUILT && redisServerAvailable())("pnpm cluster (scripts/cluster.mjs)", () => {
  it("runs Redis, two collectors and two gateways; either node lists the sessions of both; Ctrl-C stops everything", async () => {
    const [a, b, demoA, demoB] = [await freePort(), await freePort(), await freePort(), await freePort()];
    const child = spawn(process.execPath, ["scripts/cluster.mjs"], {
      cwd: ROOT,
      env: { ...process.env, REDIS_URL: "", NODE_A_PORT: String(a), NODE_B_PORT: String(b), DEMO_A_PORT: String(demoA), DEMO_B_PORT: String(demoB) },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    stops.push(async () => {
      if (child.exitCode === null) child.kill("SIGKILL");
    });
    // Printed once both collectors are ready and both gateways answer.
    await eventually(() => expect(output).toContain("SessionLens cluster is running"), { timeoutMs: 30_000 });
    for (const port of [a, b]) expect((await fetch(`http://127.0.0.1:${port}/readyz`)).status).toBe(200);
    for (const port of [demoA, demoB]) expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);

    const onA = await TestAgent.join(`ws://127.0.0.1:${a}/ws`, { project: "Alpha" });
    const onB = await TestAgent.join(`ws://127.0.0.1:${b}/ws`, { project: "Beta" });
    const ids = [onA.welcome!.sessionId, onB.welcome!.sessionId].sort();
    for (const port of [a, b]) {
      await eventually(async () => {
        const list = (await (await fetch(`http://127.0.0.1:${port}/api/v1/sessions`)).json()) as { id: string }[];
        expect(list.map((session) => session.id).sort()).toEqual(ids);
      });
    }
    await onA.close();
    await onB.close();

    child.kill("SIGINT");
    expect(await exited).toBe(0);
  }, 60_000);
});
