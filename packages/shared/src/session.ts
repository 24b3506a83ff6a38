import type { SessionScope } from "./protocol.js";

/**
 * One session as `getSessionInfo()` returns it: exactly Perspective 8.0.7's
 * twelve keys plus `authorized` from 8.1. Times are milliseconds.
 */
export interface SessionInfo {
  /** The user agent the agent reported (at most 512 characters kept). */
  userAgent: string;
  /** The session id. */
  id: string;
  /** The `sub` of the last verified identity token, else "Unauthenticated". */
  username: string;
  /** True while that identity's token is unexpired. */
  authorized: boolean;
  project: string;
  /** Milliseconds since the session was created (continues across a collector restart). */
  uptime: number;
  /** The client's IP address, taken through trusted proxies only. */
  clientAddress: string;
  /** Milliseconds since anything was last received from any page of the session. */
  lastComm: number;
  sessionScope: SessionScope;
  /** Number of open pages, equal to `pageIds.length`. */
  activePages: number;
  /** How much the most recent report raised `totalBytesSent` (0 if it raised nothing). */
  recentBytesSent: number;
  /** Bytes all pages of the session have sent to the gateway over its whole life. */
  totalBytesSent: number;
  /** Ids of the pages open now. */
  pageIds: string[];
}

/** The thirteen keys, in SPEC order. */
export const SESSION_INFO_KEYS = [
  "userAgent",
  "id",
  "username",
  "authorized",
  "project",
  "uptime",
  "clientAddress",
  "lastComm",
  "sessionScope",
  "activePages",
  "recentBytesSent",
  "totalBytesSent",
  "pageIds",
] as const satisfies readonly (keyof SessionInfo)[];

export const UNAUTHENTICATED = "Unauthenticated";

/**
 * Filters of `getSessionInfo`: exact, case-sensitive matches where `*` matches
 * any run of characters. Missing or empty matches everything.
 */
export interface SessionFilter {
  usernameFilter?: string | undefined;
  projectFilter?: string | undefined;
}
