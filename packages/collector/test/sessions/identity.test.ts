import { SignJWT, UnsecuredJWT } from "jose";
import { describe, expect, it } from "vitest";
import type { ErrorMessage } from "@sessionlens/shared";
import { eventually, tempDir } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

const SECRET = "identity-secret-for-tests";
const key = new TextEncoder().encode(SECRET);

async function sign(sub: string, expSeconds: number, secret: Uint8Array = key): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(expSeconds).sign(secret);
}

describe("identity", () => {
  const t = useCollector();
  const session = async () => (await t.collector.getSessionInfo())[0]!;
  const nowSeconds = () => Math.floor(t.clock.now() / 1000);

  it("a verified token shows its sub, authorized; when it expires authorized turns false and the pages are told", async () => {
    await t.start({ identitySecret: SECRET });
    const agent = await t.join({ token: await sign("billy", nowSeconds() + 60) });
    expect(agent.welcome!.authorized).toBe(true);
    expect(await session()).toMatchObject({ username: "billy", authorized: true });
    const expired = agent.next("error");
    t.clock.advance(61_000);
    expect(((await expired) as ErrorMessage).code).toBe("token_expired");
    expect(await session()).toMatchObject({ username: "billy", authorized: false });
    // The agent refreshes its token.
    agent.token(await sign("billy", nowSeconds() + 600));
    await eventually(async () => expect(await session()).toMatchObject({ username: "billy", authorized: true }));
  });

  it("logout (a null token) shows Unauthenticated", async () => {
    await t.start({ identitySecret: SECRET });
    const agent = await t.join();
    agent.token(await sign("billy", nowSeconds() + 60));
    await eventually(async () => expect((await session()).username).toBe("billy"));
    agent.token(null);
    await eventually(async () => expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false }));
  });

  it.each([
    ["a wrong signature", () => sign("mallory", Math.floor(Date.now() / 1000) + 60, new TextEncoder().encode("not-the-secret"))],
    ["alg none", async () => new UnsecuredJWT({ sub: "mallory" }).setExpirationTime("1h").encode()],
    ["no exp", () => new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "HS256" }).sign(key)],
    ["garbage", async () => "not.a.jwt"],
  ])("%s is refused with token_invalid and the session stays Unauthenticated", async (_name, makeToken) => {
    await t.start({ identitySecret: SECRET }, undefined);
    t.clock.nowMs = Date.now();
    const agent = await t.join({ token: await makeToken() });
    expect(agent.welcome!.authorized).toBe(false);
    expect(((await agent.seen("error")) as ErrorMessage).code).toBe("token_invalid");
    expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false });
  });

  it("an invalid token after a login logs the session out", async () => {
    await t.start({ identitySecret: SECRET });
    const agent = await t.join({ token: await sign("billy", nowSeconds() + 60) });
    agent.token("forged.token.here");
    await eventually(async () => expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false }));
  });

  it("a token that arrives already expired shows no username: refused like an invalid one, with token_expired", async () => {
    await t.start({ identitySecret: SECRET });
    const agent = await t.join({ token: await sign("billy", nowSeconds() - 10) });
    expect(agent.welcome!.authorized).toBe(false);
    expect(((await agent.seen("error")) as ErrorMessage).code).toBe("token_expired");
    expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false });
    // Also in a token frame.
    const refreshed = agent.next("error");
    agent.token(await sign("mallory", nowSeconds() - 1));
    expect(((await refreshed) as ErrorMessage).code).toBe("token_expired");
    expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false });
  });

  it("an expired token for the sub this session already verified keeps the username, not authorized; for another sub it logs out", async () => {
    await t.start({ identitySecret: SECRET });
    const agent = await t.join({ token: await sign("billy", nowSeconds() + 60) });
    expect(await session()).toMatchObject({ username: "billy", authorized: true });
    const first = agent.next("error");
    agent.token(await sign("billy", nowSeconds() - 1));
    expect(((await first) as ErrorMessage).code).toBe("token_expired");
    expect(await session()).toMatchObject({ username: "billy", authorized: false });
    // A second page of the session arriving with billy's expired token: still billy, not authorized.
    const second = await t.join({ resume: agent.welcome!.resume, token: await sign("billy", nowSeconds() - 1) });
    expect(second.welcome!.authorized).toBe(false);
    expect(await session()).toMatchObject({ username: "billy", authorized: false, activePages: 2 });
    const other = agent.next("error");
    agent.token(await sign("alice", nowSeconds() - 1));
    expect(((await other) as ErrorMessage).code).toBe("token_expired");
    await eventually(async () => expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false }));
  });

  it("a signed token with a huge exp is clamped: details answer 200 and the expiry survives the snapshot", async () => {
    const dir = await tempDir();
    try {
      await t.start({ identitySecret: SECRET, dataDir: dir.path });
      const agent = await t.join({ token: await sign("billy", 9e15) });
      expect(agent.welcome!.authorized).toBe(true);
      const response = await fetch(`${t.url}/api/v1/sessions/${agent.welcome!.sessionId}`);
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ username: "billy", authorized: true, tokenExpiresAt: "9999-12-31T23:59:59.000Z" });
      await t.close();
      await t.start({ identitySecret: SECRET, dataDir: dir.path });
      expect(await session()).toMatchObject({ username: "billy", authorized: true });
    } finally {
      await t.close();
      await dir.remove();
    }
  });

  it("without an identity secret no token verifies: a claimed username is never shown", async () => {
    await t.start();
    const agent = await t.join({ token: await sign("billy", nowSeconds() + 60) });
    expect(((await agent.seen("error")) as ErrorMessage).code).toBe("token_invalid");
    expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false });
  });

  it("the identity is the session's: a second page sees it, a stale verification never overrides a newer token", async () => {
    await t.start({ identitySecret: SECRET });
    const first = await t.join();
    first.token(await sign("alice", nowSeconds() + 60));
    first.token(await sign("bob", nowSeconds() + 60));
    await eventually(async () => expect((await session()).username).toBe("bob"));
    const second = await t.join({ resume: first.welcome!.resume });
    expect(second.welcome!.sessionId).toBe(first.welcome!.sessionId);
    expect(await session()).toMatchObject({ username: "bob", authorized: true, activePages: 2 });
  });
});
