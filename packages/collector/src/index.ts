export { createCollector } from "./server.js";
export type { Collector, CollectorAddress } from "./server.js";
export { DEFAULTS, parseDuration, systemClock } from "./options.js";
export type { CollectorOptions, ResolvedOptions, Clock } from "./options.js";
export { MemorySessionStore, createMemoryStore } from "./store/memory.js";
export type { MemoryStoreOptions } from "./store/memory.js";
export type {
  SessionStore,
  SessionRecord,
  PageRecord,
  Tombstone,
  SessionEndReason,
  StoreQuery,
  FieldMatcher,
  RestoredState,
} from "./store/types.js";
export { compileFilter, compileQuery, normaliseFilter, toSessionInfo } from "./query/index.js";
export type { SessionDetails, PageDetails } from "./query/index.js";
export type { DeviceInfo } from "./sessions/useragent.js";
export { CommandError } from "./sessions/model.js";
export { LIFECYCLE_EVENT_NAMES } from "./sessions/events.js";
export type { LifecycleEvents, LifecycleEventName, PageEndReason } from "./sessions/events.js";
export { STATUS_PAGE_CSP } from "./http/status-page.js";
export { HTTP_ERROR_CODES } from "./http/respond.js";
export type { HttpErrorCode } from "./http/respond.js";
export { createClient, SessionLensHttpError } from "./client.js";
export type { SessionLensClient, ClientOptions, SessionChange, SessionWatch } from "./client.js";
