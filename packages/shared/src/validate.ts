import {
  AGENT_MESSAGE_TYPES,
  COLLECTOR_MESSAGE_TYPES,
  ERROR_CODES,
  LIMITS,
  PAGE_ID_PATTERN,
  PROTOCOL_VERSION,
  type AgentMessage,
  type CollectorMessage,
  type ErrorCode,
  type PageCounters,
} from "./protocol.js";
import { isScope } from "./scope.js";

/** A precise reason why input was refused. */
export interface ProtocolError {
  code: ErrorCode;
  message: string;
}

export type Validated<T> = { ok: true; value: T } | { ok: false; error: ProtocolError };

export function fail(code: ErrorCode, message: string): { ok: false; error: ProtocolError } {
  return { ok: false, error: { code, message } };
}

/** Thrown inside the validators only; never escapes them. */
class Refusal extends Error {
  constructor(readonly code: ErrorCode, message: string) {
    super(message);
  }
}

type Fields = Record<string, unknown>;

/**
 * Turns a decoded value into a typed agent frame or a precise error. Only own
 * properties of a plain object are read, so a `__proto__` key can never supply
 * a field. Over-long user agents and paths are truncated to their caps.
 */
export function validateAgentMessage(value: unknown): Validated<AgentMessage> {
  try {
    const fields = plainObject(value);
    const type = fields["type"];
    switch (type) {
      case "hello":
        return { ok: true, value: hello(fields) };
      case "report":
        return { ok: true, value: { type, ...counters(fields), path: path(fields) } };
      case "heartbeat":
      case "bye":
        return { ok: true, value: { type, ...counters(fields) } };
      case "token":
        return { ok: true, value: { type, token: optionalString(fields, "token", LIMITS.tokenMaxChars) } };
      default:
        return unknownType(type, AGENT_MESSAGE_TYPES);
    }
  } catch (error) {
    return refused(error);
  }
}

/** Validates a frame the collector sent; used by agents and test clients. */
export function validateCollectorMessage(value: unknown): Validated<CollectorMessage> {
  try {
    const fields = plainObject(value);
    const type = fields["type"];
    switch (type) {
      case "welcome":
        return {
          ok: true,
          value: {
            type,
            v: safeInteger(fields, "v"),
            sessionId: requiredString(fields, "sessionId", 64),
            resume: requiredString(fields, "resume", LIMITS.resumeMaxChars),
            heartbeatMs: safeInteger(fields, "heartbeatMs"),
            idleTimeoutMs: safeInteger(fields, "idleTimeoutMs"),
            authorized: fields["authorized"] === true,
          },
        };
      case "error": {
        const code = fields["code"];
        if (typeof code !== "string" || !(ERROR_CODES as readonly string[]).includes(code)) {
          throw new Refusal("bad_field", "`code` is not a known error code");
        }
        return { ok: true, value: { type, code: code as ErrorCode, message: text(fields) } };
      }
      case "closeSession":
      case "closePage":
        return { ok: true, value: { type, message: text(fields) } };
      case "keepalive":
        return { ok: true, value: { type } };
      case "message":
        return {
          ok: true,
          value: {
            type,
            messageType: requiredString(fields, "messageType", LIMITS.appMessageTypeChars),
            payload: fields["payload"],
          },
        };
      default:
        return unknownType(type, COLLECTOR_MESSAGE_TYPES);
    }
  } catch (error) {
    return refused(error);
  }
}

/**
 * True when `value` nests arrays or objects deeper than `maxDepth`. Iterative,
 * so hostile input cannot overflow the stack.
 */
export function exceedsDepth(value: unknown, maxDepth: number): boolean {
  const stack: [unknown, number][] = [[value, 0]];
  let visited = 0;
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!;
    if (current === null || typeof current !== "object") continue;
    if (depth >= maxDepth) return true;
    // Shared references can make a DAG exponential to walk; bound the work.
    if (++visited > 100_000) return true;
    const children = Array.isArray(current) ? current : Object.values(current);
    for (const child of children) stack.push([child, depth + 1]);
  }
  return false;
}

// ---------------------------------------------------------------------------

