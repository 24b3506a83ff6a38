/**
 * Headless Chromium for the browser suites: Debian's /usr/bin/chromium driven
 * by playwright-core (never a downloaded browser). Locally a suite skips with a
 * clear message when no Chromium is found; with CI=true it fails instead.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser, type BrowserContext, type LaunchOptions } from "playwright-core";

export const CHROMIUM_PATH = process.env["SESSIONLENS_CHROMIUM"] ?? "/usr/bin/chromium";

export const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--disable-quic",
  "--no-first-run",
];

/** True when the browser suites can run here; throws under CI=true when they cannot. */
export function chromiumAvailable(): boolean {
  if (existsSync(CHROMIUM_PATH)) return true;
  if (process.env["CI"] === "true") {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; CI must install it (apt-get install -y chromium)`);
  }
  console.warn(`[skip] browser tests: no Chromium at ${CHROMIUM_PATH} (apt-get install -y chromium)`);
  return false;
}

/**
 * A fresh browser profile: a persistent context on a new, empty user-data dir,
 * so no state leaks between tests. Call `close()` to remove the profile.
 */
export async function launchProfile(
  options: { userAgent?: string; viewport?: { width: number; height: number } } = {},
): Promise<{ context: BrowserContext; close: () => Promise<void> }> {
  const userDataDir = mkdtempSync(join(tmpdir(), "sessionlens-chromium-"));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM_PATH,
    args: CHROMIUM_ARGS,
    headless: true,
    ...(options.userAgent ? { userAgent: options.userAgent } : {}),
    viewport: options.viewport ?? { width: 1280, height: 800 },
  });
  return {
    context,
    close: async () => {
      await context.close().catch(() => undefined);
      rmSync(userDataDir, { recursive: true, force: true });
    },
  };
}

/** A plain browser (one process for many incognito-like contexts). */
export async function launchBrowser(options: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, headless: true, ...options });
}

/** Where tests save screenshots for a person to look at (ignored by git). */
export const ARTIFACTS_DIR = join(import.meta.dirname, "..", "test-artifacts");
