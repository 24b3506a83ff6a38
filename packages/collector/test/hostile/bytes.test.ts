// Hostile bytes and messages: every attack gets a clear error frame or close code, is counted in
// /metrics, never throws past the socket handler, and leaves every other session untouched.
import { CLOSE_CODES, LIMITS } from "@sessionlens/shared";
import { decodeAgentMessage, encodeMessage } from "@sessionlens/shared/codec";
import fc from "fast-check";
import { Packr } from "msgpackr";
import { describe, expect, it } from "vitest";
import { UserAgentCache } from "../../src/sessions/useragent.js";
import { TestAgent } from "../helpers/agent.js";
import { eventually } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { capturingLogger, expectUntouched, refusal, rejected } from "./helpers.js";

/** Limits raised so a test can open hundreds of connections from 127.0.0.1 quickly. */
const MANY_CONNECTIONS = { connectionBurstPerIp: 100_000, connectionRatePerIp: 100_000, maxConnectionsPerIp: 100_000, maxHttpConnectionsPerIp: 100_000 };

/** Plain msgpack, like any client library: no records, extensions allowed to pass through. */
const rawPackr = new Packr({ useRecords: false, structuredClone: false, moreTypes: false, variableMapSize: true });

const heartbeat = (fields: Record<string, unknown> = {}) => ({ type: "heartbeat", epoch: 1, seq: 1, bytes: 1, ...fields });

describe("hostile bytes: frames", () => {
  const t = useCollector();

  it("a frame over the protocol cap gets too_large and close 1009; one over twice the cap is cut off with 1009", async () => {
    await t.start();
    const bystander = await t.join({ bytes: 10 });
    const over = await t.connect();
    over.sendRaw(new Uint8Array(LIMITS.maxAgentFrameBytes + 1));
    expect(await refusal(over)).toEqual({ code: CLOSE_CODES.messageTooBig, error: "too_large" });
    const far = await t.connect();
    far.sendRaw(new Uint8Array(LIMITS.maxAgentFrameBytes * 2 + 1));
    expect((await refusal(far)).code).toBe(CLOSE_CODES.messageTooBig);
    await eventually(async () => expect(await rejected(t.collector, "too_large")).toBe(2));
    await expectUntouched(t.collector, bystander, eventually);
  });

  it("a flood of tiny fragments is cut off at the frame cap (1009), counted", async () => {
    await t.start();
    const bystander = await t.join();
    const flood = await t.connect();
    const one = new Uint8Array(1);
    for (let i = 0; i < LIMITS.maxAgentFrameBytes * 2 + 10 && flood.ws.readyState === 1; i++) flood.ws.send(one, { fin: false, binary: true });
    expect((await refusal(flood)).code).toBe(CLOSE_CODES.messageTooBig);
    await eventually(async () => expect(await rejected(t.collector, "too_large")).toBe(1));
    await expectUntouched(t.collector, bystander, eventually);
  });

  it("a text frame gets bad_encoding and close 4400, counted", async () => {
    await t.start();
    const bystander = await t.join();
    const text = await t.connect();
    text.sendRaw('{"type":"hello"}');
    expect(await refusal(text)).toEqual({ code: CLOSE_CODES.badMessage, error: "bad_encoding" });
    expect(await rejected(t.collector, "bad_encoding")).toBe(1);
    await expectUntouched(t.collector, bystander, eventually);
  });
});