function hello(fields: Fields): AgentMessage {
  const v = fields["v"];
  if (v !== PROTOCOL_VERSION) {
    throw new Refusal(
      "unsupported_version",
      `protocol version ${typeof v === "number" ? v : JSON.stringify(typeof v)} is not supported; this collector speaks ${PROTOCOL_VERSION}`,
    );
  }
  const project = requiredString(fields, "project", LIMITS.projectMaxChars);
  if (project.length === 0 || /[\u0000-\u001f\u007f]/.test(project)) {
    throw new Refusal("bad_field", "`project` must be 1 to 128 printable characters");
  }
  const scope = fields["scope"];
  if (scope != null && !isScope(scope)) {
    throw new Refusal("bad_field", "`scope` must be browser, ios, android, designer or null");
  }
  const pageId = requiredString(fields, "pageId", LIMITS.pageIdMaxChars);
  if (pageId.length < LIMITS.pageIdMinChars || !PAGE_ID_PATTERN.test(pageId)) {
    throw new Refusal(
      "bad_field",
      `\`pageId\` must be ${LIMITS.pageIdMinChars} to ${LIMITS.pageIdMaxChars} characters of A-Z a-z 0-9 _ -`,
    );
  }
  return {
    type: "hello",
    v: PROTOCOL_VERSION,
    project,
    scope: scope ?? null,
    userAgent: requiredString(fields, "userAgent", LIMITS.userAgentMaxInputChars).slice(0, LIMITS.userAgentChars),
    pageId,
    path: path(fields),
    resume: optionalString(fields, "resume", LIMITS.resumeMaxChars),
    token: optionalString(fields, "token", LIMITS.tokenMaxChars),
    ...counters(fields),
  };
}

function counters(fields: Fields): PageCounters {
  return {
    epoch: safeInteger(fields, "epoch"),
    seq: safeInteger(fields, "seq"),
    bytes: safeInteger(fields, "bytes"),
  };
}

function path(fields: Fields): string {
  return requiredString(fields, "path", LIMITS.pathMaxInputChars).slice(0, LIMITS.pathChars);
}

function text(fields: Fields): string {
  const value = fields["message"];
  return typeof value === "string" ? value.slice(0, LIMITS.messageChars) : "";
}

function plainObject(value: unknown): Fields {
  if (value === null || typeof value !== "object" || Array.isArray(value) || value instanceof Uint8Array) {
    throw new Refusal("not_an_object", "a message must be a msgpack map");
  }
  const proto: unknown = Object.getPrototypeOf(value);
  if (proto !== Object.prototype && proto !== null) {
    throw new Refusal("not_an_object", "a message must be a plain msgpack map");
  }
  // Read own properties only: nothing may come from a prototype.
  const own: Fields = Object.create(null) as Fields;
  for (const key of Object.keys(value)) own[key] = (value as Fields)[key];
  return own;
}

function requiredString(fields: Fields, key: string, maxChars: number): string {
  const value = fields[key];
  if (typeof value !== "string") throw new Refusal("bad_field", `\`${key}\` must be a string`);
  if (value.length > maxChars) throw new Refusal("too_large", `\`${key}\` is longer than ${maxChars} characters`);
  return value;
}

function optionalString(fields: Fields, key: string, maxChars: number): string | null {
  return fields[key] == null ? null : requiredString(fields, key, maxChars);
}

/** A counter, sequence number or time as the protocol allows it: a non-negative safe integer. */
export function isCount(value: unknown): value is number {
  return typeof value === "number" && Number.isSafeInteger(value) && value >= 0;
}

function safeInteger(fields: Fields, key: string): number {
  const value = fields[key];
  if (!isCount(value)) {
    throw new Refusal("bad_field", `\`${key}\` must be a non-negative safe integer`);
  }
  return value;
}

function unknownType(type: unknown, expected: readonly string[]): { ok: false; error: ProtocolError } {
  return fail(
    "unknown_type",
    typeof type === "string"
      ? `unknown message type "${clip(type)}"; expected one of ${expected.join(", ")}`
      : "message has no string `type`",
  );
}

function clip(value: string): string {
  return value.length > 40 ? `${value.slice(0, 40)}…` : value;
}

function refused(error: unknown): { ok: false; error: ProtocolError } {
  if (error instanceof Refusal) return fail(error.code, error.message);
  throw error;
}
