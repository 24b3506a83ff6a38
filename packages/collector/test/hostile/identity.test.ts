// Identity and access: forged identities are never authorized, access checks hold, and knowing a
// session id gives no power over the session.
import { SignJWT, UnsecuredJWT } from "jose";
import { CLOSE_CODES } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
import { TestAgent } from "../helpers/agent.js";
import { eventually } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { expectUntouched, refusal, rejected } from "./helpers.js";

const SECRET = "identity-secret-for-hostile-tests";
const key = new TextEncoder().encode(SECRET);

describe("identity: forged tokens are never authorized", () => {
  const t = useCollector();
  const nowSeconds = () => Math.floor(t.clock.now() / 1000);

  const forgeries: [string, () => Promise<string>][] = [
    ["expired", () => new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(nowSeconds() - 10).sign(key)],
    [
      "tampered (payload swapped, signature kept)",
      async () => {
        const real = await new SignJWT({ sub: "billy" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(nowSeconds() + 600).sign(key);
        const [header, , signature] = real.split(".");
        const payload = Buffer.from(JSON.stringify({ sub: "admin", exp: nowSeconds() + 600 })).toString("base64url");
        return `${header}.${payload}.${signature}`;
      },
    ],
    ["signed with another secret", () => new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "HS256" }).setExpirationTime(nowSeconds() + 600).sign(new TextEncoder().encode("not-the-secret"))],
    ["alg: none", async () => new UnsecuredJWT({ sub: "mallory" }).setExpirationTime(nowSeconds() + 600).encode()],
    ["without exp", () => new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "HS256" }).sign(key)],
    ["HS512 instead of HS256", () => new SignJWT({ sub: "mallory" }).setProtectedHeader({ alg: "HS512" }).setExpirationTime(nowSeconds() + 600).sign(key)],
    ["not a JWT at all", async () => "mallory"],
  ];

  it.each(forgeries)("%s: Unauthenticated, not authorized", async (_name, forge) => {
    await t.start({ identitySecret: SECRET });
    const agent = await t.join({ token: await forge() });
    expect(agent.welcome!.authorized).toBe(false);
    const [session] = await t.collector.getSessionInfo();
    expect(session).toMatchObject({ username: "Unauthenticated", authorized: false });
    // Handed over later, the same.
    agent.token(await forge());
    await agent.next("error");
    expect((await t.collector.getSessionInfo())[0]).toMatchObject({ username: "Unauthenticated", authorized: false });
  });

  it("a username the agent merely claims (extra hello fields) is never shown", async () => {
    await t.start({ identitySecret: SECRET });
    const agent = await t.connect();
    agent.send({ ...agent.helloMessage(), username: "admin", sub: "admin", authorized: true });
    await Promise.race([agent.seen("welcome"), agent.closed]);
    for (const session of await t.collector.getSessionInfo()) expect(session).toMatchObject({ username: "Unauthenticated", authorized: false });
  });
});

