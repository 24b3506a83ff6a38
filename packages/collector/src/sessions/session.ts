import type { SessionScope } from "@sessionlens/shared";
import type { PageRecord, SessionRecord } from "../store/types.js";

/**
 * The model's handle on one agent socket. The transport implements it; the session model only
 * sends frames and closes, so it never depends on the socket library.
 */
export interface PageSocket {
  /** Whether frames can still be sent. */
  readonly open: boolean;
  send(frame: Uint8Array): void;
  /** Closes with a WebSocket close code (the close is not reported back as the agent leaving). */
  close(code: number, reason: string): void;
  /** Drops a socket that a newer connection of the same page replaced. */
  replace(): void;
}

/** One open page. Fields are the store's `PageRecord`; the socket is runtime only. */
export class Page implements PageRecord {
  path: string;
  epoch: number;
  seq = -1;
  epochBytes = 0;
  earlierBytes = 0;
  openedAt: number;
  connectedAt: number;
  disconnectedAt: number | null = null;
  socket: PageSocket | null = null;

  constructor(
    readonly id: string,
    readonly session: Session,
    path: string,
    epoch: number,
    now: number,
  ) {
    this.path = path;
    this.epoch = epoch;
    this.openedAt = now;
    this.connectedAt = now;
  }

  get bytes(): number {
    return this.earlierBytes + this.epochBytes;
  }

  static restore(session: Session, record: PageRecord): Page {
    const page = new Page(record.id, session, record.path, record.epoch, record.openedAt);
    page.seq = record.seq;
    page.epochBytes = record.epochBytes;
    page.earlierBytes = record.earlierBytes;
    page.connectedAt = record.connectedAt;
    page.disconnectedAt = record.disconnectedAt;
    return page;
  }
}

/** Pages that left recently, kept per session so one that comes back continues its counters. */
const LEFT_PAGES_KEPT = 32;
/** Page ids closed by command, refused when they try to come back. */
const CLOSED_PAGE_IDS_KEPT = 256;

/** One session: the store's `SessionRecord` plus what only the live model needs. */
export class Session implements SessionRecord {
  userAgent: string;
  clientAddress: string;
  scope: SessionScope;
  username: string;
  authorized = false;
  tokenExpiresAt: number | null = null;
  lastCommAt: number;
  recentBytesSent = 0;
  totalBytesSent = 0;
  closedPagesBytes = 0;
  readonly pages = new Map<string, Page>();
  /** Bumped by every token change, so a slow verification never overrides a newer one. */
  tokenGeneration = 0;
  /** Whether the most recent page to leave said bye (the session then ends as "ended", not "timeout"). */
  lastLeaveClean = false;
  ended = false;
  #leftPages: Map<string, Page> | null = null;
  #closedPageIds: Set<string> | null = null;

  constructor(
    readonly id: string,
    readonly project: string,
    readonly createdAt: number,
    userAgent: string,
    clientAddress: string,
    scope: SessionScope,
    username: string,
    now: number,
  ) {
    this.userAgent = userAgent;
    this.clientAddress = clientAddress;
    this.scope = scope;
    this.username = username;
    this.lastCommAt = now;
  }

  rememberLeftPage(page: Page): void {
    this.#leftPages ??= new Map();
    this.#leftPages.delete(page.id);
    this.#leftPages.set(page.id, page);
    if (this.#leftPages.size > LEFT_PAGES_KEPT) this.#leftPages.delete(this.#leftPages.keys().next().value!);
  }

  /** Takes back a page that left, if it is remembered. */
  takeLeftPage(pageId: string): Page | undefined {
    const page = this.#leftPages?.get(pageId);
    if (page !== undefined) this.#leftPages!.delete(pageId);
    return page;
  }

  markPageClosed(pageId: string): void {
    this.#closedPageIds ??= new Set();
    this.#closedPageIds.add(pageId);
    if (this.#closedPageIds.size > CLOSED_PAGE_IDS_KEPT) this.#closedPageIds.delete(this.#closedPageIds.values().next().value!);
    this.#leftPages?.delete(pageId);
  }

  isPageClosed(pageId: string): boolean {
    return this.#closedPageIds?.has(pageId) ?? false;
  }
}
