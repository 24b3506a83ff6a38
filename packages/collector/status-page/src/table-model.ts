/**
 * The table's model (not the collector's session model): every session the
 * stream reported, the filtered and sorted order the table shows, and totals
 * by scope. Each change is applied in O(log n) plus at most one array splice,
 * and reports whether the table's order changed, so the view can update one
 * row instead of all.
 */
import { filterMatcher, type Matcher } from "./filter.js";
import { SCOPES, type SessionInfo, type SessionScope } from "./session.js";
import { rawLabel, type DeviceLabel } from "./device-labels.js";

export type SortKey =
  | "device"
  | "user"
  | "authorized"
  | "project"
  | "uptime"
  | "lastComm"
  | "address"
  | "scope"
  | "pages"
  | "sent";
export type SortDirection = "asc" | "desc";
export interface SortOrder {
  key: SortKey;
  direction: SortDirection;
}

export interface SessionRow {
  readonly info: SessionInfo;
  readonly device: DeviceLabel;
  /** Client clock (epoch ms) when the session was created: uptime ticks from it. */
  readonly createdAt: number;
  /** Client clock (epoch ms) of the session's last communication. */
  readonly lastCommAt: number;
  /** Lower-cased sort keys, computed once per update. */
  readonly userKey: string;
  readonly projectKey: string;
  readonly deviceKey: string;
}

export type ScopeCounts = Record<SessionScope, number>;

export interface Totals {
  sessions: number;
  pages: number;
  byScope: ScopeCounts;
}

export interface Filters {
  usernameFilter: string;
  projectFilter: string;
}

/** What one change did to the table. */
export interface Change {
  /** Rows were added, removed or reordered: the visible window must be re-bound. */
  reordered: boolean;
  /** The session is (still) shown: its row, if visible, needs refreshing. */
  shown: boolean;
}

/**
 * An upsert whose derived creation time moved by less than this keeps the old
 * one: network delay would otherwise make uptimes (and their order) jitter.
 */
export const CREATED_AT_TOLERANCE_MS = 1000;

/** A touch that moves last-comm by less than this is network jitter, not news. */
export const TOUCH_MIN_ADVANCE_MS = 250;

const emptyScopes = (): ScopeCounts => ({ browser: 0, ios: 0, android: 0, designer: 0 });
const emptyTotals = (): Totals => ({ sessions: 0, pages: 0, byScope: emptyScopes() });

const compareStrings = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
const compareNumbers = (a: number, b: number): number => a - b;

/** Ascending comparisons; "uptime" ascending is the youngest first, "lastComm" ascending the most recent first. */
const KEY_COMPARATORS: Record<SortKey, (a: SessionRow, b: SessionRow) => number> = {
  device: (a, b) => compareStrings(a.deviceKey, b.deviceKey),
  user: (a, b) => compareStrings(a.userKey, b.userKey),
  authorized: (a, b) => Number(b.info.authorized) - Number(a.info.authorized),
  project: (a, b) => compareStrings(a.projectKey, b.projectKey),
  uptime: (a, b) => compareNumbers(b.createdAt, a.createdAt),
  lastComm: (a, b) => compareNumbers(b.lastCommAt, a.lastCommAt),
  address: (a, b) => compareStrings(a.info.clientAddress, b.info.clientAddress),
  scope: (a, b) => SCOPES.indexOf(a.info.sessionScope) - SCOPES.indexOf(b.info.sessionScope),
  pages: (a, b) => compareNumbers(a.info.activePages, b.info.activePages),
  sent: (a, b) => compareNumbers(a.info.totalBytesSent, b.info.totalBytesSent),
};

/**
 * The table's order for a sort: by the column, then by age and id, so the
 * order is total and rows never swap at random.
 */
export function rowComparator({ key, direction }: SortOrder): (a: SessionRow, b: SessionRow) => number {
  const byKey = KEY_COMPARATORS[key];
  const sign = direction === "asc" ? 1 : -1;
  return (a, b) => sign * byKey(a, b) || compareNumbers(b.createdAt, a.createdAt) || compareStrings(a.info.id, b.info.id);
}

