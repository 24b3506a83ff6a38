/**
 * `@sessionlens/shared/client`: what every client of a collector needs, written once: the
 * reconnect backoff, the event-stream parser and the HTTP error decoder. Kept apart from the
 * protocol entry point; the agent takes only the backoff from here (its bundle tree-shakes the rest).
 */
export { BACKOFF_MAX_MS, createBackoff } from "./backoff.js";
export type { Backoff, BackoffOptions } from "./backoff.js";
export { MAX_EVENT_CHARS, readEventStream, SseParseError, SseParser } from "./sse.js";
export type { ReadEventStreamOptions, SseEvent } from "./sse.js";
export { decodeHttpError, GENERIC_HTTP_ERROR, SessionLensHttpError } from "./http-error.js";
