/** The table's columns, in Perspective's Sessions page order. */
import { UNAUTHENTICATED } from "@sessionlens/shared";
import { formatAgo, formatBytes, formatDuration } from "./format.js";
import type { SessionRow, SortKey } from "./table-model.js";
import type { SessionScope } from "./session.js";

export interface Column {
  key: SortKey;
  title: string;
  /** Right-aligned (numbers). */
  numeric?: boolean;
  /** The value changes with time alone: refreshed every second. */
  ticks?: boolean;
  /** Direction of the first click on the header. */
  firstDirection: "asc" | "desc";
  text(record: SessionRow, nowMs: number): string;
  /** Class of the value (badges, muted text). */
  tone?(record: SessionRow): string;
  /** Tooltip: the full value where the cell may cut it. */
  hint?(record: SessionRow): string;
}

export const SCOPE_LABELS: Record<SessionScope, string> = {
  browser: "Browser",
  ios: "iOS",
  android: "Android",
  designer: "Designer",
};

export const COLUMNS: readonly Column[] = [
  {
    key: "device",
    title: "Device",
    firstDirection: "asc",
    text: (r) => r.device.label,
    hint: (r) => r.info.userAgent,
  },
  {
    key: "user",
    title: "User",
    firstDirection: "asc",
    text: (r) => r.info.username,
    tone: (r) => (r.info.username === UNAUTHENTICATED ? "v muted" : "v"),
    hint: (r) => r.info.username,
  },
  {
    key: "authorized",
    title: "Authorized",
    firstDirection: "asc",
    text: (r) => (r.info.authorized ? "Yes" : "No"),
    tone: (r) => (r.info.authorized ? "v badge badge-yes" : "v badge badge-no"),
  },
  {
    key: "project",
    title: "Project",
    firstDirection: "asc",
    text: (r) => r.info.project,
    hint: (r) => r.info.project,
  },
  {
    key: "uptime",
    title: "Uptime",
    numeric: true,
    ticks: true,
    firstDirection: "desc",
    text: (r, now) => formatDuration(now - r.createdAt),
  },
  {
    key: "lastComm",
    title: "Last comm",
    numeric: true,
    ticks: true,
    firstDirection: "asc",
    text: (r, now) => formatAgo(now - r.lastCommAt),
  },
  {
    key: "address",
    title: "Address",
    firstDirection: "asc",
    text: (r) => r.info.clientAddress,
    tone: () => "v mono",
    hint: (r) => r.info.clientAddress,
  },
  {
    key: "scope",
    title: "Scope",
    firstDirection: "asc",
    text: (r) => SCOPE_LABELS[r.info.sessionScope],
    tone: (r) => `v badge scope-${r.info.sessionScope}`,
  },
  {
    key: "pages",
    title: "Pages",
    numeric: true,
    firstDirection: "desc",
    text: (r) => String(r.info.activePages),
  },
  {
    key: "sent",
    title: "Sent",
    numeric: true,
    firstDirection: "desc",
    text: (r) => formatBytes(r.info.totalBytesSent),
    hint: (r) => `${r.info.totalBytesSent} bytes sent to the gateway`,
  },
];
