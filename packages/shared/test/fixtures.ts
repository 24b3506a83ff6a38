import type { AgentMessage, CollectorMessage } from "@sessionlens/shared";

/** One of every frame, with realistic values; reused by the agent's interop tests. */
export const AGENT_FRAMES: AgentMessage[] = [
  {
    type: "hello",
    v: 1,
    project: "MyProject",
    scope: null,
    userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
    pageId: "V1StGXR8_Z5jdHi6B-myT",
    path: "/app/home",
    resume: null,
    token: null,
    epoch: 1_764_000_000_000,
    seq: 0,
    bytes: 0,
  },
  { type: "report", epoch: 1_764_000_000_000, seq: 7, bytes: 123_456, path: "/app/orders" },
  { type: "heartbeat", epoch: 1_764_000_000_000, seq: 8, bytes: 123_500 },
  { type: "token", token: "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJiaWxseSJ9.sig" },
  { type: "token", token: null },
  { type: "bye", epoch: 1_764_000_000_000, seq: 9, bytes: 123_540 },
];

export const COLLECTOR_FRAMES: CollectorMessage[] = [
  {
    type: "welcome",
    v: 1,
    sessionId: "Uakgb_J5m9g-0JDMbcJqL",
    resume: "1.Uakgb_J5m9g-0JDMbcJqL.1764000000000.c2lnbmF0dXJl",
    heartbeatMs: 10_000,
    idleTimeoutMs: 25_000,
    authorized: false,
  },
  { type: "error", code: "rate_limited", message: "more than 20 messages in 1 s" },
  { type: "closeSession", message: "closed by an administrator" },
  { type: "closePage", message: "" },
  { type: "message", messageType: "refresh", payload: { reason: "deploy", at: [1, 2, 3], nested: { ok: true } } },
  { type: "keepalive" },
];