export class TableModel {
  private readonly records = new Map<string, SessionRow>();
  /** The shown (matching) records, in display order. */
  private order: SessionRow[] = [];
  private matchUser: Matcher = filterMatcher("");
  private matchProject: Matcher = filterMatcher("");
  private compare: (a: SessionRow, b: SessionRow) => number;
  private sortOrder: SortOrder;
  private filterValues: Filters = { usernameFilter: "", projectFilter: "" };
  /** Every session known. */
  readonly all: Totals = emptyTotals();
  /** The sessions the filters let through. */
  readonly shown: Totals = emptyTotals();

  /**
   * `deviceOf` gives a row's device label (the page's `DeviceLabels`, from the collector's parse);
   * by default the start of the raw user agent.
   */
  constructor(
    sort: SortOrder = { key: "uptime", direction: "asc" },
    private readonly deviceOf: (userAgent: string, sessionId: string) => DeviceLabel = rawLabel,
  ) {
    this.sortOrder = sort;
    this.compare = rowComparator(sort);
  }

  /** Number of rows the table shows. */
  get shownCount(): number {
    return this.order.length;
  }

  get size(): number {
    return this.records.size;
  }

  get sort(): SortOrder {
    return this.sortOrder;
  }

  get filters(): Filters {
    return this.filterValues;
  }

  /** The record shown at row `index`. */
  at(index: number): SessionRow | undefined {
    return this.order[index];
  }

  get(id: string): SessionRow | undefined {
    return this.records.get(id);
  }

  /** Row index of a shown session, or -1. */
  indexOf(id: string): number {
    const record = this.records.get(id);
    if (!record || !this.matches(record)) return -1;
    return this.locate(record);
  }

  /** Replaces everything with a fresh snapshot. */
  reset(sessions: readonly SessionInfo[], nowMs: number): void {
    this.records.clear();
    for (const info of sessions) {
      this.records.set(info.id, this.toRecord(info, nowMs, undefined));
    }
    this.rebuild();
  }

  setFilters(filters: Filters): void {
    this.filterValues = { ...filters };
    this.matchUser = filterMatcher(filters.usernameFilter);
    this.matchProject = filterMatcher(filters.projectFilter);
    this.rebuild();
  }

  setSort(sort: SortOrder): void {
    this.sortOrder = sort;
    this.compare = rowComparator(sort);
    this.order.sort(this.compare);
  }

  upsert(info: SessionInfo, nowMs: number): Change {
    const previous = this.records.get(info.id);
    return this.replace(previous, this.toRecord(info, nowMs, previous));
  }

  /**
   * Moves a session's last communication forward to `lastCommAt` (epoch ms)
   * when that is later than what the model has: a periodic list refresh
   * corrects times the event stream does not carry (heartbeats that change
   * nothing else), without adding, removing or rolling back anything.
   */
  touch(id: string, lastCommAt: number): Change {
    const previous = this.records.get(id);
    if (!previous || lastCommAt - previous.lastCommAt < TOUCH_MIN_ADVANCE_MS) return { reordered: false, shown: false };
    return this.replace(previous, { ...previous, lastCommAt });
  }

  private replace(previous: SessionRow | undefined, record: SessionRow): Change {
    this.records.set(record.info.id, record);
    const wasShown = previous !== undefined && this.matches(previous);
    const isShown = this.matches(record);
    if (previous) this.count(previous, -1, wasShown);
    this.count(record, 1, isShown);

    if (wasShown && isShown) {
      const index = this.locate(previous);
      if (this.fits(record, index)) {
        this.order[index] = record;
        return { reordered: false, shown: true };
      }
      this.order.splice(index, 1);
      this.order.splice(this.insertionPoint(record), 0, record);
      return { reordered: true, shown: true };
    }
    if (wasShown) this.order.splice(this.locate(previous), 1);
    if (isShown) this.order.splice(this.insertionPoint(record), 0, record);
    return { reordered: wasShown || isShown, shown: isShown };
  }

  /** Asks `deviceOf` again for the rows whose user agent is `userAgent`; true when any label changed. */
  relabel(userAgent: string): boolean {
    let changed = false;
    for (const previous of Array.from(this.records.values())) {
      if (previous.info.userAgent !== userAgent) continue;
      const device = this.deviceOf(userAgent, previous.info.id);
      if (device.label === previous.device.label) continue;
      this.replace(previous, { ...previous, device, deviceKey: device.label.toLowerCase() });
      changed = true;
    }
    return changed;
  }

