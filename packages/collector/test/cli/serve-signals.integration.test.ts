/**
 * `sessionlens serve` as a process: Ctrl-C (SIGINT) the moment it logs "listening" still stops it
 * gracefully ("stopped", exit 0). The signal handlers used to be installed only after listen(), so
 * a signal in that window killed the process outright. Needs the build (bin -> dist).
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

const PACKAGE = join(import.meta.dirname, "..", "..");

async function serveThenInterrupt(): Promise<{ code: number | null; signal: NodeJS.Signals | null; output: string }> {
  const dataDir = mkdtempSync(join(tmpdir(), "sessionlens-serve-signals-"));
  const child = spawn(process.execPath, [join(PACKAGE, "bin", "sessionlens.js"), "serve", "--port", "0", "--data-dir", dataDir], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.once("exit", (code, signal) => resolve({ code, signal })),
  );
  child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
  child.stdout.on("data", (chunk: Buffer) => {
    const first = !output.includes("listening");
    output += chunk.toString();
    if (first && output.includes("listening")) child.kill("SIGINT");
  });
  try {
    return { ...(await exited), output };
  } finally {
    rmSync(dataDir, { recursive: true, force: true });
  }
}

describe("sessionlens serve and signals", () => {
  it("stops gracefully on a SIGINT sent as soon as it logs that it listens", async () => {
    if (!existsSync(join(PACKAGE, "dist", "cli", "index.js"))) throw new Error("run `npx -y pnpm@10 build` first (pnpm test does)");
    for (let attempt = 0; attempt < 5; attempt++) {
      const { code, signal, output } = await serveThenInterrupt();
      expect({ code, signal }, output).toEqual({ code: 0, signal: null });
      expect(output).toMatch(/"msg":"stopped"/);
    }
  });
});
