import type { SessionInfo } from "@sessionlens/shared";
import type { SessionRecord } from "../sessions/records.js";
import type { DeviceInfo } from "../sessions/useragent.js";

/** The thirteen keys of SPEC.md, in order, as of `now`. */
export function toSessionInfo(record: SessionRecord, now: number): SessionInfo {
  return {
    userAgent: record.userAgent,
    id: record.id,
    username: record.username,
    authorized: record.authorized,
    project: record.project,
    uptime: Math.max(0, now - record.createdAt),
    clientAddress: record.clientAddress,
    lastComm: Math.max(0, now - record.lastCommAt),
    sessionScope: record.scope,
    activePages: record.pages.size,
    recentBytesSent: record.recentBytesSent,
    totalBytesSent: record.totalBytesSent,
    pageIds: Array.from(record.pages.keys()),
  };
}

/** Details of one session for `GET /api/v1/sessions/:id` and the status page. */
export interface SessionDetails extends SessionInfo {
  createdAt: string;
  lastCommAt: string;
  /** Parsed from the user agent (ua-parser-js). */
  device: DeviceInfo;
  /** Verified token expiry, ISO time, or null. */
  tokenExpiresAt: string | null;
  /** Bytes of pages that already closed. */
  closedPagesBytes: number;
  pages: PageDetails[];
}

export interface PageDetails {
  id: string;
  /** The collector holding the page's socket (several collectors sharing Redis only). */
  node?: string;
  path: string;
  bytes: number;
  connected: boolean;
  openedAt: string;
  connectedAt: string;
  disconnectedAt: string | null;
}

export function toSessionDetails(record: SessionRecord, now: number, device: DeviceInfo): SessionDetails {
  return {
    ...toSessionInfo(record, now),
    createdAt: iso(record.createdAt),
    lastCommAt: iso(record.lastCommAt),
    device,
    tokenExpiresAt: record.tokenExpiresAt === null ? null : iso(record.tokenExpiresAt),
    closedPagesBytes: record.closedPagesBytes,
    pages: Array.from(record.pages.values(), (page) => ({
      id: page.id,
      ...("node" in page && typeof page.node === "string" ? { node: page.node } : {}),
      path: page.path,
      bytes: Math.min(page.earlierBytes + page.epochBytes, Number.MAX_SAFE_INTEGER),
      connected: page.disconnectedAt === null,
      openedAt: iso(page.openedAt),
      connectedAt: iso(page.connectedAt),
      disconnectedAt: page.disconnectedAt === null ? null : iso(page.disconnectedAt),
    })),
  };
}

/** The latest time `Date` can format. */
const MAX_DATE_MS = 8_640_000_000_000_000;

/** ISO time of `ms`, clamped to what `Date` can format (never a RangeError from a bad stored value). */
function iso(ms: number): string {
  const safe = Number.isFinite(ms) ? Math.min(Math.max(ms, -MAX_DATE_MS), MAX_DATE_MS) : 0;
  return new Date(safe).toISOString();
}
