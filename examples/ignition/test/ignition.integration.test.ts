/**
 * Proves the Ignition script's logic against a live collector: the Python 3
 * twin of the Jython gateway script runs the two getSessionInfo examples over
 * HTTP while real agents (in Node) hold sessions.
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { startAgent } from "@sessionlens/agent";
import { createCollector } from "@sessionlens/collector";

const run = promisify(execFile);
const SCRIPT = join(import.meta.dirname, "..", "sessionlens_info.py");
const SECRET = "ignition-test-identity-secret-0123456789";
const API_TOKEN = "ignition-test-api-token";

async function tokenFor(username: string): Promise<string> {
  return new SignJWT({})
    .setProtectedHeader({ alg: "HS256" })
    .setSubject(username)
    .setExpirationTime("10m")
    .sign(new TextEncoder().encode(SECRET));
}

describe("Ignition example script (Python 3 twin) against a live collector", () => {
  let dataDir: string;
  let collector: ReturnType<typeof createCollector>;
  let url: string;
  const agents: { stop(): void }[] = [];

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), "sessionlens-ignition-"));
    collector = createCollector({ port: 0, dataDir, identitySecret: SECRET, apiToken: API_TOKEN });
    url = (await collector.listen()).url;
    const wsUrl = `${url.replace(/^http/, "ws")}/ws`;
    const sessions = [
      { project: "MyProject", user: "billy" },
      { project: "OtherProject", user: "billy" },
      { project: "MyProject", user: "alice" },
      { project: "MyProject", user: null },
      { project: "OtherProject", user: "carol" },
    ];
    for (const { project, user } of sessions) {
      agents.push(
        startAgent({
          url: wsUrl,
          project,
          WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
          ...(user ? { token: await tokenFor(user) } : {}),
        }),
      );
    }
    // Every agent has a session and every identity is verified.
    const deadline = Date.now() + 10_000;
    for (;;) {
      const all = await collector.getSessionInfo();
      if (all.length === sessions.length && all.filter((s) => s.authorized).length === 4) break;
      if (Date.now() > deadline) throw new Error(`sessions did not appear: ${JSON.stringify(all)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  });

  afterAll(async () => {
    for (const agent of agents) agent.stop();
    await collector?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it("counts the sessions of user billy", async () => {
    const { stdout } = await run("python3", [SCRIPT, "--url", url, "--token", API_TOKEN, "billy"]);
    expect(stdout.trim()).toBe("2");
  });

  it("prints username and uptime of each session of MyProject", async () => {
    const { stdout } = await run("python3", [SCRIPT, "--url", url, "myproject"], {
      env: { ...process.env, SESSIONLENS_API_TOKEN: API_TOKEN },
    });
    const lines = stdout.trim().split("\n").map((line) => line.split(" "));
    expect(lines.map(([username]) => username).sort()).toEqual(["Unauthenticated", "alice", "billy"]);
    for (const [, uptime] of lines) expect(Number(uptime)).toBeGreaterThanOrEqual(0);
    const expected = await collector.getSessionInfo(undefined, "MyProject");
    expect(lines).toHaveLength(expected.length);
  });

  it("fails with exit code 1 and a message on stderr when the API token is wrong", async () => {
    const failure = await run("python3", [SCRIPT, "--url", url, "--token", "wrong", "billy"]).catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: 1 });
    expect((failure as { stderr: string }).stderr).toMatch(/401/);
  });
});
