import type { ErrorCode, SessionScope } from "@sessionlens/shared";
import type { PageCollection, PageRecord, SessionEndReason, SessionRecord } from "./records.js";

/** An app message prepared once by the transport for delivery to any number of pages. */
export interface PreparedMessage {
  /** Its size on the wire (checked against the message cap). */
  readonly byteLength: number;
}

/** Prepares app messages (the transport's framing, injected into the model). */
export interface MessageFramer {
  /** Throws when the payload cannot be encoded. */
  prepare(messageType: string, payload: unknown): PreparedMessage;
}

/**
 * The model's handle on one agent socket, in the model's words. The transport implements it and
 * owns the framing and the close codes; the model never encodes a frame or depends on the socket
 * library. A close started here is not reported back as the page leaving.
 */
export interface PageSocket {
  /** Whether frames can still be sent. */
  readonly open: boolean;
  /** Admits the page: its session id, resume credential and whether its identity is verified. */
  welcome(welcome: { sessionId: string; resume: string; authorized: boolean }): void;
  /** Tells the page its session was closed and closes the socket. */
  closeSession(message: string): void;
  /** Tells the page it was closed and closes the socket. */
  closePage(message: string): void;
  /** Delivers an app message prepared by the `MessageFramer`. */
  deliver(message: PreparedMessage): void;
  /** Tells the page about an error that does not close it (e.g. a refused identity token). */
  error(code: ErrorCode, message: string): void;
  /** Drops a socket that a newer connection of the same page replaced. */
  replace(): void;
}

/**
 * Times are kept as offsets from the first time this process saw: small integers that V8 stores
 * in the object itself, where a full millisecond timestamp would be a separate boxed number for
 * every field of every page. (Offsets beyond about 24 days are boxed again; values stay exact.)
 */
let timeBase: number | null = null;
function toOffset(ms: number): number {
  timeBase ??= ms;
  const offset = ms - timeBase;
  // `| 0` makes it a small integer even when computed from boxed numbers.
  return (offset | 0) === offset ? offset | 0 : offset;
}
function fromOffset(offset: number): number {
  return offset + timeBase!;
}

/** One open page. Fields are the store's `PageRecord`; the socket is runtime only. */
export class Page implements PageRecord {
  // Time fields start as null so V8 stores them as tagged values (small integers inline) rather
  // than as boxed doubles.
  #epoch: number | null = null;
  #openedAt: number | null = null;
  #connectedAt: number | null = null;
  #disconnectedAt: number | null = null;
  path: string;
  seq = -1;
  epochBytes = 0;
  earlierBytes = 0;
  socket: PageSocket | null = null;

  constructor(
    readonly id: string,
    readonly session: Session,
    path: string,
    epoch: number,
    now: number,
  ) {
    this.path = path;
    this.#epoch = toOffset(epoch);
    this.#openedAt = toOffset(now);
    this.#connectedAt = this.#openedAt;
  }

  /** The page load's counter series (the agent's page start time), kept as an offset too. */
  get epoch(): number {
    return fromOffset(this.#epoch!);
  }

  set epoch(ms: number) {
    this.#epoch = toOffset(ms);
  }

  get openedAt(): number {
    return fromOffset(this.#openedAt!);
  }

  set openedAt(ms: number) {
    this.#openedAt = toOffset(ms);
  }

  get connectedAt(): number {
    return fromOffset(this.#connectedAt!);
  }

  set connectedAt(ms: number) {
    this.#connectedAt = toOffset(ms);
  }

  get disconnectedAt(): number | null {
    return this.#disconnectedAt === null ? null : fromOffset(this.#disconnectedAt);
  }

  set disconnectedAt(ms: number | null) {
    this.#disconnectedAt = ms === null ? null : toOffset(ms);
  }

  get bytes(): number {
    return addCount(this.earlierBytes, this.epochBytes);
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

/**
 * Adds byte counts, saturating at `Number.MAX_SAFE_INTEGER`: past it a sum could no longer be
 * represented exactly (and would read back lower after a restart), and counters never go down.
 */
export function addCount(a: number, b: number): number {
  const sum = a + b;
  return sum > Number.MAX_SAFE_INTEGER ? Number.MAX_SAFE_INTEGER : sum;
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
  #createdAt: number | null = null;
  #lastCommAt: number | null = null;
  recentBytesSent = 0;
  totalBytesSent = 0;
  closedPagesBytes = 0;
  readonly pages = new PageMap();
  jsonCache: object | null = null;
  /** Bumped by every token change, so a slow verification never overrides a newer one. */
  tokenGeneration = 0;
  /**
   * How the session ends if no page comes back, from how its most recent page left: "closed" when a
   * command closed it, "ended" when it said bye (or closed its socket cleanly), "timeout" when it dropped.
   */
  endReasonIfIdle: SessionEndReason = "timeout";
  ended = false;
  #leftPages: Map<string, Page> | null = null;
  #closedPageIds: Set<string> | null = null;

  constructor(
    readonly id: string,
    readonly project: string,
    createdAt: number,
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
    this.#createdAt = toOffset(createdAt);
    this.#lastCommAt = toOffset(now);
  }

  get createdAt(): number {
    return fromOffset(this.#createdAt!);
  }

  get lastCommAt(): number {
    return fromOffset(this.#lastCommAt!);
  }

  set lastCommAt(ms: number) {
    this.#lastCommAt = toOffset(ms);
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

/**
 * The pages of one session. Most sessions have one page, and a `Map` costs a couple of hundred
 * bytes even then, so one page is held inline and a `Map` is made only for the second.
 */
export class PageMap implements PageCollection<Page> {
  #one: Page | null = null;
  #many: Map<string, Page> | null = null;

  get size(): number {
    return this.#many !== null ? this.#many.size : this.#one !== null ? 1 : 0;
  }

  get(id: string): Page | undefined {
    if (this.#many !== null) return this.#many.get(id);
    return this.#one !== null && this.#one.id === id ? this.#one : undefined;
  }

  has(id: string): boolean {
    return this.get(id) !== undefined;
  }

  set(id: string, page: Page): void {
    if (this.#many !== null) {
      this.#many.set(id, page);
    } else if (this.#one === null || this.#one.id === id) {
      this.#one = page;
    } else {
      this.#many = new Map([
        [this.#one.id, this.#one],
        [id, page],
      ]);
      this.#one = null;
    }
  }

  delete(id: string): boolean {
    if (this.#many !== null) {
      const deleted = this.#many.delete(id);
      if (this.#many.size === 1) {
        this.#one = this.#many.values().next().value!;
        this.#many = null;
      }
      return deleted;
    }
    if (this.#one !== null && this.#one.id === id) {
      this.#one = null;
      return true;
    }
    return false;
  }

  clear(): void {
    this.#one = null;
    this.#many = null;
  }

  *keys(): IterableIterator<string> {
    for (const page of this.values()) yield page.id;
  }

  *values(): IterableIterator<Page> {
    if (this.#many !== null) yield* Array.from(this.#many.values());
    else if (this.#one !== null) yield this.#one;
  }
}
