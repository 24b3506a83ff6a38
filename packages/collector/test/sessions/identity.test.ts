import { SignJWT, UnsecuredJWT } from "jose";
import { afterEach, describe, expect, it } from "vitest";
import type { ErrorMessage } from "@sessionlens/shared";
import { TestAgent } from "../helpers/agent.js";
import { eventually, startCollector, type TestCollector } from "../helpers/collector.js";

const SECRET = "identity-secret-for-tests";
const key = new TextEncoder().encode(SECRET);

async function sign(sub: string, expSeconds: number, secret: Uint8Array = key): Promise<string> {
  return new SignJWT({ sub }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(expSeconds).sign(secret);
}

describe("identity", () => {
  let t: TestCollector;
  const agents: TestAgent[] = [];
  const join = async (...args: Parameters<typeof TestAgent.join>) => {
    const agent = await TestAgent.join(...args);
    agents.push(agent);
    return agent;
  };
  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.drop()));
    await t?.close();
  });
  const session = async () => (await t.collector.getSessionInfo())[0]!;
  const nowSeconds = () => Math.floor(t.clock.now() / 1000);

  it("a verified token shows its sub, authorized; when it expires authorized turns false and the pages are told", async () => {
    t = await startCollector({ identitySecret: SECRET });
    const agent = await join(t.wsUrl, { token: await sign("billy", nowSeconds() + 60) });
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
    t = await startCollector({ identitySecret: SECRET });
    const agent = await join(t.wsUrl);
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
    t = await startCollector({ identitySecret: SECRET }, undefined);
    t.clock.nowMs = Date.now();
    const agent = await join(t.wsUrl, { token: await makeToken() });
    expect(agent.welcome!.authorized).toBe(false);
    expect(((await agent.seen("error")) as ErrorMessage).code).toBe("token_invalid");
    expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false });
  });

  it("an invalid token after a login logs the session out", async () => {
    t = await startCollector({ identitySecret: SECRET });
    const agent = await join(t.wsUrl, { token: await sign("billy", nowSeconds() + 60) });
    agent.token("forged.token.here");
    await eventually(async () => expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false }));
  });

  it("an already expired token shows the authentic sub, not authorized, and asks for a fresh one", async () => {
    t = await startCollector({ identitySecret: SECRET });
    const agent = await join(t.wsUrl, { token: await sign("billy", nowSeconds() - 10) });
    expect(((await agent.seen("error")) as ErrorMessage).code).toBe("token_expired");
    expect(await session()).toMatchObject({ username: "billy", authorized: false });
  });

  it("without an identity secret no token verifies: a claimed username is never shown", async () => {
    t = await startCollector();
    const agent = await join(t.wsUrl, { token: await sign("billy", nowSeconds() + 60) });
    expect(((await agent.seen("error")) as ErrorMessage).code).toBe("token_invalid");
    expect(await session()).toMatchObject({ username: "Unauthenticated", authorized: false });
  });

  it("the identity is the session's: a second page sees it, a stale verification never overrides a newer token", async () => {
    t = await startCollector({ identitySecret: SECRET });
    const first = await join(t.wsUrl);
    first.token(await sign("alice", nowSeconds() + 60));
    first.token(await sign("bob", nowSeconds() + 60));
    await eventually(async () => expect((await session()).username).toBe("bob"));
    const second = await join(t.wsUrl, { resume: first.welcome!.resume });
    expect(second.welcome!.sessionId).toBe(first.welcome!.sessionId);
    expect(await session()).toMatchObject({ username: "bob", authorized: true, activePages: 2 });
  });
});
