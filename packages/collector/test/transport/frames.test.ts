import { validateAgentMessage } from "@sessionlens/shared";
import { decodeCollectorMessage } from "@sessionlens/shared/codec";
import { describe, expect, it } from "vitest";
import { closePageFrame, closeSessionFrame, errorFrame, isHeartbeat, KEEPALIVE_FRAME, messageFramer, welcomeFrame, type EncodedMessage } from "../../src/transport/frames.js";

describe("frames the collector sends", () => {
  it("are valid collector messages, with messages clipped to the protocol's cap", () => {
    const decode = (frame: Uint8Array) => {
      const decoded = decodeCollectorMessage(frame);
      if (!decoded.ok) throw new Error(decoded.error.message);
      return decoded.value;
    };
    expect(decode(welcomeFrame({ sessionId: "s1", resume: "r", authorized: true }, 10_000, 30_000))).toEqual({
      type: "welcome",
      v: 1,
      sessionId: "s1",
      resume: "r",
      heartbeatMs: 10_000,
      idleTimeoutMs: 30_000,
      authorized: true,
    });
    expect(decode(closeSessionFrame("maintenance"))).toEqual({ type: "closeSession", message: "maintenance" });
    expect((decode(closePageFrame("x".repeat(10_000))) as { message: string }).message.length).toBeLessThan(10_000);
    expect(decode(errorFrame("token_expired", "expired"))).toEqual({ type: "error", code: "token_expired", message: "expired" });
    expect(decode(KEEPALIVE_FRAME)).toEqual({ type: "keepalive" });
    const message = messageFramer.prepare("refresh", { at: [1, 2] }) as EncodedMessage;
    expect(message.byteLength).toBe(message.frame.length);
    expect(decode(message.frame)).toEqual({ type: "message", messageType: "refresh", payload: { at: [1, 2] } });
  });
});

describe("isHeartbeat", () => {
  const nullProto = Object.assign(Object.create(null) as object, { type: "heartbeat", epoch: 1, seq: 2, bytes: 3 });
  it.each([
    [{ type: "heartbeat", epoch: 1, seq: 2, bytes: 3 }],
    [nullProto],
    [{ type: "heartbeat", epoch: 1, seq: 2, bytes: -1 }],
    [{ type: "heartbeat", epoch: 1, seq: 2.5, bytes: 3 }],
    [{ type: "heartbeat", epoch: 1, seq: 2 }],
    [{ type: "heartbeat", epoch: "1", seq: 2, bytes: 3 }],
    [{ type: "heartbeat", epoch: 1, seq: 2, bytes: Number.MAX_SAFE_INTEGER + 1 }],
    [{ type: "report", epoch: 1, seq: 2, bytes: 3, path: "/" }],
    [[1, 2, 3]],
    [null],
    ["heartbeat"],
    [new Map([["type", "heartbeat"]])],
  ])("agrees with the protocol validator on %o", (value) => {
    const validated = validateAgentMessage(value);
    expect(isHeartbeat(value)).toBe(validated.ok && validated.value.type === "heartbeat");
  });
});
