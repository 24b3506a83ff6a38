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

  it("notices identity, address and scope changes even without invalidate()", () => {
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
  });

  it("shows a page that joined or left once invalidate() says so (the change feed does for every page change)", () => {
    // Pages are not compared on every use: reading a session's page collection for each of 100,000
    // sessions cost about 15 ms a list, and the ids of a page that replaced another need
    // invalidate() anyway.
    const json = new SessionJson();
    const record = session();
    json.stringify(record, 10_000);
    (record.pages as Map<string, PageRecord>).set("p-2", page("p-2"));
    json.invalidate(record);
    expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
    (record.pages as Map<string, PageRecord>).delete("p-1");
    json.invalidate(record);
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

  it("writes every kind of number as JSON.stringify does: 0, digits at 2^31 and past it, fractions, huge and negative values", () => {
    const json = new SessionJson();
    for (const value of [0, -0, 1, 9, 10, 99, 100, 2 ** 31 - 1, 2 ** 31, 2 ** 53 - 1, 12.5, 1e21, -3, Number.POSITIVE_INFINITY]) {
      const record = session({ totalBytesSent: value, recentBytesSent: value, createdAt: 10_000 - Math.abs(value) });
      expect(json.stringify(record, 10_000)).toBe(exact(record, 10_000));
    }
  });
});

describe("SessionJson.chunks", () => {
  const many = Array.from({ length: 2_000 }, (_, i) =>
    session({
      id: `s-${i}`,
      username: i % 3 === 0 ? "Zoë 日本 🙂" : `user-${i}`,
      createdAt: i * 997,
      lastCommAt: 2_000_000 - i,
      totalBytesSent: i * 1_234_567,
      recentBytesSent: i % 5,
      pages: new Map(Array.from({ length: i % 4 }, (_, p) => [`p-${i}-${p}`, page(`p-${i}-${p}`)] as const)),
    }),
  );
  const joined = (chunks: Iterable<Buffer>): string => Buffer.concat([...chunks]).toString("utf8");

  it("the chunks of a list are the JSON array JSON.stringify writes, in chunks of at most the chunk size", () => {
    const json = new SessionJson();
    const chunks = [...json.chunks(many, 3_000_000, undefined, 4_096)];
    expect(chunks.length).toBeGreaterThan(10);
    for (const chunk of chunks) expect(chunk.length).toBeLessThanOrEqual(4_096);
    expect(joined(chunks)).toBe(JSON.stringify(many.map((record) => toSessionInfo(record, 3_000_000))));
    expect(joined(json.chunks([], 0))).toBe("[]");
    expect(joined(json.chunks(many.slice(0, 1), 5))).toBe(JSON.stringify([toSessionInfo(many[0]!, 5)]));
  });

  it("reuses the chunks given back with release(), and only whole standard ones", () => {
    const json = new SessionJson();
    const first = [...json.chunks(many, 3_000_000)];
    expect(first.length).toBeGreaterThan(2);
    for (const chunk of first) json.release(chunk);
    const again = [...json.chunks(many, 3_000_000)];
    // The last chunk came from the pool first: given back, it is handed out first.
    expect(again[0]!.buffer).toBe(first.at(-1)!.buffer);
    expect(joined(again)).toBe(JSON.stringify(many.map((record) => toSessionInfo(record, 3_000_000))));
    // A chunk of another size is never kept.
    const small = [...json.chunks(many, 3_000_000, undefined, 4_096)];
    for (const chunk of small) json.release(chunk);
    const buffers = new Set(small.map((chunk) => chunk.buffer));
    expect([...json.chunks(many, 3_000_000)].some((chunk) => buffers.has(chunk.buffer))).toBe(false);
  });

  it("frames a list as asked (the event stream's snapshot), and gives a session larger than a chunk a chunk of its own", () => {
    const json = new SessionJson();
    const framing = { open: "event: snapshot\ndata: [", first: "\ndata: ", separator: ",\ndata: ", close: "\ndata: ]\n\n" };
    const big = session({ id: "big", pages: new Map(Array.from({ length: 100 }, (_, p) => [`page-${"x".repeat(60)}-${p}`, page(`page-${p}`)] as const)) });
    const records = [many[1]!, big, many[2]!];
    const chunks = [...json.chunks(records, 9_000, framing, 1_024)];
    expect(Math.max(...chunks.map((chunk) => chunk.length))).toBeGreaterThan(1_024);
    const texts = records.map((record) => JSON.stringify(toSessionInfo(record, 9_000)));
    expect(joined(chunks)).toBe(`event: snapshot\ndata: [\ndata: ${texts.join(",\ndata: ")}\ndata: ]\n\n`);
    expect(joined(json.chunks([], 0, framing))).toBe("event: snapshot\ndata: [\ndata: ]\n\n");
  });
});
