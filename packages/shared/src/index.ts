export {
  PROTOCOL_VERSION,
  SCOPES,
  LIMITS,
  PAGE_ID_PATTERN,
  AGENT_MESSAGE_TYPES,
  COLLECTOR_MESSAGE_TYPES,
  ERROR_CODES,
  CLOSE_CODES,
  PERMANENT_CLOSE_CODES,
  RESTART_CLOSE_CODES,
} from "./protocol.js";
export type {
  SessionScope,
  PageCounters,
  HelloMessage,
  ReportMessage,
  HeartbeatMessage,
  TokenMessage,
  ByeMessage,
  AgentMessage,
  AgentMessageType,
  WelcomeMessage,
  ErrorMessage,
  CloseSessionMessage,
  ClosePageMessage,
  AppMessage,
  KeepaliveMessage,
  CollectorMessage,
  CollectorMessageType,
  ErrorCode,
} from "./protocol.js";
export { detectScope, isScope } from "./scope.js";
export type { ScopeHints } from "./scope.js";
export { validateAgentMessage, validateCollectorMessage, exceedsDepth, fail, isCount } from "./validate.js";
export type { ProtocolError, Validated } from "./validate.js";
export { SESSION_INFO_KEYS, UNAUTHENTICATED } from "./session.js";
export type { SessionInfo, SessionFilter } from "./session.js";
export { compileWildcard } from "./filter.js";
export type { Matcher } from "./filter.js";