describe("hostile bytes: decoder bombs", () => {
  const t = useCollector();

  const bombs: [string, Uint8Array][] = [
    ["array32 declaring 4 billion items", Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff, 0x01])],
    ["map32 declaring 4 billion entries", Uint8Array.from([0xdf, 0xff, 0xff, 0xff, 0xff, 0xa1, 0x61, 0x01])],
    ["str32 declaring 4 GB", Uint8Array.from([0xdb, 0xff, 0xff, 0xff, 0xff, 0x61])],
    ["bin32 declaring 4 GB", Uint8Array.from([0xc6, 0xff, 0xff, 0xff, 0xff, 0x00])],
    ["ext32 declaring 4 GB", Uint8Array.from([0xc9, 0xff, 0xff, 0xff, 0xff, 0x05, 0x00])],
    ["nested array headers to the frame cap", new Uint8Array(LIMITS.maxAgentFrameBytes).fill(0x91)],
    ["nested map headers", Uint8Array.from({ length: 4_000 }, (_, i) => (i % 2 === 0 ? 0x81 : 0xa0))],
    ["an unknown extension type", Uint8Array.from([0xd4, 0x42, 0x00])],
    ["a timestamp extension", Uint8Array.from([0xd6, 0xff, 0x00, 0x00, 0x00, 0x01])],
    ["reserved byte 0xc1", Uint8Array.from([0xc1])],
    ["overlong UTF-8 in a string", Uint8Array.from([0x81, 0xa4, 0x74, 0x79, 0x70, 0x65, 0xa2, 0xc0, 0xaf])],
    ["a float where a count goes", rawPackr.pack(heartbeat({ bytes: 1.5 }))],
  ];

  it.each(bombs)("%s: refused with an error frame and a close code, counted, nobody else disturbed", async (_name, bytes) => {
    const { logger, errors } = capturingLogger();
    await t.start({ logger });
    const bystander = await t.join({ bytes: 3 });
    const attacker = await t.connect();
    attacker.sendRaw(bytes);
    const { code, error } = await refusal(attacker);
    expect([CLOSE_CODES.badMessage, CLOSE_CODES.messageTooBig]).toContain(code);
    expect(error).not.toBeNull();
    expect(await rejected(t.collector, error!)).toBe(1);
    expect(errors()).toEqual([]); // nothing escaped the handler
    await expectUntouched(t.collector, bystander, eventually);
  });

  it("100,000-deep nesting (over the frame cap) and 8,000-deep (under it) are refused", async () => {
    await t.start();
    const bystander = await t.join();
    for (const depth of [100_000, 8_000]) {
      const attacker = await t.connect();
      attacker.sendRaw(new Uint8Array(depth).fill(0x91));
      const { code } = await refusal(attacker);
      expect([CLOSE_CODES.badMessage, CLOSE_CODES.messageTooBig]).toContain(code);
    }
    await expectUntouched(t.collector, bystander, eventually);
  });

  it("__proto__ and constructor keys are refused or ignored, and never pollute prototypes", async () => {
    await t.start();
    const bystander = await t.join();
    const agent = await t.join();
    const poisoned = rawPackr.pack({ type: "heartbeat", epoch: agent.epoch, seq: 100, bytes: 5, constructor: { prototype: { polluted: 1 } } });
    // msgpackr writes "__proto__" as an ordinary key; build it by hand.
    const proto = Uint8Array.from([0x84, 0xa4, ...Buffer.from("type"), 0xa9, ...Buffer.from("heartbeat"), 0xa9, ...Buffer.from("__proto__"), 0x81, 0xa8, ...Buffer.from("polluted"), 0x01, 0xa5, ...Buffer.from("epoch"), 0x01, 0xa3, ...Buffer.from("seq"), 0x01]);
    agent.sendRaw(poisoned);
    const other = await t.join();
    other.sendRaw(proto);
    await refusal(other).catch(() => null);
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    expect((Object.prototype as Record<string, unknown>)["polluted"]).toBeUndefined();
    await expectUntouched(t.collector, bystander, eventually);
  });

  it("every truncation of every valid message is refused or harmless; counters stay whole", async () => {
    const { logger, errors } = capturingLogger();
    await t.start({ ...MANY_CONNECTIONS, logger });
    const bystander = await t.join({ bytes: 1 });
    const probe = await TestAgent.connect(t.wsUrl);
    const hello = encodeMessage(probe.helloMessage({ userAgent: "Mozilla/5.0 truncation test", path: "/a/b" }));
    await probe.drop();
    for (let length = 1; length < hello.length; length++) {
      const agent = await t.connect();
      agent.sendRaw(hello.subarray(0, length));
      expect((await refusal(agent)).error, `hello cut at ${length}`).not.toBeNull();
    }
    const session = await t.join({ bytes: 50 });
    const others = [
      encodeMessage({ type: "heartbeat", epoch: session.epoch, seq: 1_000, bytes: 60 }),
      encodeMessage({ type: "report", epoch: session.epoch, seq: 1_001, bytes: 70, path: "/x" }),
      encodeMessage({ type: "token", token: "a.b.c" }),
      encodeMessage({ type: "bye", epoch: session.epoch, seq: 1_002, bytes: 80 }),
    ];
    for (const frame of others) {
      for (let length = 1; length < frame.length; length++) {
        // The same second page each time (a new page id per try would hit the page cap).
        const agent = await t.join({ resume: session.welcome!.resume, pageId: "truncation-probe" });
        agent.sendRaw(frame.subarray(0, length));
        const { error } = await refusal(agent);
        expect(error, `${frame.length}-byte frame cut at ${length}`).not.toBeNull();
      }
    }
    const [listed] = (await t.collector.getSessionInfo()).filter((info) => info.id === session.welcome!.sessionId);
    expect(Number.isSafeInteger(listed!.totalBytesSent)).toBe(true);
    expect(listed!.totalBytesSent).toBe(50);
    expect(errors()).toEqual([]);
    await expectUntouched(t.collector, bystander, eventually);
  }, 60_000);
});

