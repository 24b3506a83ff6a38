import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const src = (path: string) => fileURLToPath(new URL(path, import.meta.url));

export default defineConfig({
  resolve: {
    // Tests run against the TypeScript sources, so a stale dist/ never hides a change.
    alias: [
      { find: /^@sessionlens\/shared$/, replacement: src("./packages/shared/src/index.ts") },
      { find: /^@sessionlens\/shared\/codec$/, replacement: src("./packages/shared/src/codec.ts") },
      { find: /^@sessionlens\/shared\/client$/, replacement: src("./packages/shared/src/client/index.ts") },
      { find: /^@sessionlens\/agent$/, replacement: src("./packages/agent/src/index.ts") },
      { find: /^@sessionlens\/collector$/, replacement: src("./packages/collector/src/index.ts") },
      { find: /^@sessionlens\/collector\/client$/, replacement: src("./packages/collector/src/client.ts") },
    ],
  },
  test: {
    include: [
      "packages/*/test/**/*.test.ts",
      "packages/collector/status-page/test/**/*.test.ts",
      "examples/*/test/**/*.test.ts", "bench/test/**/*.test.ts",
      "packaging/test/**/*.test.ts", "docs/test/**/*.test.ts",
      // The docs are tested too: snippets run, tables and links checked (docs-tests/README.md).
      "docs-tests/**/*.test.ts"],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    // Two cores here: keep heavy suites (browsers, load) from starving each other.
    maxWorkers: 2,
    // CI also writes a machine-readable summary; .ci/run prints "N passed, N failed" from it.
    reporters: process.env["CI"] === "true" ? ["default", ["json", { outputFile: "test-artifacts/vitest.json" }]] : ["default"],
  },
});
