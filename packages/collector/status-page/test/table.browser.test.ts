/**
 * The status page in Chromium against a scripted stand-in for the collector's
 * HTTP side: 10,000 sessions, per-event row updates, the token form and
 * reconnecting. (status-page.browser.test.ts runs it against the real collector.)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { BrowserContext, Page } from "playwright-core";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { chromiumAvailable, launchProfile } from "../../../../testing/chromium.js";
import { buildStatusPage } from "./build-page.js";
import { startFakeCollector, type FakeCollector } from "./fake-collector.js";
import { session } from "./sessions.js";

const run = chromiumAvailable();

describe.skipIf(!run)("status page (Chromium, scripted collector)", () => {
  let distDir: string;
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let fake: FakeCollector | undefined;
  let page: Page;
  const pageErrors: string[] = [];

  beforeAll(async () => {
    distDir = await buildStatusPage(mkdtempSync(join(tmpdir(), "sessionlens-status-page-")));
    browser = await launchProfile({ viewport: { width: 1280, height: 800 } });
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    if (distDir) rmSync(distDir, { recursive: true, force: true });
  });

  async function open(options: Parameters<typeof startFakeCollector>[0]): Promise<FakeCollector> {
    fake = await startFakeCollector(options);
    page = await browser.context.newPage();
    page.on("pageerror", (error) => pageErrors.push(error.message));
    page.on("dialog", (dialog) => {
      pageErrors.push(`unexpected ${dialog.type()} dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });
    await page.goto(fake.url);
    return fake;
  }

  afterEach(async () => {
    await page?.close();
    await fake?.close();
    fake = undefined;
    expect(pageErrors.splice(0)).toEqual([]);
  });

  const rowCount = (): Promise<number> => page.locator(".tr:not([hidden])").count();

  it("keeps only the rows in view in the DOM at 10,000 sessions", async () => {
    const sessions = Array.from({ length: 10_000 }, (_, i) =>
      session({ id: `s${String(i).padStart(5, "0")}`, username: `user${i}`, uptime: 1_000 + i * 1_000, pageIds: [`p${i}`] }),
    );
    await open({ distDir, sessions });
    await expect.poll(() => page.locator("#stat-sessions").textContent()).toBe("10,000");
    expect(await rowCount()).toBeGreaterThan(10);
    expect(await rowCount()).toBeLessThan(60);
    // The youngest first: user0 on top; scrolled to the end, the oldest (user9999) is there.
    await expect.poll(() => page.locator('.tr[aria-rowindex="2"] [data-column="user"]').textContent()).toBe("user0");
    await page.locator("#viewport").evaluate((viewport) => {
      viewport.scrollTop = viewport.scrollHeight;
    });
    await expect.poll(() => page.locator('.tr[aria-rowindex="10001"] [data-column="user"]').textContent()).toBe("user9999");
    expect(await rowCount()).toBeLessThan(60);
  });

  it("updates one row per event, not the table", async () => {
    const sessions = Array.from({ length: 500 }, (_, i) => session({ id: `s${i}`, username: `user${i}`, uptime: 1_000 + i * 1_000 }));
    const collector = await open({ distDir, sessions });
    await expect.poll(rowCount).toBeGreaterThan(10);
    // The rows' device label is the collector's parse, looked up once for the shared user agent: let it land first.
    await expect.poll(() => page.locator('.tr[data-id="s0"] [data-column="device"]').textContent()).toBe("Chrome 126 · Linux");
    // Record which rows change, except the two time columns that tick every second.
    await page.evaluate(() => {
      const touched = new Set<string>();
      (window as unknown as { touched: Set<string> }).touched = touched;
      new MutationObserver((records) => {
        for (const record of records) {
          const node = record.target instanceof Element ? record.target : record.target.parentElement;
          const column = node?.closest<HTMLElement>("[data-column]")?.dataset["column"];
          if (column === "uptime" || column === "lastComm") continue;
          touched.add(node?.closest<HTMLElement>(".tr")?.dataset["id"] ?? "(outside a row)");
        }
      }).observe(document.querySelector("#tbody")!, { subtree: true, childList: true, characterData: true, attributes: true });
    });
    collector.upsert(session({ id: "s3", username: "user3", uptime: 4_000, activePages: 7, pageIds: ["a", "b", "c", "d", "e", "f", "g"] }));
    await expect.poll(() => page.locator('.tr[data-id="s3"] [data-column="pages"]').textContent()).toBe("7");
    // A second event, drawn in a later frame: once it shows, everything s3's change did is in the record.
    collector.upsert(session({ id: "s5", username: "user5", uptime: 6_000, activePages: 2, pageIds: ["a", "b"] }));
    await expect.poll(() => page.locator('.tr[data-id="s5"] [data-column="pages"]').textContent()).toBe("2");
    expect(await page.evaluate(() => [...(window as unknown as { touched: Set<string> }).touched].sort())).toEqual(["s3", "s5"]);
  });

  it("asks for the API token on 401, sends it as a Bearer header and never in a URL", async () => {
    const collector = await open({ distDir, apiToken: "tok-123", sessions: [session({ id: "s1", username: "ann" })] });
    const dialog = page.locator("#token-dialog");
    await expect.poll(() => dialog.isVisible()).toBe(true);
    expect(await page.locator("#connection").getAttribute("data-state")).toBe("unauthorized");
    await page.fill("#token-input", "wrong");
    await page.press("#token-input", "Enter");
    await expect.poll(() => page.locator("#token-error").textContent()).toBe("The collector refused that token.");
    await page.fill("#token-input", "tok-123");
    await page.press("#token-input", "Enter");
    await expect.poll(() => page.locator("#connection").getAttribute("data-state")).toBe("live");
    await expect.poll(() => page.locator('.tr[data-id="s1"] [data-column="user"]').textContent()).toBe("ann");
    expect(await page.evaluate(() => sessionStorage.getItem("sessionlens.apiToken"))).toBe("tok-123");
    const api = collector.requests.filter((r) => r.url.startsWith("/api/"));
    expect(api.at(-1)?.authorization).toBe("Bearer tok-123");
    expect(collector.requests.some((r) => r.url.includes("tok-123"))).toBe(false);

    // Terminate goes through the same token.
    await page.locator('.tr[data-id="s1"] [data-action="terminate"]').click();
    await page.locator("#confirm-ok").click();
    await expect.poll(() => page.locator('.tr[data-id="s1"]').count()).toBe(0);
    const deletion = collector.requests.find((r) => r.method === "DELETE");
    expect(deletion).toMatchObject({ url: "/api/v1/sessions/s1", authorization: "Bearer tok-123" });
  });

  it("reconnects after the stream drops and shows the fresh snapshot", async () => {
    const collector = await open({ distDir, sessions: [session({ id: "s1", username: "ann" })] });
    await expect.poll(() => page.locator("#connection").getAttribute("data-state")).toBe("live");
    // Changes made while the page is cut off arrive with the next snapshot.
    collector.dropStreams();
    collector.sessions.delete("s1");
    collector.sessions.set("s2", session({ id: "s2", username: "bob" }));
    await expect.poll(() => page.locator('.tr[data-id="s2"] [data-column="user"]').textContent(), { timeout: 10_000 }).toBe("bob");
    expect(await page.locator('.tr[data-id="s1"]').count()).toBe(0);
    await expect.poll(() => page.locator("#connection").getAttribute("data-state")).toBe("live");
    expect(collector.requests.filter((r) => r.url === "/api/v1/events").length).toBe(2);
  });

  it("renders reported strings as text, in the table and the details panel", async () => {
    const xss = "<img src=x onerror=alert(1)>";
    const collector = await open({
      distDir,
      sessions: [session({ id: "s1", userAgent: xss, username: "<b>bold</b>", project: "<script>alert(2)</script>" })],
    });
    await expect.poll(() => page.locator('.tr[data-id="s1"] [data-column="device"]').textContent()).toBe(xss);
    expect(await page.locator('.tr[data-id="s1"] [data-column="user"]').textContent()).toBe("<b>bold</b>");
    await page.locator('.tr[data-id="s1"]').click();
    await expect.poll(() => page.locator("#details-ua").textContent()).toBe(xss);
    // The fake's first page path carries markup too.
    await expect.poll(() => page.locator("#details-pages .page-path").first().textContent()).toBe(
      "/orders/<img src=x onerror=alert(1)>",
    );
    expect(await page.locator("img, b, script:not([src])").count()).toBe(0);
    void collector;
  });
});
