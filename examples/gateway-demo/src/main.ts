/**
 * Runs the demo gateway alone. `pnpm start` at the repository root runs it
 * beside a collector; see scripts/start.mjs.
 *
 * Environment: DEMO_PORT (3000), DEMO_HOST (127.0.0.1), DEMO_PROJECT (MyProject),
 * SESSIONLENS_URL (http://127.0.0.1:8787), SESSIONLENS_API_TOKEN,
 * SESSIONLENS_IDENTITY_SECRET (required: the collector's --identity-secret).
 */
import { createGateway } from "./gateway.js";

const identitySecret = process.env["SESSIONLENS_IDENTITY_SECRET"];
if (!identitySecret) {
  console.error("gateway-demo: set SESSIONLENS_IDENTITY_SECRET to the collector's --identity-secret");
  process.exit(2);
}

const gateway = createGateway({
  identitySecret,
  host: process.env["DEMO_HOST"] ?? "127.0.0.1",
  port: Number(process.env["DEMO_PORT"] ?? 3000),
  project: process.env["DEMO_PROJECT"] ?? "MyProject",
  collectorUrl: process.env["SESSIONLENS_URL"] ?? "http://127.0.0.1:8787",
  ...(process.env["SESSIONLENS_API_TOKEN"] ? { collectorApiToken: process.env["SESSIONLENS_API_TOKEN"] } : {}),
});

const { url } = await gateway.listen();
console.log(`gateway-demo: the demo app is at ${url}/`);

let closing = false;
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    if (closing) return;
    closing = true;
    void gateway.close().then(() => process.exit(0));
  });
}