  remove(id: string): Change {
    const previous = this.records.get(id);
    if (!previous) return { reordered: false, shown: false };
    this.records.delete(id);
    const wasShown = this.matches(previous);
    this.count(previous, -1, wasShown);
    if (wasShown) this.order.splice(this.locate(previous), 1);
    return { reordered: wasShown, shown: false };
  }

  private toRecord(info: SessionInfo, nowMs: number, previous: SessionRow | undefined): SessionRow {
    const createdAt = nowMs - info.uptime;
    const device = previous?.info.userAgent === info.userAgent ? previous.device : this.deviceOf(info.userAgent, info.id);
    return {
      info,
      device,
      createdAt:
        previous && Math.abs(previous.createdAt - createdAt) < CREATED_AT_TOLERANCE_MS ? previous.createdAt : createdAt,
      lastCommAt: nowMs - info.lastComm,
      userKey: info.username.toLowerCase(),
      projectKey: info.project.toLowerCase(),
      deviceKey: device.label.toLowerCase(),
    };
  }

  private matches(record: SessionRow): boolean {
    return this.matchUser(record.info.username) && this.matchProject(record.info.project);
  }

  private count(record: SessionRow, sign: 1 | -1, shown: boolean): void {
    const pages = record.info.activePages * sign;
    const scope = record.info.sessionScope;
    this.all.sessions += sign;
    this.all.pages += pages;
    this.all.byScope[scope] += sign;
    if (shown) {
      this.shown.sessions += sign;
      this.shown.pages += pages;
      this.shown.byScope[scope] += sign;
    }
  }

  private rebuild(): void {
    Object.assign(this.all, emptyTotals());
    Object.assign(this.shown, emptyTotals());
    const order: SessionRow[] = [];
    for (const record of this.records.values()) {
      const shown = this.matches(record);
      this.count(record, 1, shown);
      if (shown) order.push(record);
    }
    order.sort(this.compare);
    this.order = order;
  }

  /** Index of a record that is in `order` (binary search with its own sort keys). */
  private locate(record: SessionRow): number {
    let low = 0;
    let high = this.order.length - 1;
    while (low <= high) {
      const mid = (low + high) >>> 1;
      const other = this.order[mid]!;
      if (other === record) return mid;
      const cmp = this.compare(other, record);
      if (cmp < 0) low = mid + 1;
      else if (cmp > 0) high = mid - 1;
      else break;
    }
    // Only reachable if a record's keys changed behind the model's back.
    return this.order.indexOf(record);
  }

  private insertionPoint(record: SessionRow): number {
    let low = 0;
    let high = this.order.length;
    while (low < high) {
      const mid = (low + high) >>> 1;
      if (this.compare(this.order[mid]!, record) < 0) low = mid + 1;
      else high = mid;
    }
    return low;
  }

  /** Whether `record` can replace the one at `index` without breaking the order. */
  private fits(record: SessionRow, index: number): boolean {
    const before = this.order[index - 1];
    const after = this.order[index + 1];
    return (!before || this.compare(before, record) < 0) && (!after || this.compare(record, after) < 0);
  }
}

/**
 * Stream events waiting for the next animation frame, coalesced per session:
 * only the latest state of each matters, so a hidden tab's backlog is bounded
 * by the number of sessions, not by the number of events.
 */
export class PendingChanges {
  snapshot: SessionInfo[] | null = null;
  snapshotAt = 0;
  readonly changes = new Map<string, { info: SessionInfo; at: number } | { removed: string }>();
  /** Last-communication times from a list refresh, by session id (epoch ms). */
  readonly touches = new Map<string, number>();

  setSnapshot(sessions: SessionInfo[], nowMs: number): void {
    this.snapshot = sessions;
    this.snapshotAt = nowMs;
    this.changes.clear();
  }

  upsert(info: SessionInfo, nowMs: number): void {
    // Delete first so the change moves to the end: the map keeps arrival order.
    this.changes.delete(info.id);
    this.changes.set(info.id, { info, at: nowMs });
  }

  remove(id: string, reason: string): void {
    this.changes.delete(id);
    this.changes.set(id, { removed: reason });
  }

  touch(id: string, lastCommAt: number): void {
    this.touches.set(id, Math.max(lastCommAt, this.touches.get(id) ?? lastCommAt));
  }

  get empty(): boolean {
    return this.snapshot === null && this.changes.size === 0 && this.touches.size === 0;
  }

  clear(): void {
    this.snapshot = null;
    this.changes.clear();
    this.touches.clear();
  }
}
