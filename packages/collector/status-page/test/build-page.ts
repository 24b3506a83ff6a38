import { fileURLToPath } from "node:url";
import { build } from "vite";

export const PACKAGE_DIR = fileURLToPath(new URL("..", import.meta.url));
export const DIST_DIR = fileURLToPath(new URL("../dist", import.meta.url));

/** Builds the page from its sources (as `pnpm build` does), into dist/ or another folder. */
export async function buildStatusPage(outDir = DIST_DIR): Promise<string> {
  await build({
    configFile: fileURLToPath(new URL("../vite.config.ts", import.meta.url)),
    logLevel: "warn",
    build: { outDir, emptyOutDir: true },
  });
  return outDir;
}
