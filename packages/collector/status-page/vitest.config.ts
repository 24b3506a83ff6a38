import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";
import rootConfig from "../../../vitest.config.js";

const repoRoot = fileURLToPath(new URL("../../..", import.meta.url));

/**
 * The root config (aliases, timeouts, workers) with only this package's tests,
 * for `pnpm test` in this folder. The root config's include does not reach
 * packages/collector/status-page/test.
 */
export default defineConfig({
  ...rootConfig,
  root: repoRoot,
  test: { ...rootConfig.test, include: ["packages/collector/status-page/test/**/*.test.ts"] },
});
