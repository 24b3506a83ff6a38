/**
 * Reads `GET api/v1/sessions/:id`: the session plus the collector's parse of
 * its user agent, creation time and, per page, path, bytes and connection
 * times. Read defensively: fields that are missing or odd show as "—".
 */
import { labelFromParse, type DeviceLabel } from "./device-labels.js";
import { toEpochMs } from "./format.js";
import { isFields, readSessionInfo, type SessionInfo } from "./session.js";

export interface PageDetails {
  id: string;
  path: string;
  /** Bytes this page sent to the gateway, or NaN when not reported. */
  bytes: number;
  /** False while the page is in its grace period after its socket dropped. */
  connected: boolean;
  /** Epoch ms; NaN when unknown. */
  openedAt: number;
  connectedAt: number;
  disconnectedAt: number;
}

export interface SessionDetails {
  info: SessionInfo;
  /** "Chrome 131.0.0.0", "" when unknown. */
  browser: string;
  /** "Windows 10", "" when unknown. */
  os: string;
  /** "mobile · Apple iPhone", "" when unknown (desktops usually are). */
  device: string;
  engine: string;
  /** The collector's one-line summary, if it sent one. */
  summary: string;
  /** The row label the collector's parse gives (what the table shows for this user agent). */
  label: DeviceLabel;
  createdAt: number;
  lastCommAt: number;
  tokenExpiresAt: number;
  closedPagesBytes: number;
  pages: PageDetails[];
}

const str = (value: unknown): string => (typeof value === "string" ? value : "");

/** "Chrome 131.0" from `{name, version}`, or a plain string. */
function nameAndVersion(value: unknown): string {
  if (typeof value === "string") return value;
  if (!isFields(value)) return "";
  return [str(value["name"]), str(value["version"])].filter(Boolean).join(" ");
}

function deviceText(value: unknown): string {
  if (typeof value === "string") return value;
  if (!isFields(value)) return "";
  const model = [str(value["vendor"]), str(value["model"])].filter(Boolean).join(" ");
  return [str(value["type"]), model].filter(Boolean).join(" · ");
}

function readPage(value: unknown): PageDetails | null {
  if (typeof value === "string") {
    return { id: value, path: "", bytes: Number.NaN, connected: true, openedAt: NaN, connectedAt: NaN, disconnectedAt: NaN };
  }
  if (!isFields(value)) return null;
  const id = str(value["id"]) || str(value["pageId"]);
  if (!id) return null;
  const bytes = value["bytes"];
  const disconnectedAt = toEpochMs(value["disconnectedAt"]);
  return {
    id,
    path: str(value["path"]),
    bytes: typeof bytes === "number" && Number.isFinite(bytes) ? bytes : Number.NaN,
    connected: typeof value["connected"] === "boolean" ? value["connected"] : !Number.isFinite(disconnectedAt),
    openedAt: toEpochMs(value["openedAt"]),
    connectedAt: toEpochMs(value["connectedAt"]),
    disconnectedAt,
  };
}

export function readSessionDetails(value: unknown): SessionDetails | null {
  const info = readSessionInfo(value);
  if (!info || !isFields(value)) return null;
  const parsed = isFields(value["device"]) ? value["device"] : {};
  const pagesValue = value["pages"];
  const pages = Array.isArray(pagesValue)
    ? pagesValue.map(readPage).filter((page): page is PageDetails => page !== null)
    : info.pageIds.map((id) => readPage(id)!);
  const closed = value["closedPagesBytes"];
  return {
    info,
    browser: nameAndVersion(parsed["browser"]),
    os: nameAndVersion(parsed["os"]),
    device: deviceText(parsed["device"]),
    engine: nameAndVersion(parsed["engine"]),
    summary: str(parsed["summary"]),
    label: labelFromParse(info.userAgent, parsed),
    createdAt: toEpochMs(value["createdAt"]),
    lastCommAt: toEpochMs(value["lastCommAt"]),
    tokenExpiresAt: toEpochMs(value["tokenExpiresAt"]),
    closedPagesBytes: typeof closed === "number" && Number.isFinite(closed) ? closed : 0,
    pages,
  };
}
