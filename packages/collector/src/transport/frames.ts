import { LIMITS, PROTOCOL_VERSION, isCount, type ErrorCode } from "@sessionlens/shared";
import { encodeMessage } from "@sessionlens/shared/codec";
import type { MessageFramer, PreparedMessage } from "../sessions/session.js";

/**
 * Frames the collector sends, encoded here and nowhere else (ws keeps its framing in `sender.js`;
 * the session model speaks in `PageSocket` calls).
 */

export interface WelcomeFields {
  sessionId: string;
  resume: string;
  authorized: boolean;
}

export function welcomeFrame(fields: WelcomeFields, heartbeatMs: number, idleTimeoutMs: number): Uint8Array {
  return encodeMessage({
    type: "welcome",
    v: PROTOCOL_VERSION,
    sessionId: fields.sessionId,
    resume: fields.resume,
    heartbeatMs,
    idleTimeoutMs,
    authorized: fields.authorized,
  });
}

export function closeSessionFrame(message: string): Uint8Array {
  return encodeMessage({ type: "closeSession", message: clip(message) });
}

export function closePageFrame(message: string): Uint8Array {
  return encodeMessage({ type: "closePage", message: clip(message) });
}

export function errorFrame(code: ErrorCode, message: string): Uint8Array {
  return encodeMessage({ type: "error", code, message: clip(message) });
}

export const KEEPALIVE_FRAME: Uint8Array = encodeMessage({ type: "keepalive" });

/** An app message encoded once, sent as is to every page it is delivered to. */
export class EncodedMessage implements PreparedMessage {
  constructor(readonly frame: Uint8Array) {}

  get byteLength(): number {
    return this.frame.length;
  }
}

/** The `MessageFramer` the session model is given. */
export const messageFramer: MessageFramer = {
  prepare(messageType, payload) {
    return new EncodedMessage(encodeMessage({ type: "message", messageType, payload }));
  },
};

/** The counters of a heartbeat frame, as the fast path reads them. */
export interface HeartbeatFields {
  type?: unknown;
  epoch: number;
  seq: number;
  bytes: number;
}

/**
 * The collector's heartbeat rule: a plain map (no prototype but `Object.prototype` or none) of type
 * `heartbeat` whose `epoch`, `seq` and `bytes` are counts, as the protocol validator has it. Checked
 * on the decoded value without copying it (the hot path); whatever it refuses goes to the validator,
 * which names the problem.
 */
export function isHeartbeat(value: unknown): value is HeartbeatFields {
  if (value === null || typeof value !== "object") return false;
  const fields = value as HeartbeatFields;
  if (fields.type !== "heartbeat") return false;
  const proto: unknown = Object.getPrototypeOf(value);
  return (proto === Object.prototype || proto === null) && isCount(fields.epoch) && isCount(fields.seq) && isCount(fields.bytes);
}

function clip(message: string): string {
  return typeof message === "string" ? message.slice(0, LIMITS.messageChars) : "";
}
