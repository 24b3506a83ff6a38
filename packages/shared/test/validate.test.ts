import { describe, expect, it } from "vitest";
import { ERROR_CODES, LIMITS, exceedsDepth, validateAgentMessage, validateCollectorMessage } from "@sessionlens/shared";
import { AGENT_FRAMES, COLLECTOR_FRAMES } from "./fixtures.js";

const hello = AGENT_FRAMES[0]!;
const codeOf = (value: unknown) => {
  const result = validateAgentMessage(value);
  return result.ok ? "accepted" : result.error.code;
};

describe("validateAgentMessage", () => {
  it("accepts every frame type", () => {
    for (const frame of AGENT_FRAMES) expect(validateAgentMessage(frame)).toEqual({ ok: true, value: frame });
  });

  it("refuses what is not a plain map: not_an_object", () => {
    for (const value of [null, undefined, 1, "hello", [], [hello], new Uint8Array(3), new Date(), new Map()]) {
      expect(codeOf(value)).toBe("not_an_object");
    }
  });

  it("refuses unknown or missing types: unknown_type", () => {
    expect(codeOf({ type: "subscribe" })).toBe("unknown_type");
    expect(codeOf({ kind: "hello" })).toBe("unknown_type");
    expect(codeOf({ type: 7 })).toBe("unknown_type");
    const result = validateAgentMessage({ type: "x".repeat(1000) });
    expect(!result.ok && result.error.message.length).toBeLessThan(200);
  });

  it("refuses other protocol versions: unsupported_version", () => {
    expect(codeOf({ ...hello, v: 2 })).toBe("unsupported_version");
    expect(codeOf({ ...hello, v: 0 })).toBe("unsupported_version");
    expect(codeOf({ ...hello, v: "1" })).toBe("unsupported_version");
    const { v: _v, ...noVersion } = hello as Extract<typeof hello, { type: "hello" }>;
    expect(codeOf(noVersion)).toBe("unsupported_version");
  });

  it.each([
    ["project missing", { project: undefined }],
    ["project empty", { project: "" }],
    ["project with a control character", { project: "a\nb" }],
    ["scope unknown", { scope: "desktop" }],
    ["pageId too short", { pageId: "abc" }],
    ["pageId with a slash", { pageId: "abcdefgh/ij" }],
    ["pageId with a space", { pageId: "abcdefgh ij" }],
    ["userAgent not a string", { userAgent: 5 }],
    ["path missing", { path: undefined }],
    ["resume not a string", { resume: 12 }],
    ["token an object", { token: { sub: "billy" } }],
    ["bytes negative", { bytes: -1 }],
    ["bytes fractional", { bytes: 1.5 }],
    ["bytes NaN", { bytes: Number.NaN }],
    ["bytes Infinity", { bytes: Number.POSITIVE_INFINITY }],
    ["bytes above 2^53", { bytes: 2 ** 53 }],
    ["bytes a bigint", { bytes: 10n }],
    ["seq a string", { seq: "3" }],
    ["epoch missing", { epoch: undefined }],
  ])("refuses a wrongly-typed field: bad_field (%s)", (_name, patch) => {
    expect(codeOf({ ...hello, ...patch })).toBe("bad_field");
  });

  it.each([
    ["project", { project: "p".repeat(LIMITS.projectMaxChars + 1) }],
    ["pageId", { pageId: "a".repeat(LIMITS.pageIdMaxChars + 1) }],
    ["userAgent", { userAgent: "u".repeat(LIMITS.userAgentMaxInputChars + 1) }],
    ["path", { path: "/".repeat(LIMITS.pathMaxInputChars + 1) }],
    ["token", { token: "t".repeat(LIMITS.tokenMaxChars + 1) }],
    ["resume", { resume: "r".repeat(LIMITS.resumeMaxChars + 1) }],
  ])("refuses an over-long %s: too_large", (_name, patch) => {
    expect(codeOf({ ...hello, ...patch })).toBe("too_large");
  });

  it("keeps at most 512 characters of a user agent and 1024 of a path", () => {
    const result = validateAgentMessage({ ...hello, userAgent: "u".repeat(1000), path: "/p".repeat(1000) });
    expect(result.ok).toBe(true);
    if (!result.ok || result.value.type !== "hello") return;
    expect(result.value.userAgent).toHaveLength(LIMITS.userAgentChars);
    expect(result.value.path).toHaveLength(LIMITS.pathChars);
  });

  it("ignores unknown extra keys and never copies them", () => {
    const result = validateAgentMessage({ ...AGENT_FRAMES[2], username: "admin" });
    expect(result).toEqual({ ok: true, value: AGENT_FRAMES[2] });
  });

  it("reads no field from a prototype", () => {
    const sneaky = Object.create({ type: "heartbeat", epoch: 1, seq: 1, bytes: 1 }) as object;
    expect(codeOf(sneaky)).toBe("not_an_object");
    const inheritsNull = Object.assign(Object.create(null) as object, AGENT_FRAMES[2]);
    expect(codeOf(inheritsNull)).toBe("accepted");
  });

  it("covers every validation code it can produce", () => {
    // too_deep comes from the codec (decode) and exceedsDepth; the rest are collector rules.
    const produced = new Set([
      codeOf(null),
      codeOf({ type: "x" }),
      codeOf({ ...hello, v: 9 }),
      codeOf({ ...hello, bytes: -1 }),
      codeOf({ ...hello, project: "p".repeat(999) }),
    ]);
    expect([...produced].sort()).toEqual(["bad_field", "not_an_object", "too_large", "unknown_type", "unsupported_version"]);
    for (const code of produced) expect(ERROR_CODES).toContain(code);
  });
});

describe("validateCollectorMessage", () => {
  it("accepts every frame type", () => {
    for (const frame of COLLECTOR_FRAMES) expect(validateCollectorMessage(frame)).toEqual({ ok: true, value: frame });
  });

  it("refuses unknown types, unknown error codes and a welcome without a session", () => {
    const code = (value: unknown) => {
      const result = validateCollectorMessage(value);
      return result.ok ? "accepted" : result.error.code;
    };
    expect(code({ type: "hello" })).toBe("unknown_type");
    expect(code({ type: "error", code: "nope", message: "" })).toBe("bad_field");
    expect(code({ ...COLLECTOR_FRAMES[0], sessionId: undefined })).toBe("bad_field");
    expect(code({ type: "message", payload: 1 })).toBe("bad_field");
    expect(code("welcome")).toBe("not_an_object");
  });
});

describe("exceedsDepth", () => {
  it("measures nesting of arrays and objects", () => {
    expect(exceedsDepth(1, 0)).toBe(false);
    expect(exceedsDepth({ a: 1 }, 1)).toBe(false);
    expect(exceedsDepth({ a: { b: 1 } }, 1)).toBe(true);
    expect(exceedsDepth([[[[]]]], 4)).toBe(false);
    expect(exceedsDepth([[[[[]]]]], 4)).toBe(true);
  });

  it("handles hostile depth iteratively", () => {
    let deep: unknown = 0;
    for (let i = 0; i < 200_000; i++) deep = [deep];
    expect(exceedsDepth(deep, 32)).toBe(true);
  });
});
