/**
 * Readers for the session objects the collector's HTTP API and event stream
 * deliver (`SessionInfo` from @sessionlens/shared, SPEC: the thirteen
 * `getSessionInfo` keys): they turn parsed JSON into them without trusting
 * it, so the page does not break, or show `undefined`, because one object was odd.
 */

import { isScope, SCOPES, UNAUTHENTICATED, type SessionInfo, type SessionScope } from "@sessionlens/shared";

export { SCOPES, type SessionInfo, type SessionScope };

/** The `data` of a `remove` event. */
export interface RemovedSession {
  id: string;
  reason: string;
}

export type Fields = Record<string, unknown>;

export function isFields(value: unknown): value is Fields {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function text(fields: Fields, key: string, fallback = ""): string {
  const value = fields[key];
  return typeof value === "string" ? value : fallback;
}

function count(fields: Fields, key: string): number {
  const value = fields[key];
  return typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0;
}

/** A session object from the API, or null when it has no string `id`. */
export function readSessionInfo(value: unknown): SessionInfo | null {
  if (!isFields(value)) return null;
  const id = value["id"];
  if (typeof id !== "string" || id === "") return null;
  const pageIds = Array.isArray(value["pageIds"])
    ? value["pageIds"].filter((pageId): pageId is string => typeof pageId === "string")
    : [];
  const scope = value["sessionScope"];
  return {
    userAgent: text(value, "userAgent"),
    id,
    username: text(value, "username", UNAUTHENTICATED),
    authorized: value["authorized"] === true,
    project: text(value, "project"),
    uptime: count(value, "uptime"),
    clientAddress: text(value, "clientAddress"),
    lastComm: count(value, "lastComm"),
    sessionScope: isScope(scope) ? scope : "browser",
    activePages: typeof value["activePages"] === "number" ? count(value, "activePages") : pageIds.length,
    recentBytesSent: count(value, "recentBytesSent"),
    totalBytesSent: count(value, "totalBytesSent"),
    pageIds,
  };
}

/** The `data` of a `snapshot` event: the sessions in it that can be read. */
export function readSessionList(value: unknown): SessionInfo[] {
  if (!Array.isArray(value)) return [];
  const sessions: SessionInfo[] = [];
  for (const item of value) {
    const session = readSessionInfo(item);
    if (session) sessions.push(session);
  }
  return sessions;
}

export function readRemoved(value: unknown): RemovedSession | null {
  if (!isFields(value)) return null;
  const id = value["id"];
  if (typeof id !== "string" || id === "") return null;
  return { id, reason: text(value, "reason", "ended") };
}