describe("access: origins, the API token, filters", () => {
  const t = useCollector();

  it("a foreign Origin is refused at upgrade when an allow-list is set (4403 origin_not_allowed), counted", async () => {
    await t.start({ allowedOrigins: ["https://app.example.com"] });
    const ok = await t.join({}, { origin: "https://app.example.com" });
    for (const origin of ["https://evil.example.com", "https://app.example.com.evil.example", "null"]) {
      const foreign = await t.connect({ origin });
      expect(await refusal(foreign)).toEqual({ code: CLOSE_CODES.rejected, error: "origin_not_allowed" });
    }
    const none = await t.connect();
    expect((await refusal(none)).error).toBe("origin_not_allowed");
    expect(await rejected(t.collector, "origin_not_allowed")).toBe(4);
    await expectUntouched(t.collector, ok, eventually);
  });

  it("the API without its token: 401 on every /api/ route, whatever else is sent", async () => {
    await t.start({ apiToken: "the-token" });
    const agent = await t.join();
    const id = agent.welcome!.sessionId;
    const attempts: [string, RequestInit][] = [
      ["/api/v1/sessions", {}],
      [`/api/v1/sessions/${id}`, {}],
      [`/api/v1/sessions/${id}`, { method: "DELETE" }],
      [`/api/v1/sessions/${id}/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: '{"type":"x"}' }],
      ["/api/v1/events", {}],
      ["/api/v1/sessions", { headers: { authorization: "Bearer wrong-token" } }],
      ["/api/v1/sessions", { headers: { authorization: "Basic dGhlLXRva2Vu" } }],
      ["/api/v1/sessions?token=the-token", {}],
    ];
    for (const [path, init] of attempts) expect((await fetch(`${t.url}${path}`, init)).status, path).toBe(401);
    expect(agent.ws.readyState).toBe(1);
    expect((await fetch(`${t.url}/api/v1/sessions`, { headers: { authorization: "Bearer the-token" } })).status).toBe(200);
  });

  it("filters with regular-expression metacharacters match literally", async () => {
    await t.start({ identitySecret: SECRET });
    await t.join({ project: "a.b" });
    await t.join({ project: "axb" });
    await t.join({ project: "(x+)+$" });
    const projects = async (filter: string) =>
      ((await (await fetch(`${t.url}/api/v1/sessions?projectFilter=${encodeURIComponent(filter)}`)).json()) as { project: string }[]).map((s) => s.project).sort();
    expect(await projects("a.b")).toEqual(["a.b"]);
    expect(await projects("a.+")).toEqual([]);
    expect(await projects("a.*")).toEqual(["a.b"]); // only * is a wildcard: the dot is literal
    expect(await projects("(x+)+$")).toEqual(["(x+)+$"]);
    expect(await projects("[ax]xb")).toEqual([]);
    expect(await projects("a*b")).toEqual(["a.b", "axb"]);
  });
});

describe("access: a known session id without its credential", () => {
  const t = useCollector();

  it("cannot join the session, alter its counters or identity, or close it", async () => {
    await t.start({ identitySecret: SECRET });
    const owner = await t.join({ bytes: 100 });
    const { sessionId } = owner.welcome!;
    const forged = [
      sessionId,
      `1.${sessionId}.1764000000000.1764000000000.${"A".repeat(43)}`,
      `1.${sessionId}.1764000000000.1764000000000.`,
      `${owner.welcome!.resume.split(".").slice(0, 4).join(".")}.${"B".repeat(43)}`,
    ];
    for (const resume of forged) {
      const intruder = await TestAgent.join(t.wsUrl, { resume, pageId: owner.pageId, bytes: 1_000_000 });
      expect(intruder.welcome!.sessionId).not.toBe(sessionId);
      intruder.bye();
      await intruder.drop();
    }
    // A credential of the same session for another project does not work either.
    const otherProject = await TestAgent.join(t.wsUrl, { resume: owner.welcome!.resume, project: "OtherProject" });
    expect(otherProject.welcome!.sessionId).not.toBe(sessionId);
    await otherProject.drop();
    const mine = (await t.collector.getSessionInfo()).find((session) => session.id === sessionId)!;
    expect(mine).toMatchObject({ totalBytesSent: 100, pageIds: [owner.pageId], username: "Unauthenticated" });
    expect(owner.ws.readyState).toBe(1);
    await expectUntouched(t.collector, owner, eventually);
  });

  it("a spoofed X-Forwarded-For from a direct client is ignored", async () => {
    await t.start();
    const agent = await t.join({}, { headers: { "x-forwarded-for": "203.0.113.66" } });
    const details = await t.collector.getSession(agent.welcome!.sessionId);
    expect(details!.clientAddress).toBe("127.0.0.1");
    // And it does not buy another per-address allowance.
    await t.close();
    await t.start({ maxConnectionsPerIp: 1 });
    await t.join({}, { headers: { "x-forwarded-for": "203.0.113.1" } });
    const second = await t.connect({ headers: { "x-forwarded-for": "203.0.113.2" } });
    expect(await refusal(second)).toEqual({ code: CLOSE_CODES.rateLimited, error: "too_many_connections" });
  });
});
