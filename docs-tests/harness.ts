/**
 * A live collector for the doc tests, holding one real session: user `billy` (a verified JWT),
 * project `MyProject`, one page, from the real agent running in Node. Commands and snippets from
 * the docs run against it, with the documented address (127.0.0.1:8787) rewritten to its own.
 */
import { createHmac } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startAgent } from "@sessionlens/agent";
import { createCollector, type Collector } from "@sessionlens/collector";
import { ROOT } from "./markdown.js";

/** `ws` is a dependency of the agent and the collector, not of the root: borrow the agent's. */
export const WebSocketImpl = createRequire(join(ROOT, "packages/agent/package.json"))("ws").WebSocket as typeof globalThis.WebSocket;

export const IDENTITY_SECRET = "docs-tests-identity-secret-0123456789";
/** The address the docs use; commands and snippets have it replaced by the live collector's. */
export const DOCUMENTED_ADDRESS = "127.0.0.1:8787";

/** An HS256 JWT, as the gateway signs it. */
export function signJwt(sub: string, secret = IDENTITY_SECRET, ttlSeconds = 600): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub, exp: Math.floor(Date.now() / 1000) + ttlSeconds })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}

export interface DocCollector {
  collector: Collector;
  /** `127.0.0.1:PORT` */
  address: string;
  url: string;
  sessionId: string;
  pageId: string;
  /** Replaces the documented address by this collector's. */
  rewrite(text: string): string;
  close(): Promise<void>;
}

export async function startDocCollector(): Promise<DocCollector> {
  const dataDir = mkdtempSync(join(tmpdir(), "sessionlens-docs-"));
  const collector = createCollector({ port: 0, dataDir, identitySecret: IDENTITY_SECRET });
  const { url } = await collector.listen();
  const address = new URL(url).host;
  const agent = startAgent({
    url: `ws://${address}/ws`,
    project: "MyProject",
    token: signJwt("billy"),
    WebSocket: WebSocketImpl,
    userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  });
  const sessionId = await new Promise<string>((resolve) => agent.on("connect", (id) => resolve(id)));
  for (let i = 0; i < 200 && !(await collector.getSessionInfo("billy")).some((s) => s.authorized); i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  return {
    collector,
    address,
    url,
    sessionId,
    pageId: agent.pageId,
    rewrite: (text) => text.split(DOCUMENTED_ADDRESS).join(address),
    async close() {
      agent.stop();
      await collector.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
