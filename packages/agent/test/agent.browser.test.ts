import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { AgentMessage } from "@sessionlens/shared";
import { decodeAgentMessage } from "@sessionlens/shared/codec";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { CHROMIUM_ARGS, CHROMIUM_PATH, chromiumAvailable, launchProfile } from "../../../testing/chromium.js";
import { runCollector, type RunningCollector } from "./testUtils/collector.js";
import { startGateway, type Gateway } from "./testUtils/gateway.js";

/**
 * The IIFE in real Chromium (Debian's /usr/bin/chromium), against a real collector: strict CSP,
 * byte counts against what the gateway really received, a clean leave on close, two tabs opened at
 * the same instant in many fresh profiles (secure context: Web Locks; plain http: the IndexedDB
 * lease), and a sandboxed iframe whose storage throws.
 */

const available = chromiumAvailable();
const PROFILES = 12;
const INSECURE_HOST = "sessionlens.test";

let dir: string;
let collector: RunningCollector;
let gateway: Gateway;
let elsewhere: Gateway;

beforeAll(async () => {
  if (!available) return;
  dir = mkdtempSync(join(tmpdir(), "sessionlens-agent-browser-"));
  const iife = join(dir, "sessionlens-agent.iife.js");
  execFileSync(process.execPath, [join(import.meta.dirname, "..", "scripts", "build.mjs"), iife], { stdio: "inherit" });
  collector = await runCollector({ pageGraceMs: 60_000, sessionTimeoutMs: 120_000 });
  gateway = await startGateway(iife);
  elsewhere = await startGateway(iife);
}, 60_000);

afterAll(async () => {
  if (!available) return;
  await collector?.close();
  await gateway?.close();
  await elsewhere?.close();
  rmSync(dir, { recursive: true, force: true });
});

function pageUrl(project: string, host?: string): string {
  return gateway.pageUrl({ url: collector.wsUrl, project }, host);
}

async function sessionIdOf(page: Page): Promise<string> {
  return vi.waitFor(
    async () => {
      const id = await page.evaluate(() => (window as unknown as { agent: { sessionId: string | null } }).agent.sessionId);
      if (!id) throw new Error("not welcomed yet");
      return id;
    },
    { timeout: 15_000, interval: 25 },
  );
}

async function pageIdOf(page: Page): Promise<string> {
  return page.evaluate(() => (window as unknown as { agent: { pageId: string } }).agent.pageId);
}

/** Records the agent's frames as the browser sent them (decoded with the collector's codec). */
function recordFrames(page: Page): { frame: AgentMessage; size: number }[] {
  const frames: { frame: AgentMessage; size: number }[] = [];
  page.on("websocket", (socket) => {
    if (!socket.url().startsWith(collector.wsUrl)) return;
    socket.on("framesent", ({ payload }) => {
      if (typeof payload === "string") return;
      const decoded = decodeAgentMessage(payload);
      if (decoded.ok) frames.push({ frame: decoded.value, size: payload.length });
    });
  });
  return frames;
}

/** Two tabs of one fresh profile open the same page at the same instant; returns their session ids. */
async function twoTabsAtOnce(context: BrowserContext, url: string): Promise<[string, string]> {
  const [first, second] = await Promise.all([context.newPage(), context.newPage()]);
  await Promise.all([first.goto(url), second.goto(url)]);
  return [await sessionIdOf(first), await sessionIdOf(second)];
}

