/**
 * The whole chain in a real browser: the demo web app runs the agent in
 * headless Chromium, the collector keeps the sessions, and we read them back
 * with getSessionInfo. Needs the built web app (pnpm build) and /usr/bin/chromium.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Page } from "playwright-core";
import { createCollector } from "@sessionlens/collector";
import type { SessionInfo } from "@sessionlens/shared";
import { ARTIFACTS_DIR, chromiumAvailable, launchProfile } from "../../../testing/chromium.js";
import { createGateway, type Gateway } from "../src/gateway.js";

const WEB_ROOT = join(import.meta.dirname, "..", "dist", "web");
const AGENT_IIFE = join(import.meta.dirname, "..", "..", "..", "packages", "agent", "dist", "sessionlens-agent.iife.js");
const IDENTITY_SECRET = "e2e-identity-secret-0123456789abcdef";
const SESSION_TIMEOUT_MS = 1500;

const ANDROID_WEBVIEW_UA =
  "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36";
const IOS_WEBVIEW_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148";

/** What the demo app exposes for tests: the running agent. */
type DemoWindow = { sessionlensAgent?: { sessionId: string | null; pageId: string } };

const runnable = chromiumAvailable();

describe.skipIf(!runnable)("demo app end to end in Chromium", () => {
  let dataDir: string;
  let collector: ReturnType<typeof createCollector>;
  let collectorPort: number;
  let gateway: Gateway;
  let appUrl: string;
  const cleanups: (() => Promise<void>)[] = [];

  async function startCollector(port: number) {
    collector = createCollector({
      host: "127.0.0.1",
      port,
      dataDir,
      identitySecret: IDENTITY_SECRET,
      sessionTimeoutMs: SESSION_TIMEOUT_MS,
      pageGraceMs: 3000,
      heartbeatMs: 1000,
    });
    const address = await collector.listen();
    return address.port;
  }

  beforeAll(async () => {
    for (const file of [join(WEB_ROOT, "index.html"), AGENT_IIFE]) {
      if (!existsSync(file)) throw new Error(`${file} is missing: run pnpm build before the browser tests`);
    }
    dataDir = mkdtempSync(join(tmpdir(), "sessionlens-e2e-"));
    collectorPort = await startCollector(0);
    gateway = createGateway({
      port: 0,
      identitySecret: IDENTITY_SECRET,
      collectorUrl: `http://127.0.0.1:${collectorPort}`,
      webRoot: WEB_ROOT,
      agentIifePath: AGENT_IIFE,
    });
    appUrl = (await gateway.listen()).url;
  });

  afterAll(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup();
    await gateway?.close();
    await collector?.close();
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  async function profile(userAgent?: string) {
    const launched = await launchProfile(userAgent ? { userAgent } : {});
    cleanups.push(launched.close);
    return launched;
  }

  async function openApp(context: Awaited<ReturnType<typeof profile>>["context"], path = "/") {
    const page = await context.newPage();
    const errors: string[] = [];
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => {
      if (message.type() === "error") errors.push(message.text());
    });
    await page.goto(`${appUrl}${path}`);
    const sessionId = await waitFor(() => page.evaluate(() => (window as unknown as DemoWindow).sessionlensAgent?.sessionId ?? null));
    const pageId = await page.evaluate(() => (window as unknown as DemoWindow).sessionlensAgent!.pageId);
    return { page, sessionId, pageId, errors };
  }

  async function session(id: string): Promise<SessionInfo | undefined> {
    return (await collector.getSessionInfo()).find((s: SessionInfo) => s.id === id);
  }

  it("one tab is one session with one page, browser scope, its user agent and address", async () => {
    const { context } = await profile();
    const { page, sessionId, pageId, errors } = await openApp(context);
    const info = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.pageIds.includes(pageId) ? s : null;
    });
    const userAgent = await page.evaluate(() => navigator.userAgent);
    expect(info).toMatchObject({
      id: sessionId,
      project: "MyProject",
      sessionScope: "browser",
      userAgent,
      clientAddress: "127.0.0.1",
      username: "Unauthenticated",
      authorized: false,
      activePages: 1,
      pageIds: [pageId],
    });
    // The agent's own frames count too: the next heartbeat reports the hello's bytes.
    await waitFor(async () => ((await session(sessionId))?.totalBytesSent ?? 0) > 0);
    // The demo's own table shows the same session.
    await page.waitForSelector(`tr[data-session-id="${sessionId}"]`, { timeout: 5000 });
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, "demo-app.png"), fullPage: true });
    expect(errors).toEqual([]);
  });

  it("a second tab joins the same session; two tabs opened at the same instant are still one session", async () => {
    const { context } = await profile();
    const first = await openApp(context);
    const second = await openApp(context);
    expect(second.sessionId).toBe(first.sessionId);
    const info = await waitFor(async () => {
      const s = await session(first.sessionId);
      return s?.activePages === 2 ? s : null;
    });
    expect(info.pageIds.sort()).toEqual([first.pageId, second.pageId].sort());

    const { context: fresh } = await profile();
    const [a, b] = await Promise.all([openApp(fresh), openApp(fresh)]);
    expect(b.sessionId).toBe(a.sessionId);
    await waitFor(async () => ((await session(a.sessionId))?.activePages === 2 ? true : null));
  });

  it("a reload swaps the page id, keeps the session and never lowers totalBytesSent", async () => {
    const { context } = await profile();
    const { page, sessionId, pageId } = await openApp(context);
    const before = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.totalBytesSent > 0 ? s : null;
    });
    await page.reload();
    const newPageId = await waitFor(() =>
      page.evaluate((old) => {
        const agent = (window as unknown as DemoWindow).sessionlensAgent;
        return agent?.sessionId && agent.pageId !== old ? agent.pageId : null;
      }, pageId),
    );
    expect(await page.evaluate(() => (window as unknown as DemoWindow).sessionlensAgent!.sessionId)).toBe(sessionId);
    const after = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.pageIds.includes(newPageId) && !s.pageIds.includes(pageId) ? s : null;
    });
    expect(after.pageIds).toEqual([newPageId]);
    expect(after.totalBytesSent).toBeGreaterThanOrEqual(before.totalBytesSent);
  });

  it("closing a tab removes its page at once; closing the last ends the session after the timeout", async () => {
    const { context } = await profile();
    const first = await openApp(context);
    const second = await openApp(context);
    await waitFor(async () => ((await session(first.sessionId))?.activePages === 2 ? true : null));
    await second.page.close({ runBeforeUnload: true });
    const info = await waitFor(async () => {
      const s = await session(first.sessionId);
      return s?.activePages === 1 ? s : null;
    }, 2000); // well under the 3 s page grace: the page said goodbye
    expect(info.pageIds).toEqual([first.pageId]);
    await first.page.close({ runBeforeUnload: true });
    await waitFor(async () => ((await session(first.sessionId))?.activePages === 0 ? true : null), 2000);
    await waitFor(async () => ((await session(first.sessionId)) === undefined ? true : null), SESSION_TIMEOUT_MS + 5000);
  });

  it.each([
    ["an Android WebView", ANDROID_WEBVIEW_UA, "android"],
    ["an iOS WKWebView", IOS_WEBVIEW_UA, "ios"],
  ])("reports %s as its scope", async (_name, userAgent, scope) => {
    const { context } = await profile(userAgent);
    const { sessionId } = await openApp(context);
    const info = await waitFor(() => session(sessionId));
    expect(info.sessionScope).toBe(scope);
    expect(info.userAgent).toBe(userAgent);
  });

  it("reports designer only when the app says so", async () => {
    const { context } = await profile();
    const { sessionId } = await openApp(context, "/?scope=designer");
    expect((await waitFor(() => session(sessionId))).sessionScope).toBe("designer");
  });

  it("shows the verified username after login and Unauthenticated after logout", async () => {
    const { context } = await profile();
    const { page, sessionId } = await openApp(context);
    await page.fill("#username", "billy");
    await page.click("#login");
    const loggedIn = await waitFor(async () => {
      const s = await session(sessionId);
      return s?.username === "billy" ? s : null;
    });
    expect(loggedIn.authorized).toBe(true);
    expect((await collector.getSessionInfo("billy")).map((s: SessionInfo) => s.id)).toContain(sessionId);
    await page.click("#logout");
    const loggedOut = await waitFor(async () => {
      const s = await session(sessionId);
      return s?.username === "Unauthenticated" ? s : null;
    });
    expect(loggedOut.authorized).toBe(false);
  });

  it("counts a fetch POST to the gateway in totalBytesSent and recentBytesSent", async () => {
    const { context } = await profile();
    const { page, sessionId } = await openApp(context);
    const before = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.totalBytesSent > 0 ? s : null;
    });
    const size = 50_000;
    await page.fill("#order-bytes", String(size));
    await page.click("#send-order");
    await page.waitForSelector(`text=received ${size} bytes`);
    const after = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.totalBytesSent >= before.totalBytesSent + size ? s : null;
    });
    expect(after.totalBytesSent - before.totalBytesSent).toBeGreaterThanOrEqual(size);
    // The report that carried the order raised the total by at least its size.
    const recent = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.recentBytesSent >= size ? s.recentBytesSent : null;
    }, 3000).catch(() => after.recentBytesSent);
    expect(recent).toBeGreaterThanOrEqual(size);
  });

  it("works under Content-Security-Policy script-src 'self' (no unsafe-eval), from the IIFE build too", async () => {
    const { context } = await profile();
    const violations: string[] = [];
    const { page, errors } = await openApp(context, "/plain/");
    page.on("console", (message) => {
      if (/Content Security Policy/i.test(message.text())) violations.push(message.text());
    });
    const response = await page.reload();
    expect(response?.headers()["content-security-policy"]).toContain("script-src 'self'");
    const sessionId = await waitFor(() => page.evaluate(() => (window as unknown as DemoWindow).sessionlensAgent?.sessionId ?? null));
    await waitFor(() => session(sessionId));
    const reported = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let count = 0;
          document.addEventListener("securitypolicyviolation", () => count++);
          setTimeout(() => resolve(count), 300);
        }),
    );
    expect(reported).toBe(0);
    expect(violations).toEqual([]);
    expect(errors.filter((e) => /Content Security Policy|eval/i.test(e))).toEqual([]);
  });

  it("shows a message sent to the session, and stops the tab when the session is terminated", async () => {
    const { context } = await profile();
    const { page, sessionId } = await openApp(context);
    await waitFor(() => session(sessionId));
    await collector.sendMessage(sessionId, "notice", { text: "shift change at 14:00" });
    await page.waitForSelector('#messages li:has-text("shift change at 14:00")', { timeout: 5000 });
    await collector.closeSession(sessionId, "Closed by an administrator");
    await page.waitForSelector('#messages li:has-text("closed-session")', { timeout: 5000 });
    expect(await page.textContent("#connection")).toBe("stopped");
    await waitFor(async () => ((await session(sessionId)) === undefined ? true : null), 5000);
  });

  it("brings the same session back after a collector restart, with uptime and totals continuing", async () => {
    const { context } = await profile();
    const { page, sessionId } = await openApp(context);
    const before = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.totalBytesSent > 0 && s.uptime > 0 ? s : null;
    });
    await collector.close();
    await startCollector(collectorPort);
    const after = await waitFor(async () => {
      const s = await session(sessionId);
      return s && s.activePages === 1 ? s : null;
    }, 15_000);
    expect(await page.evaluate(() => (window as unknown as DemoWindow).sessionlensAgent!.sessionId)).toBe(sessionId);
    expect(after.uptime).toBeGreaterThan(before.uptime);
    expect(after.totalBytesSent).toBeGreaterThanOrEqual(before.totalBytesSent);
  });
});

/** Polls `probe` until it returns something other than null/undefined/false. */
async function waitFor<T>(probe: () => Promise<T | null | undefined | false> | T | null | undefined | false, timeoutMs = 8000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined && value !== false) return value as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms${last ? `: ${String(last)}` : ""}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export type { Page };