describe("hostile bytes: memory", () => {
  const t = useCollector();

  it("a barrage of 1,500 hostile connections leaves RSS bounded and every refusal counted", async () => {
    await t.start(MANY_CONNECTIONS);
    const bystander = await t.join();
    const payloads = [
      new Uint8Array(LIMITS.maxAgentFrameBytes + 1),
      Uint8Array.from([0xdd, 0xff, 0xff, 0xff, 0xff]),
      new Uint8Array(LIMITS.maxAgentFrameBytes).fill(0x91),
      Uint8Array.from([0xc1]),
    ];
    const rssBefore = process.memoryUsage().rss;
    for (let batch = 0; batch < 15; batch++) {
      await Promise.all(
        Array.from({ length: 100 }, async (_, i) => {
          const agent = await TestAgent.connect(t.wsUrl);
          agent.sendRaw(payloads[(batch + i) % payloads.length]!);
          await agent.closed;
        }),
      );
    }
    const values = (await t.collector.metrics.getSingleMetric("sessionlens_messages_rejected_total")!.get()).values;
    expect(values.reduce((sum, value) => sum + value.value, 0)).toBe(1_500);
    // Client and collector share this process: both sides together stay well under 150 MB more.
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * 1024 * 1024);
    await expectUntouched(t.collector, bystander, eventually);
  }, 60_000);
});

describe("hostile bytes: property-based (fast-check)", () => {
  const t = useCollector();

  it("arbitrary msgpack values and byte strings: accepted as a well-typed message or refused, never a throw; counters never down or NaN", async () => {
    const { logger, errors } = capturingLogger();
    await t.start({ ...MANY_CONNECTIONS, maxMessagesPerWindow: 100_000, logger });
    const bystander = await t.join({ bytes: 1 });
    const victim = await t.join({ bytes: 10 });
    let lastTotal = 10;
    const frame = fc.oneof(
      fc.uint8Array({ minLength: 1, maxLength: 300 }),
      fc.anything({ maxDepth: 4, withNullPrototype: true, withObjectString: true }).map((value) => rawPackr.pack(value) as Uint8Array),
      fc
        .record({
          type: fc.constantFrom("hello", "heartbeat", "report", "token", "bye", "nope"),
          epoch: fc.oneof(fc.integer(), fc.double(), fc.constant(victim.epoch), fc.string()),
          seq: fc.oneof(fc.nat(), fc.double(), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })),
          bytes: fc.oneof(fc.nat(), fc.integer({ min: -10, max: Number.MAX_SAFE_INTEGER }), fc.double()),
          path: fc.oneof(fc.string(), fc.constant(null), fc.integer()),
        }, { requiredKeys: ["type"] })
        .map((value) => rawPackr.pack(value) as Uint8Array),
    );
    await fc.assert(
      fc.asyncProperty(frame, fc.boolean(), async (bytes, afterHello) => {
        const agent = afterHello ? await t.join({ resume: victim.welcome!.resume, pageId: "property-probe" }) : await t.connect();
        agent.sendRaw(bytes);
        // A ping after it: its pong (or the close) says the collector is done with the frame, since
        // ws handles frames in order. Refused: an error frame, then the close. Otherwise the frame
        // must have been a well-typed message (a hello on a fresh socket may be welcomed).
        await Promise.race([agent.closed, new Promise<void>((resolve) => (agent.ws.once("pong", () => resolve()), agent.ws.ping()))]);
        if (agent.frames.some((received) => received.type === "error")) {
          expect((await agent.closed).code).toBeGreaterThanOrEqual(1000);
        } else {
          expect(decodeAgentMessage(bytes).ok, "a frame that was not refused must be a valid message").toBe(true);
          await agent.drop();
        }
        const [session] = (await t.collector.getSessionInfo()).filter((info) => info.id === victim.welcome!.sessionId);
        if (session !== undefined) {
          expect(Number.isSafeInteger(session.totalBytesSent)).toBe(true);
          expect(session.totalBytesSent).toBeGreaterThanOrEqual(lastTotal);
          lastTotal = session.totalBytesSent;
        }
      }),
      { numRuns: 150 },
    );
    expect(errors()).toEqual([]);
    await expectUntouched(t.collector, bystander, eventually);
  }, 120_000);
});

