// Bundles dist/sessionlens-agent.iife.js: the agent for a <script> tag, exposing
// window.SessionLens.startAgent. `node scripts/build.mjs [outfile]` (tests build to a temp file).
import { fileURLToPath } from "node:url";
import { build } from "esbuild";

const root = fileURLToPath(new URL("..", import.meta.url));
const outfile = process.argv[2] ?? `${root}dist/sessionlens-agent.iife.js`;

await build({
  entryPoints: [`${root}src/index.ts`],
  outfile,
  bundle: true,
  format: "iife",
  globalName: "SessionLens",
  platform: "browser",
  // Old mobile webviews: checked on the output by test/build.test.ts.
  target: "es2019",
  minify: true,
  // Bundle the shared sources, so the IIFE never depends on a stale packages/shared/dist.
  alias: {
    "@sessionlens/shared": `${root}../shared/src/index.ts`,
    "@sessionlens/shared/client": `${root}../shared/src/client/index.ts`,
  },
  legalComments: "none",
  logLevel: "warning",
});
