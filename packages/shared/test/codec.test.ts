import { describe, expect, it } from "vitest";
import { decodeAgentMessage, decodeCollectorMessage, decodeFrame, encodeMessage } from "@sessionlens/shared/codec";
import { AGENT_FRAMES, COLLECTOR_FRAMES } from "./fixtures.js";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");

describe("codec round trip", () => {
  it.each(AGENT_FRAMES.map((frame) => [frame.type, frame] as const))("agent frame %s", (_type, frame) => {
    const decoded = decodeAgentMessage(encodeMessage(frame));
    expect(decoded).toEqual({ ok: true, value: frame });
  });

  it.each(COLLECTOR_FRAMES.map((frame) => [frame.type, frame] as const))("collector frame %s", (_type, frame) => {
    const decoded = decodeCollectorMessage(encodeMessage(frame));
    expect(decoded).toEqual({ ok: true, value: frame });
  });

  it("each frame decodes on its own (no records, no shared state between frames)", () => {
    const bytes = AGENT_FRAMES.map((frame) => encodeMessage(frame));
    // Decode in reverse order: a stateful codec would fail here.
    for (let i = bytes.length - 1; i >= 0; i--) {
      expect(decodeAgentMessage(bytes[i]!)).toEqual({ ok: true, value: AGENT_FRAMES[i] });
    }
  });

  it("keeps a heartbeat under 64 bytes even with large counters", () => {
    const frame = encodeMessage({ type: "heartbeat", epoch: 1_764_000_000_000, seq: 4_000_000, bytes: 2 ** 40 });
    expect(frame.length).toBeLessThanOrEqual(64);
  });
});

describe("golden bytes", () => {
  // Frames encoded by protocol version 1. If these change, old agents break.
  const GOLDEN: Record<string, string> = {
    heartbeat: "84a474797065a9686561727462656174a565706f6368cb4279ab697e800000a373657108a56279746573ce0001e26c",
    token: "82a474797065a5746f6b656ea5746f6b656ec0",
  };

  it("encodes a heartbeat exactly as version 1 did", () => {
    expect(hex(encodeMessage(AGENT_FRAMES[2]!))).toBe(GOLDEN["heartbeat"]);
  });

  it("decodes version 1 bytes to the same frames", () => {
    expect(decodeAgentMessage(Buffer.from(GOLDEN["heartbeat"]!, "hex"))).toEqual({ ok: true, value: AGENT_FRAMES[2] });
    expect(decodeAgentMessage(Buffer.from(GOLDEN["token"]!, "hex"))).toEqual({ ok: true, value: AGENT_FRAMES[4] });
  });
});

describe("hostile bytes", () => {
  const codeOf = (bytes: Uint8Array) => {
    const result = decodeAgentMessage(bytes);
    return result.ok ? "accepted" : result.error.code;
  };

  it("rejects an empty frame", () => {
    expect(codeOf(new Uint8Array())).toBe("bad_encoding");
  });

  it("rejects a truncated frame", () => {
    const whole = encodeMessage(AGENT_FRAMES[0]!);
    for (const cut of [1, 5, 20, whole.length - 1]) {
      expect(codeOf(whole.subarray(0, cut))).toBe("bad_encoding");
    }
  });

  it("rejects trailing bytes after one value", () => {
    const frame = encodeMessage(AGENT_FRAMES[2]!);
    expect(codeOf(Buffer.concat([frame, frame]))).toBe("bad_encoding");
  });

  it("rejects huge declared lengths without allocating them", () => {
    // str32 / bin32 / array32 / map32 headers claiming 4 GiB, followed by nothing.
    for (const head of ["dbffffffff", "c6ffffffff", "ddffffffff", "dfffffffff"]) {
      expect(codeOf(Buffer.from(`${head}00`, "hex"))).toBe("bad_encoding");
    }
  });

  it("rejects deep nesting without overflowing the stack", () => {
    const depth = 100_000;
    const bytes = Buffer.alloc(depth + 1, 0x91); // fixarray(1) nested
    bytes[depth] = 0xc0;
    const code = codeOf(bytes);
    expect(["too_deep", "not_an_object"]).toContain(code);
  });

  it("rejects a nested value where a scalar is expected", () => {
    const frame = encodeMessage({ ...AGENT_FRAMES[2]!, bytes: { a: { b: 1 } } } as never);
    expect(codeOf(frame)).toBe("bad_field");
  });

  it("does not let a __proto__ key supply fields or pollute prototypes", () => {
    // {"__proto__": {"type": "heartbeat", "polluted": 1}}
    const key = (s: string) => Buffer.concat([Buffer.from([0xa0 | s.length]), Buffer.from(s)]);
    const bytes = Buffer.concat([
      Buffer.from([0x81]),
      key("__proto__"),
      Buffer.from([0x82]),
      key("type"),
      key("heartbeat"),
      key("polluted"),
      Buffer.from([0x01]),
    ]);
    expect(codeOf(bytes)).toBe("unknown_type");
    expect(({} as Record<string, unknown>)["polluted"]).toBeUndefined();
    const decoded = decodeFrame(bytes);
    expect(decoded.ok && Object.getPrototypeOf(decoded.value)).toBe(Object.prototype);
  });

  it("survives random garbage", () => {
    let seed = 42;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
    for (let i = 0; i < 2000; i++) {
      const bytes = Uint8Array.from({ length: 1 + Math.floor(random() * 64) }, () => Math.floor(random() * 256));
      const result = decodeAgentMessage(bytes);
      expect(typeof result.ok).toBe("boolean");
    }
  });
});
