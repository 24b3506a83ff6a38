// Benchmark 5a: agent cost in bytes. Every SDK's minimal init is bundled the
// same way (esbuild --bundle --minify, browser IIFE) and compressed with
// gzip -9; our shipped IIFE is re-minified and compressed the same way.
import { build, transform } from "esbuild";
import { execFileSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { fileURLToPath } from "node:url";

const benchDir = fileURLToPath(new URL("..", import.meta.url));
export const AGENT_IIFE = fileURLToPath(new URL("../../packages/agent/dist/sessionlens-agent.iife.js", import.meta.url));

/** Minimal init of each peer SDK, as its quick-start shows it. */
export const PEERS = [
  {
    name: "@elastic/apm-rum",
    entry: `import { init } from "@elastic/apm-rum";\ninit({ serviceName: "bench", serverUrl: "http://127.0.0.1:8200" });\n`,
  },
  {
    name: "@sentry/browser (init only)",
    entry: `import { init } from "@sentry/browser";\ninit({ dsn: "https://public@o0.ingest.sentry.io/0" });\n`,
  },
  {
    name: "@grafana/faro-web-sdk",
    entry: `import { initializeFaro } from "@grafana/faro-web-sdk";\ninitializeFaro({ url: "http://127.0.0.1:12345/collect", app: { name: "bench" } });\n`,
  },
  {
    name: "posthog-js",
    entry: `import posthog from "posthog-js";\nposthog.init("phc_bench", { api_host: "http://127.0.0.1:8000" });\n`,
  },
];

const SESSIONLENS_ESM_ENTRY = `import { startAgent } from "@sessionlens/agent";\nstartAgent({ url: "ws://127.0.0.1:8787/ws", project: "MyProject" });\n`;

function gzip9(bytes) {
  try {
    return execFileSync("gzip", ["-9", "-n", "-c"], { input: bytes, maxBuffer: 64 * 1024 * 1024 }).length;
  } catch {
    return gzipSync(bytes, { level: 9 }).length;
  }
}

async function bundle(contents) {
  const result = await build({
    stdin: { contents, resolveDir: benchDir, loader: "js", sourcefile: "entry.js" },
    bundle: true,
    minify: true,
    format: "iife",
    platform: "browser",
    write: false,
    logLevel: "silent",
  });
  return result.outputFiles[0].contents;
}

function measure(name, bytes, how) {
  return { name, minBytes: bytes.length, gzipBytes: gzip9(bytes), how };
}

export async function runAgentSize() {
  const peers = [];
  for (const peer of PEERS) {
    try {
      peers.push(measure(peer.name, await bundle(peer.entry), "esbuild --bundle --minify of its minimal init, gzip -9"));
    } catch (error) {
      peers.push({ name: peer.name, error: String(error?.message ?? error) });
    }
  }
  const ours = {};
  if (existsSync(AGENT_IIFE)) {
    const shipped = readFileSync(AGENT_IIFE);
    const reminified = Buffer.from((await transform(shipped.toString("utf8"), { minify: true, loader: "js" })).code);
    ours.iife = measure("SessionLens IIFE (dist/sessionlens-agent.iife.js)", reminified, "shipped IIFE re-minified by esbuild, gzip -9");
    ours.iifeAsShipped = { bytes: shipped.length, gzipBytes: gzip9(shipped) };
  } else {
    ours.iife = { name: "SessionLens IIFE", error: `missing ${AGENT_IIFE}: build the agent (pnpm -r build)` };
  }
  try {
    ours.esm = measure("SessionLens ESM startAgent()", await bundle(SESSIONLENS_ESM_ENTRY), "esbuild --bundle --minify of its minimal init, gzip -9");
  } catch (error) {
    ours.esm = { name: "SessionLens ESM startAgent()", error: String(error?.message ?? error) };
  }
  return { peers, ours };
}
