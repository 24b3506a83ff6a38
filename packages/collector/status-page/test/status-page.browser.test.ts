/**
 * The status page in Chromium against the real collector (issue 6, item 6):
 * protocol test agents connect, and the page must show them live, filter them,
 * open their details, terminate them, and render hostile strings as text.
 * Saves test-artifacts/status-page.png for a person to look at.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCollector, type Collector } from "@sessionlens/collector";
import { SignJWT } from "jose";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS_DIR, chromiumAvailable, launchProfile } from "../../../../testing/chromium.js";
import { TestAgent, type HelloOverrides } from "../../test/helpers/agent.js";
import { silentLogger } from "../../test/helpers/collector.js";
import { buildStatusPage } from "./build-page.js";

const run = chromiumAvailable();

const IDENTITY_SECRET = "status-page-test-identity-secret";
const XSS = "<img src=x onerror=alert(1)>";
const UA = {
  windowsChrome:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  macSafari:
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  iosWebView: "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  androidWebView:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240605.024; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.39 Mobile Safari/537.36",
};

function identityToken(sub: string): Promise<string> {
  return new SignJWT({ sub })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime(Math.floor(Date.now() / 1000) + 3600)
    .sign(new TextEncoder().encode(IDENTITY_SECRET));
}

describe.skipIf(!run)("status page (Chromium, real collector)", () => {
  let distDir: string;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let collector: Collector;
  let url: string;
  let wsUrl: string;
  let page: Page;
  let agents: TestAgent[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    distDir = await buildStatusPage(mkdtempSync(join(tmpdir(), "sessionlens-status-page-")));
    browser = await launchProfile({ viewport: { width: 1440, height: 860 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  async function start(options: { apiToken?: string } = {}): Promise<void> {
    collector = createCollector({
      port: 0,
      dataDir: null,
      logger: silentLogger,
      statusPageDir: distDir,
      identitySecret: IDENTITY_SECRET,
      ...options,
    });
    ({ url, wsUrl } = await collector.listen());
    page = await browser.context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      // Chromium logs every 401 as a failed resource; the token test causes one on purpose.
      if (message.type() === "error" && !(options.apiToken && message.text().includes("status of 401"))) {
        problems.push(`console error: ${message.text()}`);
      }
    });
    // Terminate confirms in the page's own dialog; a native dialog would mean injected script ran.
    page.on("dialog", (dialog) => {
      problems.push(`unexpected ${dialog.type()} dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
  }

  async function connect(hello: HelloOverrides & { username?: string } = {}): Promise<TestAgent> {
    const { username, ...overrides } = hello;
    const token = username ? await identityToken(username) : null;
    const agent = await TestAgent.join(wsUrl, { project: "Plant", ...overrides, token });
    agents.push(agent);
    return agent;
  }

  const row = (id: string) => page.locator(`.tr[data-id="${id}"]`);
  const cell = (id: string, column: string) => row(id).locator(`[data-column="${column}"]`);
  const visibleRows = () => page.locator(".tr:not([hidden])");

  async function openPage(): Promise<void> {
    await page.goto(url);
    await expect.poll(() => page.locator("#connection").getAttribute("data-state")).toBe("live");
  }

  afterEach(async () => {
    await Promise.all(agents.map((agent) => agent.drop()));
    agents = [];
    await page?.close();
    await collector?.close();
    expect(problems.splice(0)).toEqual([]);
  });

  it("shows a live session within a second of it connecting, with its columns", async () => {
    await start();
    await openPage();
    expect(await visibleRows().count()).toBe(0);
    await expect.poll(() => page.locator("#empty-title").textContent()).toBe("No sessions right now");

    const agent = await connect({ username: "alice", userAgent: UA.windowsChrome, path: "/orders" });
    const connectedAt = Date.now();
    const id = agent.welcome!.sessionId;
    await row(id).waitFor({ state: "visible", timeout: 1000 });
    expect(Date.now() - connectedAt).toBeLessThan(1000);

    // The label is the collector's parse of the user agent (one parser, on the collector), fetched once per user agent.
    await expect.poll(() => cell(id, "device").textContent()).toBe("Chrome 131 · Windows");
    expect(await cell(id, "user").textContent()).toBe("alice");
    expect(await cell(id, "authorized").textContent()).toBe("Yes");
    expect(await cell(id, "project").textContent()).toBe("Plant");
    expect(await cell(id, "address").textContent()).toBe("127.0.0.1");
    expect(await cell(id, "scope").textContent()).toBe("Browser");
    expect(await cell(id, "pages").textContent()).toBe("1");
    expect(await page.locator("#stat-sessions").textContent()).toBe("1");

    // Uptime ticks in the page between events.
    const before = await cell(id, "uptime").textContent();
    await expect.poll(() => cell(id, "uptime").textContent(), { timeout: 3000 }).not.toBe(before);

    // A second tab of the same browser is a second page of the same session.
    const secondTab = await connect({ resume: agent.welcome!.resume, userAgent: UA.windowsChrome, path: "/dashboard" });
    expect(secondTab.welcome!.sessionId).toBe(id);
    await expect.poll(() => cell(id, "pages").textContent()).toBe("2");
    expect(await visibleRows().count()).toBe(1);
  });

  it("narrows the table with the user and project filters (exact, case-sensitive, * wildcard)", async () => {
    await start();
    const alice = await connect({ username: "alice" });
    const bob = await connect({ username: "bob", project: "Office" });
    const anonymous = await connect({});
    await openPage();
    await expect.poll(() => visibleRows().count()).toBe(3);

    await page.fill("#filter-user", "alice");
    await expect.poll(() => visibleRows().count()).toBe(1);
    expect(await row(alice.welcome!.sessionId).isVisible()).toBe(true);
    await expect.poll(() => page.locator("#showing").textContent()).toBe("Showing 1 of 3 sessions (1 pages)");

    await page.fill("#filter-user", "Alice");
    await expect.poll(() => visibleRows().count()).toBe(0);
    await expect.poll(() => page.locator("#empty-title").textContent()).toBe("No sessions match these filters");

    await page.fill("#filter-user", "*o*");
    await expect.poll(() => visibleRows().count()).toBe(1);
    expect(await row(bob.welcome!.sessionId).isVisible()).toBe(true);

    await page.fill("#filter-user", "");
    await page.fill("#filter-project", "Plant");
    await expect.poll(() => visibleRows().count()).toBe(2);
    expect(await row(anonymous.welcome!.sessionId).isVisible()).toBe(true);
    // Kept in the address so the filtered view can be shared (never the token).
    expect(new URL(page.url()).searchParams.get("projectFilter")).toBe("Plant");

    // A session that connects while filtered appears only if it matches.
    const carol = await connect({ username: "carol", project: "Office" });
    const dave = await connect({ username: "dave", project: "Plant" });
    await row(dave.welcome!.sessionId).waitFor({ state: "visible", timeout: 1000 });
    expect(await row(carol.welcome!.sessionId).count()).toBe(0);

    await page.click("#clear-filters");
    await expect.poll(() => visibleRows().count()).toBe(5);
  });

  it("opens the details: parsed device, pages with paths, bytes and times, the raw user agent", async () => {
    await start();
    const agent = await connect({ username: "alice", userAgent: UA.macSafari, path: "/orders/42", bytes: 2048 });
    const id = agent.welcome!.sessionId;
    await openPage();
    await row(id).click();
    const details = page.locator("#details");
    await details.waitFor({ state: "visible" });
    expect(await page.locator("#details-id").textContent()).toBe(id);
    expect(await page.locator("#details-ua").textContent()).toBe(UA.macSafari);
    await expect.poll(() => page.locator("#details-pages .page").count()).toBe(1);
    const pageItem = page.locator("#details-pages .page").first();
    expect(await pageItem.locator(".page-path").textContent()).toBe("/orders/42");
    expect(await pageItem.locator(".page-id").textContent()).toBe(agent.pageId);
    expect(await pageItem.locator(".page-bytes").textContent()).toBe("2 KiB");
    expect(await pageItem.locator(".page-times dt").allTextContents()).toEqual(["Opened", "Connected"]);
    // The collector's parse of the user agent.
    const device = await page.locator("#details-device").textContent();
    expect(device).toContain("Safari");
    expect(device).toContain("Mac OS");

    // Live: a report with a new path and bytes shows up while the panel is open.
    agent.report("/orders/43", 1024);
    await expect.poll(() => pageItem.locator(".page-path").textContent(), { timeout: 3000 }).toBe("/orders/43");
    await expect.poll(() => pageItem.locator(".page-bytes").textContent()).toBe("3 KiB");

    await page.keyboard.press("Escape");
    await expect.poll(() => details.isVisible()).toBe(false);
  });

  it("terminates a session after confirmation: the agent is told and the row disappears", async () => {
    await start();
    const agent = await connect({ username: "alice" });
    const designer = await connect({ username: "dev", scope: "designer" });
    const id = agent.welcome!.sessionId;
    await openPage();
    const deletes: string[] = [];
    page.on("request", (request) => {
      if (request.method() === "DELETE") deletes.push(new URL(request.url()).pathname);
    });
    await expect.poll(() => visibleRows().count()).toBe(2);
    // Designer sessions cannot be terminated from the page.
    expect(await row(designer.welcome!.sessionId).locator("[data-action=terminate]").isVisible()).toBe(false);

    // Cancel keeps it.
    await row(id).locator("[data-action=terminate]").click();
    await page.locator("#confirm-dialog").waitFor({ state: "visible" });
    await page.click("#confirm-cancel");
    await page.locator("#confirm-dialog").waitFor({ state: "hidden" });
    expect(await row(id).isVisible()).toBe(true);

    // From the details panel this time.
    await row(id).click();
    await page.click("#details-terminate");
    await page.click("#confirm-ok");
    const frame = await agent.seen("closeSession");
    expect(frame.type).toBe("closeSession");
    await expect.poll(() => row(id).count()).toBe(0);
    expect((await collector.getSessionInfo()).map((s) => s.id)).not.toContain(id);
    await expect.poll(() => page.locator("#details-ended").isVisible()).toBe(true);
    expect(await page.locator("#details-terminate").isDisabled()).toBe(true);
    expect(await visibleRows().count()).toBe(1);
    // One DELETE in all: the cancelled confirmation sent none.
    expect(deletes).toEqual([`/api/v1/sessions/${id}`]);
  });

  it("renders an XSS attempt in the user agent and path as text", async () => {
    await start();
    const agent = await connect({ userAgent: XSS, path: `/${XSS}` });
    const id = agent.welcome!.sessionId;
    await openPage();
    await expect.poll(() => cell(id, "device").textContent()).toBe(XSS);
    await row(id).click();
    await expect.poll(() => page.locator("#details-ua").textContent()).toBe(XSS);
    await expect.poll(() => page.locator("#details-pages .page-path").first().textContent()).toBe(`/${XSS}`);
    // No element was created from it, so nothing can run (a dialog would be recorded in `problems`).
    expect(await page.locator("img").count()).toBe(0);
    expect(await page.evaluate(() => document.querySelectorAll("[onerror]").length)).toBe(0);
  });

  it("asks for the API token and uses it for the stream and for Terminate", async () => {
    await start({ apiToken: "api-token-for-test" });
    const agent = await connect({ username: "alice" });
    const id = agent.welcome!.sessionId;
    await page.goto(url);
    await page.locator("#token-dialog").waitFor({ state: "visible" });
    await page.fill("#token-input", "api-token-for-test");
    await page.press("#token-input", "Enter");
    await expect.poll(() => page.locator("#connection").getAttribute("data-state")).toBe("live");
    await row(id).waitFor({ state: "visible" });
    expect(page.url()).not.toContain("api-token-for-test");

    await row(id).locator("[data-action=terminate]").click();
    await page.click("#confirm-ok");
    await agent.seen("closeSession");
    await expect.poll(() => row(id).count()).toBe(0);
  });

  it("saves a screenshot with a few sessions", async () => {
    await start();
    await connect({ username: "alice", userAgent: UA.windowsChrome, path: "/orders", bytes: 48_213 });
    await connect({ username: "bob", project: "Office", userAgent: UA.macSafari, path: "/reports", bytes: 9_120 });
    const mobile = await connect({ username: "carol", userAgent: UA.iosWebView, path: "/line/3", bytes: 1_234_567 });
    await connect({ resume: mobile.welcome!.resume, userAgent: UA.iosWebView, path: "/line/4" });
    await connect({ userAgent: UA.androidWebView, path: "/kiosk", project: "Warehouse" });
    await connect({ username: "dev", scope: "designer", userAgent: UA.windowsChrome, path: "/designer" });
    await connect({ userAgent: XSS, path: `/${XSS}` });
    await openPage();
    await expect.poll(() => visibleRows().count()).toBe(6);
    await row(mobile.welcome!.sessionId).click();
    await expect.poll(() => page.locator("#details-pages .page").count()).toBe(2);
    await page.waitForTimeout(1200); // let uptimes tick past zero
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, "status-page.png") });
    await page.keyboard.press("Escape");
    await page.screenshot({ path: join(ARTIFACTS_DIR, "status-page-table.png") });
  });
});
