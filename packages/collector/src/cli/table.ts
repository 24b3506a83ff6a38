import type { SessionInfo } from "@sessionlens/shared";

const COLUMNS: [string, (session: SessionInfo) => string][] = [
  ["ID", (s) => s.id],
  ["USERNAME", (s) => s.username],
  ["AUTH", (s) => (s.authorized ? "yes" : "no")],
  ["PROJECT", (s) => s.project],
  ["SCOPE", (s) => s.sessionScope],
  ["PAGES", (s) => String(s.activePages)],
  ["UPTIME", (s) => formatDuration(s.uptime)],
  ["LAST COMM", (s) => formatDuration(s.lastComm)],
  ["ADDRESS", (s) => s.clientAddress],
  ["SENT", (s) => formatBytes(s.totalBytesSent)],
];

/** A plain-text table of sessions, with a totals line; agent-reported text is made printable. */
export function formatTable(sessions: SessionInfo[]): string {
  if (sessions.length === 0) return "No sessions.\n";
  const rows = sessions.map((session) => COLUMNS.map(([, cell]) => printable(cell(session))));
  const widths = COLUMNS.map(([title], i) => Math.max(title.length, ...rows.map((row) => row[i]!.length)));
  const line = (cells: string[]): string => cells.map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!))).join("  ");
  const byScope = new Map<string, number>();
  for (const session of sessions) byScope.set(session.sessionScope, (byScope.get(session.sessionScope) ?? 0) + 1);
  const scopes = Array.from(byScope, ([scope, count]) => `${count} ${scope}`).join(", ");
  const pages = sessions.reduce((sum, session) => sum + session.activePages, 0);
  return [
    line(COLUMNS.map(([title]) => title)),
    ...rows.map(line),
    "",
    `${sessions.length} session${sessions.length === 1 ? "" : "s"} (${scopes}), ${pages} page${pages === 1 ? "" : "s"}`,
    "",
  ].join("\n");
}

export function formatDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${String(seconds % 60).padStart(2, "0")}s`;
  const hours = Math.floor(minutes / 60);
  if (hours < 24) return `${hours}h ${String(minutes % 60).padStart(2, "0")}m`;
  return `${Math.floor(hours / 24)}d ${String(hours % 24).padStart(2, "0")}h`;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  const units = ["KiB", "MiB", "GiB", "TiB"];
  let value = bytes / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(1)} ${units[unit]}`;
}

/** Control characters (terminal escapes) from agents are shown escaped, never interpreted. */
export function printable(text: string): string {
  return text.replace(/[\u0000-\u001f\u007f-\u009f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`);
}
