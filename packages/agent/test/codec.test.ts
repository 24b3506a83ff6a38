import { decode, encode } from "@msgpack/msgpack";
import type { AgentMessage, CollectorMessage } from "@sessionlens/shared";
import { decodeAgentMessage, decodeCollectorMessage, decodeFrame as collectorDecodeFrame, encodeMessage } from "@sessionlens/shared/codec";
import { describe, expect, it } from "vitest";
import { AGENT_FRAMES, COLLECTOR_FRAMES } from "../../shared/test/fixtures.js";
import { decodeFrame, encodeFrame } from "../src/codec.js";

/**
 * The agent speaks msgpack with @msgpack/msgpack, the collector with msgpackr. These prove that
 * each reads what the other writes, on the shared fixtures and on values at the edges of msgpack's
 * encodings (int widths, float64, long strings, non-ASCII, nesting, binary).
 */

const EDGE_PAYLOADS: unknown[] = [
  0,
  -1,
  127,
  128,
  255,
  256,
  65_535,
  65_536,
  2 ** 32 - 1,
  2 ** 32,
  Number.MAX_SAFE_INTEGER,
  -(2 ** 31),
  -(2 ** 53 - 1),
  0.5,
  -1.25e-7,
  1.7976931348623157e308,
  "",
  "é😀日本",
  "x".repeat(31),
  "x".repeat(32),
  "x".repeat(255),
  "x".repeat(256),
  "y".repeat(70_000),
  true,
  false,
  null,
  [],
  Array.from({ length: 20 }, (_, i) => i),
  { nested: { deeper: { list: [1, "two", { three: 3 }] } } },
  Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`k${i}`, i])),
  new Uint8Array([0, 1, 2, 255]),
];

function arrayBuffer(bytes: Uint8Array): ArrayBuffer {
  return bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer;
}

describe("agent -> collector", () => {
  it.each(AGENT_FRAMES.map((frame) => [frame.type, frame] as const))("the collector decodes the agent's %s", (_type, frame) => {
    expect(decodeAgentMessage(encodeFrame(frame))).toEqual({ ok: true, value: frame });
  });

  it("counters beyond 32 bits and at the safe-integer limit survive", () => {
    const frame: AgentMessage = { type: "heartbeat", epoch: 1_764_000_000_000, seq: 2 ** 32 + 1, bytes: Number.MAX_SAFE_INTEGER };
    expect(decodeAgentMessage(encodeFrame(frame))).toEqual({ ok: true, value: frame });
  });

  it("msgpackr reads every edge value @msgpack/msgpack writes", () => {
    for (const value of EDGE_PAYLOADS) {
      const decoded = collectorDecodeFrame(encode({ value }));
      expect(decoded.ok && (decoded.value as { value: unknown }).value, String(value).slice(0, 20)).toEqual(value);
    }
  });
});

describe("collector -> agent", () => {
  it.each(COLLECTOR_FRAMES.map((frame) => [frame.type, frame] as const))("the agent decodes the collector's %s", (_type, frame) => {
    expect(decodeFrame(arrayBuffer(encodeMessage(frame)))).toEqual(frame);
    // Node's ws may hand over a Buffer (a Uint8Array view) instead of an ArrayBuffer.
    expect(decodeFrame(encodeMessage(frame))).toEqual(frame);
  });

  it("app message payloads at every edge arrive intact", () => {
    for (const payload of EDGE_PAYLOADS) {
      const frame: CollectorMessage = { type: "message", messageType: "edge", payload };
      expect(decodeFrame(arrayBuffer(encodeMessage(frame))), String(payload).slice(0, 20)).toEqual(frame);
    }
  });

  it("@msgpack/msgpack reads every edge value msgpackr writes", () => {
    for (const value of EDGE_PAYLOADS) {
      // A plain Uint8Array, as a browser delivers it (msgpackr returns a Buffer in Node).
      const bytes = new Uint8Array(encodeMessage({ type: "message", messageType: "x", payload: value }));
      expect((decode(bytes) as { payload: unknown }).payload).toEqual(value);
    }
  });

  it("the agent's frames decode back with its own decoder the same way the collector's validator sees them", () => {
    for (const frame of COLLECTOR_FRAMES) {
      const viaAgent = decodeFrame(arrayBuffer(encode(frame)));
      const viaCollector = decodeCollectorMessage(encode(frame));
      expect(viaCollector).toEqual({ ok: true, value: viaAgent });
    }
  });

  it("returns null, never throws, for text frames, garbage, invalid frames and __proto__ keys", () => {
    expect(decodeFrame("text")).toBeNull();
    expect(decodeFrame(new Uint8Array([0xc1]))).toBeNull();
    expect(decodeFrame(new Uint8Array(0))).toBeNull();
    expect(decodeFrame(encode({ type: "welcome", v: 1 }))).toBeNull();
    expect(decodeFrame(encode({ type: "nope" }))).toBeNull();
    expect(decodeFrame(encode([1, 2, 3]))).toBeNull();
    // {"__proto__": {}, "type": "message"} written by hand.
    const proto = new Uint8Array([0x82, 0xa9, ...new TextEncoder().encode("__proto__"), 0x80, 0xa4, ...new TextEncoder().encode("type"), 0xa7, ...new TextEncoder().encode("message")]);
    expect(decodeFrame(proto)).toBeNull();
  });
});