describe("hostile messages: wrong types and out-of-range values", () => {
  const t = useCollector();
  const wrong: unknown[] = [-1, 1.5, Number.MAX_SAFE_INTEGER + 2, "1", null, true, [], {}, "x".repeat(5_000)];

  it.each(["epoch", "seq", "bytes"])("hello.%s: every wrong value is refused with bad_field", async (field) => {
    await t.start(MANY_CONNECTIONS);
    const bystander = await t.join();
    for (const value of wrong) {
      const agent = await t.connect();
      agent.send({ ...agent.helloMessage(), [field]: value });
      expect(await refusal(agent), `${field}: ${JSON.stringify(value)?.slice(0, 20)}`).toEqual({ code: CLOSE_CODES.badMessage, error: "bad_field" });
    }
    await expectUntouched(t.collector, bystander, eventually);
  });

  it.each(["project", "pageId", "userAgent", "path"])("hello.%s: wrong types are refused", async (field) => {
    await t.start(MANY_CONNECTIONS);
    const bystander = await t.join();
    for (const value of [1, null, true, [], {}, "x".repeat(5_000)]) {
      const agent = await t.connect();
      agent.send({ ...agent.helloMessage(), [field]: value });
      const { code, error } = await refusal(agent);
      expect(code, `${field}: ${JSON.stringify(value)?.slice(0, 20)}`).toBe(CLOSE_CODES.badMessage);
      expect(error).not.toBeNull();
    }
    await expectUntouched(t.collector, bystander, eventually);
  });

  it.each(["epoch", "seq", "bytes"])("heartbeat and report field %s: wrong values are refused, counters unchanged", async (field) => {
    await t.start(MANY_CONNECTIONS);
    const bystander = await t.join();
    const session = await t.join({ bytes: 40 });
    for (const type of ["heartbeat", "report"]) {
      for (const value of wrong) {
        const agent = await t.join({ resume: session.welcome!.resume, pageId: "wrong-values-probe" });
        agent.send({ type, epoch: agent.epoch, seq: 99, bytes: 41, path: "/p", [field]: value });
        expect(await refusal(agent)).toEqual({ code: CLOSE_CODES.badMessage, error: "bad_field" });
      }
    }
    const [listed] = (await t.collector.getSessionInfo()).filter((info) => info.id === session.welcome!.sessionId);
    expect(listed!.totalBytesSent).toBe(40);
    await expectUntouched(t.collector, bystander, eventually);
  });
});

