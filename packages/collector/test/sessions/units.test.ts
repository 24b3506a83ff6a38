import { describe, expect, it } from "vitest";
import { ResumeCredentials } from "../../src/sessions/credentials.js";
import { DeadlineWheel } from "../../src/sessions/wheel.js";
import { UserAgentCache } from "../../src/sessions/useragent.js";
import { parseDuration, resolveOptions } from "../../src/options.js";
import { toSessionDetails } from "../../src/query/info.js";
import type { DeviceInfo } from "../../src/sessions/useragent.js";
import type { SessionRecord } from "../../src/sessions/records.js";

describe("DeadlineWheel", () => {
  it("fires due items once, never early, and honours cancel and reschedule", () => {
    const wheel = new DeadlineWheel<string>(250);
    wheel.schedule("a", 1_000);
    wheel.schedule("b", 1_100);
    wheel.schedule("c", 5_000);
    wheel.schedule("d", 1_000);
    wheel.cancel("d");
    wheel.schedule("c", 900); // moved earlier
    expect(wheel.takeDue(899)).toEqual([]);
    expect(wheel.takeDue(1_000).sort()).toEqual(["a", "c"]);
    expect(wheel.takeDue(1_000)).toEqual([]);
    expect(wheel.takeDue(1_250)).toEqual(["b"]);
    expect(wheel.size).toBe(0);
  });
});

describe("ResumeCredentials", () => {
  const credentials = new ResumeCredentials("secret");
  const claim = { sessionId: "Uakgb_J5m9g-0JDMbcJqL", createdAt: 1_764_000_000_000, issuedAt: 1_764_000_100_000 };

  it("verifies what it issued, for the same project only", () => {
    const credential = credentials.issue("MyProject", claim);
    expect(credential.length).toBeLessThanOrEqual(512);
    expect(credentials.verify(credential, "MyProject")).toEqual(claim);
    expect(credentials.verify(credential, "Other")).toBeNull();
  });

  it("refuses tampering and other secrets", () => {
    const credential = credentials.issue("MyProject", claim);
    const [v, id, created, issued, mac] = credential.split(".");
    expect(credentials.verify([v, id, Number(created) - 1, issued, mac].join("."), "MyProject")).toBeNull();
    expect(credentials.verify([v, "another-session-id-1", created, issued, mac].join("."), "MyProject")).toBeNull();
    expect(new ResumeCredentials("other").verify(credential, "MyProject")).toBeNull();
    expect(credentials.verify("garbage", "MyProject")).toBeNull();
    expect(credentials.verify(`${credential}x`, "MyProject")).toBeNull();
  });
});

describe("UserAgentCache", () => {
  it("parses once per distinct string and shares one instance", () => {
    const cache = new UserAgentCache();
    const ua = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";
    const copy = [...ua].join("");
    expect(cache.intern(copy)).toBe(cache.intern(ua));
    const device = cache.parse(ua);
    expect(cache.parse(copy)).toBe(device);
    expect(device.browser.name).toBe("Chrome");
    expect(device.os.name).toBe("Windows");
    expect(device.summary).toBe("Chrome 131 on Windows 10");
  });
});

describe("options", () => {
  it.each([
    ["500ms", 500],
    ["15s", 15_000],
    ["2m", 120_000],
    ["1h", 3_600_000],
    ["60", 60_000],
    ["1.5", 1_500],
    ["15S", 15_000],
    ["500MS", 500],
    ["2M", 120_000],
    ["1H", 3_600_000],
  ])("parses %s", (text, ms) => expect(parseDuration(text)).toBe(ms));

  it.each(["", "soon", "-1", "0", "10 parsecs", "1e3"])("refuses %j", (text) => expect(() => parseDuration(text)).toThrow(RangeError));

  it("has the documented defaults", () => {
    const o = resolveOptions({}, "/x");
    expect(o).toMatchObject({
      host: "127.0.0.1",
      port: 8787,
      dataDir: ".sessionlens",
      sessionTimeoutMs: 60_000,
      pageGraceMs: 15_000,
      heartbeatMs: 10_000,
      idleTimeoutMs: 40_000,
      keepaliveMs: 30_000,
      snapshotIntervalMs: 2_000,
      countersIntervalMs: 10_000,
      helloTimeoutMs: 5_000,
      maxMessageBytes: 65_536,
      maxTombstones: 200_000,
      connectionRatePerIp: 50,
      connectionBurstPerIp: 500,
      allowedOrigins: [],
      trustProxy: [],
    });
    expect(() => resolveOptions({ pageGraceMs: 0 }, "/x")).toThrow(/pageGraceMs/);
  });
});

describe("session details", () => {
  it("formats out-of-range stored times without throwing (a bad expiry never turns details into a 500)", () => {
    const record: SessionRecord = {
      id: "s",
      project: "P",
      createdAt: 1_764_000_000_000,
      userAgent: "",
      clientAddress: "",
      scope: "browser",
      username: "billy",
      authorized: true,
      tokenExpiresAt: 9e18,
      lastCommAt: 1_764_000_000_000,
      recentBytesSent: 0,
      totalBytesSent: 0,
      closedPagesBytes: 0,
      pages: new Map(),
    };
    const details = toSessionDetails(record, 1_764_000_000_000, {} as DeviceInfo);
    expect(details.tokenExpiresAt).toBe("+275760-09-13T00:00:00.000Z");
  });
});
