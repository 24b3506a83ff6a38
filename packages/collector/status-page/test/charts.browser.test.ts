/**
 * The dashboard strip in Chromium against a real collector that samples fast: the charts render
 * from GET /api/v1/stats, move when sessions join, work under the page's CSP, and read in both
 * colour schemes. Saves test-artifacts/status-page-charts{,-dark}.png.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createCollector, type Collector } from "@sessionlens/collector";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ARTIFACTS_DIR, chromiumAvailable, launchProfile } from "../../../../testing/chromium.js";
import { TestAgent } from "../../test/helpers/agent.js";
import { silentLogger } from "../../test/helpers/collector.js";
import { buildStatusPage } from "./build-page.js";

const run = chromiumAvailable();

describe.skipIf(!run)("status page charts (Chromium, real collector)", () => {
  let distDir: string;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let collector: Collector;
  let page: Page;
  const agents: TestAgent[] = [];
  const problems: string[] = [];

  beforeAll(async () => {
    distDir = await buildStatusPage(mkdtempSync(join(tmpdir(), "sessionlens-charts-")));
    browser = await launchProfile({ viewport: { width: 1440, height: 900 } });
  }, 60_000);

  afterAll(async () => {
    await Promise.all(agents.map((agent) => agent.drop()));
    await collector?.close();
    await browser?.close();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  const card = (name: string) => page.locator(`.chart-card[data-chart="${name}"]`);
  const areas = (name: string) => card(name).locator("path.chart-area");

  it("render, move when sessions join, and show refusals by reason", async () => {
    collector = createCollector({
      port: 0,
      dataDir: null,
      logger: silentLogger,
      statusPageDir: distDir,
      statsIntervalMs: 250,
      statsWindowMs: 60_000,
      allowedOrigins: ["https://app.example.com"],
    });
    const { url, wsUrl } = await collector.listen();
    page = await browser.context.newPage();
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("console", (message) => {
      if (message.type() === "error" || message.text().includes("Content Security Policy")) problems.push(message.text());
    });
    await page.goto(url);

    // Rendered: four cards, each with an SVG and (for sessions and pages) one area per scope.
    await expect.poll(() => page.locator(".chart-card").count()).toBe(4);
    await expect.poll(() => areas("sessions").count()).toBe(4);
    await expect.poll(() => card("sessions").locator(".chart-value").textContent()).toBe("0");
    const before = await areas("sessions").first().getAttribute("d");

    // Sessions join: the value and the browser area move.
    const origin = { origin: "https://app.example.com" };
    for (let i = 0; i < 3; i++) agents.push(await TestAgent.join(wsUrl, { project: "Plant", bytes: 0 }, origin));
    agents.push(await TestAgent.join(wsUrl, { project: "Plant", resume: agents[0]!.welcome!.resume }, origin));
    agents.push(await TestAgent.join(wsUrl, { project: "Line", scope: "android" }, origin));
    await expect.poll(() => card("sessions").locator(".chart-value").textContent(), { timeout: 10_000 }).toBe("4");
    await expect.poll(() => card("pages").locator(".chart-value").textContent(), { timeout: 10_000 }).toBe("5");
    expect(await areas("sessions").first().getAttribute("d")).not.toBe(before);
    expect(await card("sessions").locator(".chart").getAttribute("aria-label")).toContain("Browser 3");

    // Bytes: agents report traffic; the rate shows up.
    for (const agent of agents) agent.heartbeat(40_000);
    await expect.poll(() => card("bytes").locator(".chart-value").textContent(), { timeout: 10_000 }).not.toMatch(/^(0 B\/s|—)$/);

    // Refusals: a disallowed origin is refused and charted by its reason.
    await TestAgent.connect(wsUrl, { origin: "https://evil.example" }).then((agent) => agent.closed).catch(() => undefined);
    await expect.poll(() => card("refused").locator(".chart-legend-label").allTextContents(), { timeout: 10_000 }).toContain("origin not allowed");
    expect(Number(await card("refused").locator(".chart-value").textContent())).toBeGreaterThanOrEqual(1);

    // Live: the areas keep moving with time as samples arrive.
    const moving = await areas("pages").first().getAttribute("d");
    await expect.poll(() => areas("pages").first().getAttribute("d"), { timeout: 10_000 }).not.toBe(moving);

    // Colours come from the stylesheet (no inline style), and differ between schemes.
    const fillOf = () => areas("sessions").first().evaluate((path) => getComputedStyle(path).fill);
    await page.emulateMedia({ colorScheme: "light" });
    const light = await fillOf();
    mkdirSync(ARTIFACTS_DIR, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS_DIR, "status-page-charts.png") });
    await page.emulateMedia({ colorScheme: "dark" });
    const dark = await fillOf();
    await page.screenshot({ path: join(ARTIFACTS_DIR, "status-page-charts-dark.png") });
    expect(light).not.toBe(dark);
    expect(await page.locator(".charts [style]").count()).toBe(0);
    expect(problems).toEqual([]);
  }, 60_000);
});