describe.skipIf(!available)("in Chromium", () => {
  it("runs under a strict CSP (script-src 'self', no unsafe-eval) and reports the session", async () => {
    const profile = await launchProfile();
    try {
      const page = await profile.context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(String(error)));
      await page.goto(pageUrl("CspProject"));
      const sessionId = await sessionIdOf(page);
      const state = await page.evaluate(() => (window as unknown as { __sessionlens: { violations: string[]; evalBlocked: boolean } }).__sessionlens);
      expect(state.evalBlocked).toBe(true); // the policy is really in force
      expect(state.violations.filter((v) => !v.startsWith("script-src eval"))).toEqual([]);
      expect(errors).toEqual([]);
      const [session] = await collector.collector.getSessionInfo(undefined, "CspProject");
      expect(session).toMatchObject({ id: sessionId, sessionScope: "browser", activePages: 1, pageIds: [await pageIdOf(page)] });
      expect(session!.userAgent).toBe(await page.evaluate(() => navigator.userAgent));
    } finally {
      await profile.close();
    }
  });

  it("counts exactly the body bytes the gateway received, of every kind, and nothing sent elsewhere", async () => {
    const profile = await launchProfile();
    try {
      const page = await profile.context.newPage();
      const frames = recordFrames(page);
      await page.goto(pageUrl("BytesProject"));
      await sessionIdOf(page);
      gateway.received.length = 0;
      elsewhere.received.length = 0;
      await page.evaluate(async (elsewhereOrigin) => {
        const post = (body: BodyInit) => fetch("/upload", { method: "POST", body });
        const form = new FormData();
        form.append("name", "billy");
        form.append("note", "line one\nline two");
        form.append("file", new File(["contents of a file"], "report.csv", { type: "text/csv" }));
        await post("héllo wörld 😀");
        await post(new Blob([new Uint8Array(1000)]));
        await post(new Uint8Array(333));
        await post(new URLSearchParams({ q: "a b&c", é: "€" }));
        await post(form);
        // A Request's own body is never read (it counts 0, see the transparency suite); init.body counts.
        await fetch(new Request("/upload", { method: "PUT" }), { body: "init.body of a Request" });
        await fetch("/upload"); // GET: no body
        await new Promise<void>((resolve) => {
          const xhr = new XMLHttpRequest();
          xhr.open("POST", "/upload");
          xhr.onloadend = () => resolve();
          xhr.send(new ArrayBuffer(77));
        });
        navigator.sendBeacon("/upload", "beacon data");
        await new Promise<void>((resolve) => {
          const socket = new WebSocket(`ws://${location.host}/live`);
          socket.onopen = () => {
            socket.send("a text message");
            socket.send(new Uint8Array(64));
            socket.close();
            resolve();
          };
        });
        await fetch(`${elsewhereOrigin}/upload`, { method: "POST", body: "not the gateway" });
      }, elsewhere.origin);
      await vi.waitFor(() => expect(gateway.received.filter((entry) => entry.path === "ws:/live")).toHaveLength(2), { timeout: 5000 });
      await vi.waitFor(() => expect(gateway.received.filter((entry) => entry.path === "/upload")).toHaveLength(8), { timeout: 5000 });
      expect(elsewhere.receivedBytes()).toBe(15);

      // The first report that carries all of it: its bytes = what the gateway got + the agent's earlier frames.
      const appBytes = gateway.receivedBytes();
      const report = await vi.waitFor(
        () => {
          let ownBytes = 0;
          for (const { frame, size } of frames) {
            if (frame.type === "report" && frame.bytes >= appBytes + ownBytes) return { frame, ownBytes };
            ownBytes += size;
          }
          throw new Error("no report carries the uploads yet");
        },
        { timeout: 5000 },
      );
      expect(report.frame.bytes).toBe(appBytes + report.ownBytes);
      const [session] = await collector.collector.getSessionInfo(undefined, "BytesProject");
      expect(session!.totalBytesSent).toBeGreaterThanOrEqual(report.frame.bytes);
    } finally {
      await profile.close();
    }
  });

  it("a closed tab leaves pageIds at once (pagehide says bye), long before the page grace period", async () => {
    const profile = await launchProfile();
    try {
      const [kept, closed] = await Promise.all([profile.context.newPage(), profile.context.newPage()]);
      await kept.goto(pageUrl("LeaveProject"));
      const sessionId = await sessionIdOf(kept);
      await closed.goto(pageUrl("LeaveProject"));
      expect(await sessionIdOf(closed)).toBe(sessionId);
      const keptPage = await pageIdOf(kept);
      await vi.waitFor(async () => expect((await collector.collector.getSessionInfo(undefined, "LeaveProject"))[0]?.activePages).toBe(2), { timeout: 5000 });
      await closed.close();
      // The collector's page grace is 60 s here: only a bye removes the page this fast.
      await vi.waitFor(
        async () => expect((await collector.collector.getSessionInfo(undefined, "LeaveProject"))[0]?.pageIds).toEqual([keptPage]),
        { timeout: 3000, interval: 25 },
      );
    } finally {
      await profile.close();
    }
  });

  it(`two tabs opened at the same instant end in one session, in each of ${PROFILES} fresh profiles (Web Locks + IndexedDB)`, async () => {
    const splits: string[] = [];
    for (let run = 0; run < PROFILES; run++) {
      const profile = await launchProfile();
      try {
        const project = `TwoTabs${run}`;
        const page = await profile.context.newPage();
        await page.goto("about:blank");
        const [a, b] = await twoTabsAtOnce(profile.context, pageUrl(project));
        if (a !== b) splits.push(`profile ${run}: ${a} vs ${b}`);
        const sessions = await collector.collector.getSessionInfo(undefined, project);
        if (sessions.length !== 1 || sessions[0]!.activePages !== 2) splits.push(`profile ${run}: ${sessions.length} sessions`);
      } finally {
        await profile.close();
      }
    }
    expect(splits).toEqual([]);
  }, 180_000);

  it(`on a plain-http origin (no Web Locks) two tabs at once still end in one session, in ${PROFILES} fresh profiles (IndexedDB lease)`, async () => {
    const splits: string[] = [];
    for (let run = 0; run < PROFILES; run++) {
      const userDataDir = mkdtempSync(join(tmpdir(), "sessionlens-chromium-"));
      const context = await chromium.launchPersistentContext(userDataDir, {
        executablePath: CHROMIUM_PATH,
        args: [...CHROMIUM_ARGS, `--host-resolver-rules=MAP ${INSECURE_HOST} 127.0.0.1`],
        headless: true,
      });
      try {
        const project = `Insecure${run}`;
        const url = pageUrl(project, INSECURE_HOST);
        const probe = await context.newPage();
        await probe.goto(url);
        const context_ = await probe.evaluate(() => ({ secure: isSecureContext, locks: "locks" in navigator }));
        expect(context_).toEqual({ secure: false, locks: false });
        const probeSession = await sessionIdOf(probe);
        // Let its credential reach IndexedDB (stored right after the welcome) before the tab goes.
        await probe.waitForTimeout(300);
        await probe.close();
        // The probe made a session; two new tabs opened at once must join it, not make their own.
        const [a, b] = await twoTabsAtOnce(context, url);
        if (a !== b || a !== probeSession) splits.push(`profile ${run}: ${probeSession} / ${a} / ${b}`);

        // And in a profile with no session yet: the race the lease exists for.
        const fresh = `InsecureFresh${run}`;
        const [c, d] = await twoTabsAtOnce(context, pageUrl(fresh, INSECURE_HOST));
        if (c !== d) splits.push(`profile ${run} fresh: ${c} vs ${d}`);
      } finally {
        await context.close().catch(() => undefined);
        rmSync(userDataDir, { recursive: true, force: true });
      }
    }
    expect(splits).toEqual([]);
  }, 240_000);

  it("in a sandboxed iframe, where every storage throws, the agent still reports (in-memory session)", async () => {
    const profile = await launchProfile();
    try {
      const page = await profile.context.newPage();
      const errors: string[] = [];
      page.on("pageerror", (error) => errors.push(String(error)));
      await page.goto(gateway.pageUrl({ frame: "sandboxed", url: collector.wsUrl, project: "SandboxProject" }));
      const frame = await vi.waitFor(
        () => {
          const found = page.frames().find((candidate) => candidate !== page.mainFrame());
          if (!found) throw new Error("no iframe yet");
          return found;
        },
        { timeout: 5000 },
      );
      const storage = await frame.evaluate(() => {
        try {
          return String(localStorage.length);
        } catch (error) {
          return (error as Error).name;
        }
      });
      expect(storage).toBe("SecurityError");
      await vi.waitFor(
        async () => {
          const id = await frame.evaluate(() => (window as unknown as { agent: { sessionId: string | null } }).agent.sessionId);
          expect(id).toBeTruthy();
        },
        { timeout: 10_000 },
      );
      expect(errors).toEqual([]);
      expect(await collector.collector.getSessionInfo(undefined, "SandboxProject")).toHaveLength(1);
    } finally {
      await profile.close();
    }
  });

  it("a collector that shuts down tells the page 1012 (service restart) though it stops reading at once, and the page resumes its session on the next one", async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "sessionlens-agent-restart-"));
    const profile = await launchProfile();
    let next: RunningCollector | null = null;
    try {
      const first = await runCollector({ dataDir });
      const page = await profile.context.newPage();
      // Every close event of the page's sockets, as the page's script saw it.
      await page.addInitScript(() => {
        const closes: { code: number; wasClean: boolean }[] = ((window as unknown as { __closes: unknown[] }).__closes = []) as never;
        const Native = window.WebSocket;
        window.WebSocket = class extends Native {
          constructor(url: string | URL, protocols?: string | string[]) {
            super(url, protocols);
            this.addEventListener("close", (event) => closes.push({ code: event.code, wasClean: event.wasClean }));
          }
        };
      });
      await page.goto(gateway.pageUrl({ url: first.wsUrl, project: "RestartProject" }));
      const sessionId = await sessionIdOf(page);
      await first.close();
      const closes = () => page.evaluate(() => (window as unknown as { __closes: { code: number }[] }).__closes);
      // The first close the page saw is the collector's 1012. The page goes on retrying while no
      // collector listens (each refused attempt closes with 1006), however late this test looks.
      await vi.waitFor(async () => expect((await closes()).length).toBeGreaterThan(0), { timeout: 5_000 });
      const seen = (await closes()).map((close) => close.code);
      expect(seen[0]).toBe(1012);
      expect(seen.slice(1).every((code) => code === 1006)).toBe(true);
      next = await runCollector({ dataDir, port: first.port });
      await vi.waitFor(
        async () => expect(await next!.collector.getSessionInfo(undefined, "RestartProject")).toEqual([expect.objectContaining({ id: sessionId, activePages: 1 })]),
        { timeout: 15_000, interval: 50 },
      );
    } finally {
      await next?.close();
      await profile.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