describe("hostile messages: protocol order", () => {
  const t = useCollector();

  it("a message before hello: hello_required (4400)", async () => {
    await t.start();
    const agent = await t.connect();
    agent.send(heartbeat());
    expect(await refusal(agent)).toEqual({ code: CLOSE_CODES.badMessage, error: "hello_required" });
    expect(await rejected(t.collector, "hello_required")).toBe(1);
  });

  it("hello twice: duplicate_hello (4400)", async () => {
    await t.start();
    const agent = await t.join();
    agent.send(agent.helloMessage());
    expect(await refusal(agent)).toEqual({ code: CLOSE_CODES.badMessage, error: "duplicate_hello" });
    expect(await rejected(t.collector, "duplicate_hello")).toBe(1);
  });

  it("an unknown protocol version: unsupported_version (4426)", async () => {
    await t.start();
    const agent = await t.connect();
    agent.send({ ...agent.helloMessage(), v: 99 });
    expect(await refusal(agent)).toEqual({ code: CLOSE_CODES.unsupportedVersion, error: "unsupported_version" });
  });

  it(`more than ${LIMITS.pagesPerSession} pages in one session: too_many_pages (4403)`, async () => {
    await t.start(MANY_CONNECTIONS);
    const first = await t.join();
    for (let i = 1; i < LIMITS.pagesPerSession; i++) await t.join({ resume: first.welcome!.resume });
    const extra = await t.connect();
    extra.send(extra.helloMessage({ resume: first.welcome!.resume }));
    expect(await refusal(extra)).toEqual({ code: CLOSE_CODES.rejected, error: "too_many_pages" });
    expect((await t.collector.getSessionInfo())[0]!.activePages).toBe(LIMITS.pagesPerSession);
  });

  it("a page id of another session does not touch that session", async () => {
    await t.start();
    const owner = await t.join({ bytes: 500 });
    const thief = await t.join({ pageId: owner.pageId, bytes: 9_999 });
    expect(thief.welcome!.sessionId).not.toBe(owner.welcome!.sessionId);
    thief.heartbeat(1);
    await eventually(async () => {
      const sessions = await t.collector.getSessionInfo();
      const mine = sessions.find((session) => session.id === owner.welcome!.sessionId)!;
      expect(mine).toMatchObject({ totalBytesSent: 500, pageIds: [owner.pageId] });
      expect(sessions.find((session) => session.id === thief.welcome!.sessionId)!.totalBytesSent).toBe(10_000);
    });
    expect(owner.ws.readyState).toBe(1);
  });
});

describe("hostile user agents", () => {
  const t = useCollector();
  const hostile = [
    `Mozilla/5.0 (${"Linux; ".repeat(1_500)})`,
    `${"(".repeat(5_000)}${")".repeat(5_000)}`,
    `Mozilla/5.0 ${"Android ".repeat(1_300)} AppleWebKit`,
    `${"a/1.0 ".repeat(1_700)}`,
    `Mozilla/5.0 (iPhone; CPU iPhone OS ${"1_".repeat(5_000)} like Mac OS X)`,
  ];

  it("10 KB regex-hostile user agents are parsed (the test's timeout bounds the time)", () => {
    const cache = new UserAgentCache();
    for (const userAgent of hostile) {
      expect(userAgent.length).toBeGreaterThanOrEqual(10_000);
      const device = cache.parse(userAgent);
      expect(device).toBeTypeOf("object");
    }
  }, 5_000);

  it("over the wire, a 10 KB user agent is refused with bad_field and one at the input cap is kept to 512 characters", async () => {
    await t.start(MANY_CONNECTIONS);
    const bystander = await t.join();
    for (const userAgent of hostile) {
      const agent = await t.connect();
      agent.send(agent.helloMessage({ userAgent }));
      // Over the frame cap (too_large) or over the user-agent input cap (bad_field): never parsed.
      expect(["too_large", "bad_field"]).toContain((await refusal(agent)).error);
    }
    for (const userAgent of hostile.map((text) => text.slice(0, LIMITS.userAgentMaxInputChars))) {
      const agent = await t.join({ userAgent });
      const details = await t.collector.getSession(agent.welcome!.sessionId);
      expect(details!.userAgent.length).toBeLessThanOrEqual(LIMITS.userAgentChars);
    }
    await expectUntouched(t.collector, bystander, eventually);
  });
});
