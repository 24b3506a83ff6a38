import { describe, expect, it } from "vitest";
import { toSessionInfo } from "../../src/query/info.js";
import { SessionJson } from "../../src/query/json.js";
import type { PageRecord, SessionRecord } from "../../src/sessions/records.js";

function page(id: string): PageRecord {
  return { id, path: "/", epoch: 1, seq: 1, epochBytes: 10, earlierBytes: 0, openedAt: 1_000, connectedAt: 1_000, disconnectedAt: null };
}

function session(overrides: Partial<SessionRecord> = {}): SessionRecord {
  return {
    id: "s-1",
    project: "MyProject",
    createdAt: 1_000,
    userAgent: 'Mozilla/5.0 "quoted" \\ back\nslash ünïcödé \u2028',
    clientAddress: "127.0.0.1",
    scope: "browser",
    username: "billy",
    authorized: true,
    tokenExpiresAt: null,
    lastCommAt: 5_000,
    recentBytesSent: 12,
    totalBytesSent: 3_400,
    closedPagesBytes: 0,
    pages: new Map([["p-1", page("p-1")]]),
    ...overrides,
  };
}

const exact = (record: SessionRecord, now: number): string => JSON.stringify(toSessionInfo(record, now));

describe("SessionJson", () => {
  it("writes the same text as JSON.stringify(toSessionInfo()), keys in the same order", () => {
    const json = new SessionJson();
    for (const record of [
      session(),
      session({ pages: new Map(), username: "Unauthenticated", authorized: false, scope: "android" }),
      session({ pages: new Map([["a", page("a")], ["b", page("b")], ["c\"d", page("c\"d")]]) }),
      session({ createdAt: 99_000, lastCommAt: 99_000 }), // clock behind: uptime and lastComm stay 0
    ]) {
      expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
      expect(Object.keys(JSON.parse(json.stringify(record, 10_000)) as object)).toEqual(Object.keys(toSessionInfo(record, 10_000)));
    }
  });

  it("fills in times and counters on every call from the cached stable part", () => {
    const json = new SessionJson();
    const record = session();
    json.stringify(record, 10_000);
    record.totalBytesSent = 9_999;
    record.recentBytesSent = 6_599;
    record.lastCommAt = 11_000;
    expect(json.stringify(record, 12_000)).toBe(exact(record, 12_000));
  });

  it("rebuilds after invalidate(): a page that replaced another (same count) shows", () => {
    const json = new SessionJson();
    const pages = new Map([["p-1", page("p-1")]]);
    const record = session({ pages });
    json.stringify(record, 10_000);
    pages.delete("p-1");
    pages.set("p-2", page("p-2"));
    json.invalidate(record);
    expect(JSON.parse(json.stringify(record, 10_000))).toMatchObject({ pageIds: ["p-2"], activePages: 1 });
  });

  it("notices identity, address, scope and page-count changes even without invalidate()", () => {
    const json = new SessionJson();
    const record = session();
    json.stringify(record, 10_000);
    record.username = "Unauthenticated";
    record.authorized = false;
    expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
    record.clientAddress = "10.0.0.9";
    record.scope = "ios";
    record.userAgent = "another";
    expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
    (record.pages as Map<string, PageRecord>).set("p-2", page("p-2"));
    expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
  });

  it("stays exact past its cache of distinct user agents and projects", () => {
    const json = new SessionJson();
    for (let i = 0; i < 10_050; i++) {
      const record = session({ id: `s-${i}`, userAgent: `agent ${i}`, project: `P${i % 20_000}` });
      expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
    }
  });

  it("writes null, as JSON.stringify does, for a counter that is not a finite number", () => {
    const json = new SessionJson();
    const record = session({ totalBytesSent: Number.NaN });
    expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
  });
});
