/**
 * The SessionLens wire protocol, version 1.
 *
 * Every frame is one msgpack map with a `type` key. Agent frames carry
 * cumulative counters (never deltas) tagged with the page's `epoch` and a
 * `seq` number, so the full state of a page can be resent at any time and the
 * collector applies it idempotently by taking the maximum.
 */

export const PROTOCOL_VERSION = 1;

/** Session scopes, as Perspective names them. */
export const SCOPES = ["browser", "ios", "android", "designer"] as const;
export type SessionScope = (typeof SCOPES)[number];

/** Caps on what an agent may send. Values beyond them are rejected or truncated as documented. */
export const LIMITS = {
  /** User agents longer than this are truncated (SPEC: at most 512 characters kept). */
  userAgentChars: 512,
  /** User agents longer than this are rejected outright rather than truncated. */
  userAgentMaxInputChars: 1024,
  pageIdMinChars: 8,
  pageIdMaxChars: 64,
  projectMaxChars: 128,
  /** Page paths longer than this are truncated. */
  pathChars: 1024,
  pathMaxInputChars: 2048,
  tokenMaxChars: 4096,
  resumeMaxChars: 512,
  /** Open pages per session; a hello beyond it is refused with `too_many_pages`. */
  pagesPerSession: 100,
  /** Error and close texts are cut to this length. */
  messageChars: 256,
  /** App message types (collector -> agent). */
  appMessageTypeChars: 128,
  /**
   * Largest agent frame a collector accepts (its WebSocket maxPayload): a hello
   * at every cap above fits; a heartbeat is under 64 bytes.
   */
  maxAgentFrameBytes: 8192,
} as const;

/** Page ids: nanoid's URL-safe alphabet. */
export const PAGE_ID_PATTERN = /^[A-Za-z0-9_-]+$/;

// ---------------------------------------------------------------------------
// agent -> collector

/** Cumulative counters of one page load. */
export interface PageCounters {
  /** Identifies one counter series of the page (the page load's start time in ms). */
  epoch: number;
  /** Increases with every frame the page sends; older frames are stale. */
  seq: number;
  /** Bytes this page has sent to the gateway since `epoch` began, cumulative. */
  bytes: number;
}

/** First frame on every connection: who we are and our full state. */
export interface HelloMessage extends PageCounters {
  type: "hello";
  /** Protocol version the agent speaks. */
  v: number;
  project: string;
  /** The agent's explicit `scope` option, or null to derive it from the user agent. */
  scope: SessionScope | null;
  userAgent: string;
  pageId: string;
  /** Page pathname (no query string). */
  path: string;
  /** Resume credential from an earlier welcome, or null. */
  resume: string | null;
  /** Identity JWT, or null. */
  token: string | null;
}

/** Full page state, sent when the path or counters change. */
export interface ReportMessage extends PageCounters {
  type: "report";
  path: string;
}

/** Liveness plus counters; kept tiny (well under 64 bytes on the wire). */
export interface HeartbeatMessage extends PageCounters {
  type: "heartbeat";
}

/** Login (a JWT) or logout (null). */
export interface TokenMessage {
  type: "token";
  token: string | null;
}

/** The page is closing cleanly: it leaves `pageIds` at once. */
export interface ByeMessage extends PageCounters {
  type: "bye";
}

export type AgentMessage = HelloMessage | ReportMessage | HeartbeatMessage | TokenMessage | ByeMessage;
export type AgentMessageType = AgentMessage["type"];
export const AGENT_MESSAGE_TYPES: readonly AgentMessageType[] = ["hello", "report", "heartbeat", "token", "bye"];

// ---------------------------------------------------------------------------
// collector -> agent

export interface WelcomeMessage {
  type: "welcome";
  v: number;
  sessionId: string;
  /** Credential to present on reconnect; shared by the tabs of this browser for this project. */
  resume: string;
  /** Send a heartbeat this often. */
  heartbeatMs: number;
  /** Treat the socket as dead when nothing has arrived for this long. */
  idleTimeoutMs: number;
  /** Whether the identity token was accepted (null when none was given). */
  authorized: boolean;
}

export interface ErrorMessage {
  type: "error";
  code: ErrorCode;
  message: string;
}

export interface CloseSessionMessage {
  type: "closeSession";
  message: string;
}

export interface ClosePageMessage {
  type: "closePage";
  message: string;
}

/** A message for the app (`agent.on("message", (type, payload) => ...)`). */
export interface AppMessage {
  type: "message";
  messageType: string;
  payload: unknown;
}

/**
 * Sent to an agent that has been sent nothing for a while (two heartbeats), so the
 * agent can tell a live socket from a half-open one (browsers hide WebSocket
 * pings from scripts). Two bytes of payload; the agent just notes it arrived.
 */
export interface KeepaliveMessage {
  type: "keepalive";
}

export type CollectorMessage =
  | WelcomeMessage
  | ErrorMessage
  | CloseSessionMessage
  | ClosePageMessage
  | AppMessage
  | KeepaliveMessage;
export type CollectorMessageType = CollectorMessage["type"];
export const COLLECTOR_MESSAGE_TYPES: readonly CollectorMessageType[] = [
  "welcome",
  "error",
  "closeSession",
  "closePage",
  "message",
  "keepalive",
];

// ---------------------------------------------------------------------------
// errors and close codes

/** Stable error codes, carried by error frames, JSON errors and metrics labels. */
export const ERROR_CODES = [
  // decoding and validation
  "bad_encoding",
  "not_an_object",
  "unknown_type",
  "unsupported_version",
  "bad_field",
  "too_deep",
  "too_large",
  // connection rules
  "hello_required",
  "hello_timeout",
  "duplicate_hello",
  "rate_limited",
  "origin_not_allowed",
  "too_many_connections",
  "too_many_pages",
  "project_not_allowed",
  "shutting_down",
  // identity
  "token_invalid",
  "token_expired",
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * WebSocket close codes. 4xxx are ours; the agent stops for good on the
 * permanent ones and reconnects with backoff on the others.
 */
export const CLOSE_CODES = {
  normal: 1000,
  /** The collector is shutting down (or the page is leaving). */
  goingAway: 1001,
  policyViolation: 1008,
  messageTooBig: 1009,
  /** The collector is restarting: reconnect after a short spread-out wait. */
  serviceRestart: 1012,
  /** The session was closed by command; do not reconnect. */
  closedSession: 4000,
  /** This page was closed by command; do not reconnect. */
  closedPage: 4001,
  /** A frame could not be decoded or validated. */
  badMessage: 4400,
  /** The collector refuses this agent for a reason that retrying will not fix. */
  rejected: 4403,
  /** No hello within the deadline. */
  helloTimeout: 4408,
  /** Too many frames too fast, or too many connections. */
  rateLimited: 4429,
  /** The agent's protocol version is not spoken here. */
  unsupportedVersion: 4426,
} as const;

/**
 * Close codes of a collector that is going away on purpose (shutdown, deploy): it refuses
 * connections for a moment, so the agent's first retry waits [backoffBaseMs, 2 · backoffBaseMs).
 */
export const RESTART_CLOSE_CODES: readonly number[] = [CLOSE_CODES.goingAway, CLOSE_CODES.serviceRestart];

/** Close codes after which an agent must not reconnect. */
export const PERMANENT_CLOSE_CODES: readonly number[] = [
  CLOSE_CODES.closedSession,
  CLOSE_CODES.closedPage,
  CLOSE_CODES.rejected,
  CLOSE_CODES.unsupportedVersion,
  CLOSE_CODES.badMessage,
];
