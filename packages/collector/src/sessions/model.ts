import { LIMITS, UNAUTHENTICATED, detectScope, exceedsDepth } from "@sessionlens/shared";
import type { ErrorCode, HelloMessage } from "@sessionlens/shared";
import { nanoid } from "nanoid";
import type { Clock } from "../options.js";
import type { SessionPersistence } from "../store/port.js";
import type { ResumeCredentials } from "./credentials.js";
import { Changed, SessionFeed, type ChangeSet } from "./feed.js";
import type { IdentityResult, IdentityVerifier } from "./identity.js";
import { PersistenceConsumer } from "./persist.js";
import type { PageEndReason, SessionEndReason } from "./records.js";
import { addCount, Page, Session, type MessageFramer, type PageSocket, type PreparedMessage } from "./session.js";
import { SessionIndex } from "./session-index.js";
import { detach, Interner } from "./strings.js";
import type { UserAgentCache } from "./useragent.js";
import { DeadlineWheel } from "./wheel.js";

export interface SessionModelOptions {
  /** The persistence port: restored from at start, written through the change feed. */
  store: SessionPersistence;
  credentials: ResumeCredentials;
  identity: IdentityVerifier;
  userAgents: UserAgentCache;
  /** Prepares app messages for page sockets (the transport's framing). */
  framer: MessageFramer;
  clock: Clock;
  pageGraceMs: number;
  sessionTimeoutMs: number;
  resumeMaxAgeMs: number;
  maxPayloadDepth: number;
  maxMessageBytes: number;
  /** Resolution of the deadline wheels. */
  resolutionMs: number;
  log: (level: "warn" | "error" | "info", message: string, details?: Record<string, unknown>) => void;
}

/**
 * Why a hello was refused: a protocol error code, `page_closed` (the page was closed by command
 * and may not come back) or `socket_closed` (the socket went away while the hello was verified).
 */
export type HelloRefusal = ErrorCode | "page_closed" | "socket_closed";

export type HelloOutcome = { ok: true; page: Page } | { ok: false; refusal: HelloRefusal; message: string };

/** Thrown by commands on bad input; `code` is stable. */
export class CommandError extends Error {
  constructor(
    readonly code: "too_large" | "too_deep" | "bad_field",
    message: string,
  ) {
    super(message);
    this.name = "CommandError";
  }
}

/**
 * The session model: the only place that decides session state. Sockets come in through
 * `hello` / `counters` / `token` / `bye` / `disconnected`; commands through `closeSession` /
 * `closePage` / `sendMessage`; time through `tick`. It keeps this node's live sessions in its
 * `index` and publishes every change once on its `feed`, which the persistence port, the
 * lifecycle hooks, the event stream and the metrics consume.
 */
export class SessionModel {
  readonly index = new SessionIndex<Session>();
  readonly feed: SessionFeed;
  readonly #o: SessionModelOptions;
  readonly #graceWheel: DeadlineWheel<Page>;
  readonly #timeoutWheel: DeadlineWheel<Session>;
  readonly #expiryWheel: DeadlineWheel<Session>;
  readonly #projects = new Interner(10_000);
  readonly #paths = new Interner(50_000);
  #stopped = false;
  /** Whether the last `#applyCounters` applied a newer frame (a field: the hot path allocates nothing). */
  #fresh = false;

  constructor(options: SessionModelOptions) {
    this.#o = options;
    this.#graceWheel = new DeadlineWheel(options.resolutionMs);
    this.#timeoutWheel = new DeadlineWheel(options.resolutionMs);
    this.#expiryWheel = new DeadlineWheel(options.resolutionMs);
    this.feed = new SessionFeed((message, error) => options.log("error", message, { err: error }));
    // First consumer: the port has the change before anyone else reacts to it.
    this.feed.subscribe(new PersistenceConsumer(options.store, options.log));
  }

  /** Loads what the store kept: sessions come back with their pages in their grace period. */
  async start(): Promise<void> {
    const { sessions } = await this.#o.store.open();
    const now = this.#o.clock.now();
    for (const record of sessions) {
      if (this.index.has(record.id)) continue;
      const session = new Session(
        record.id,
        record.project,
        record.createdAt,
        this.#o.userAgents.intern(record.userAgent),
        record.clientAddress,
        record.scope,
        record.username,
        record.lastCommAt,
      );
      session.tokenExpiresAt = record.tokenExpiresAt;
      session.authorized = record.authorized && record.tokenExpiresAt !== null && record.tokenExpiresAt > now;
      if (session.authorized) this.#expiryWheel.schedule(session, record.tokenExpiresAt!);
      session.recentBytesSent = record.recentBytesSent;
      session.closedPagesBytes = record.closedPagesBytes;
      let pagesBytes = 0;
      for (const pageRecord of record.pages.values()) {
        const page = Page.restore(session, pageRecord);
        // Every page gets a full grace period to reconnect to the restarted collector.
        page.disconnectedAt ??= now;
        session.pages.set(page.id, page);
        pagesBytes = addCount(pagesBytes, page.bytes);
        this.#graceWheel.schedule(page, now + this.#o.pageGraceMs);
      }
      session.totalBytesSent = Math.max(record.totalBytesSent, addCount(session.closedPagesBytes, pagesBytes));
      if (session.pages.size === 0) this.#timeoutWheel.schedule(session, now + this.#o.sessionTimeoutMs);
      this.index.add(session);
      this.feed.upsert(session, Changed.created | Changed.restored, 0, null);
    }
  }

  /** Stops deciding: deadlines stop and socket closes are no longer treated as pages leaving. */
  stop(): void {
    this.#stopped = true;
    this.#graceWheel.clear();
    this.#timeoutWheel.clear();
    this.#expiryWheel.clear();
  }

  // -------------------------------------------------------------------------------------------
  // agent frames

  /**
   * Admits a page: resumes the session its credential names (same project, not ended), else
   * starts a new one; continues a known page; sends the welcome and any identity error.
   */
  async hello(socket: PageSocket, hello: HelloMessage, clientAddress: string): Promise<HelloOutcome> {
    const [identity, resumed] = await Promise.all([
      hello.token === null ? null : this.#o.identity.verify(hello.token),
      this.#findResumable(hello),
    ]);
    if (this.#stopped) return { ok: false, refusal: "shutting_down", message: "the collector is shutting down" };
    if (!socket.open) return { ok: false, refusal: "socket_closed", message: "the socket closed during hello" };

    const now = this.#o.clock.now();
    const userAgent = this.#o.userAgents.intern(hello.userAgent);
    const scope = detectScope(userAgent, hello.scope);
    const project = this.#projects.intern(hello.project);
    const path = this.#paths.intern(hello.path);
    let session: Session | undefined;
    let isNew = false;
    if (resumed !== null) {
      // Checked again after the awaits: another tab may have resumed or recreated it meanwhile.
      session = this.index.get(resumed.sessionId);
      if (session === undefined && resumed.recreate) {
        session = new Session(detach(resumed.sessionId), project, resumed.createdAt, userAgent, clientAddress, scope, UNAUTHENTICATED, now);
        isNew = true;
      }
    }
    if (session === undefined) {
      session = new Session(detach(nanoid()), project, now, userAgent, clientAddress, scope, UNAUTHENTICATED, now);
      isNew = true;
    }

    if (session.isPageClosed(hello.pageId)) return { ok: false, refusal: "page_closed", message: "this page was closed" };
    let page = session.pages.get(hello.pageId);
    if (page === undefined && session.pages.size >= LIMITS.pagesPerSession) {
      return { ok: false, refusal: "too_many_pages", message: `a session may have at most ${LIMITS.pagesPerSession} open pages` };
    }

    if (isNew) {
      this.index.add(session);
    } else {
      this.#timeoutWheel.cancel(session);
    }
    session.userAgent = userAgent;
    session.clientAddress = clientAddress;
    session.scope = scope;

    let pageIsNew = false;
    if (page === undefined) {
      page = session.takeLeftPage(hello.pageId);
      if (page !== undefined) {
        // A page that left comes back (e.g. from the back/forward cache): its bytes are open again.
        session.closedPagesBytes = Math.max(0, session.closedPagesBytes - page.bytes);
      } else {
        page = new Page(detach(hello.pageId), session, path, hello.epoch, now);
      }
      session.pages.set(page.id, page);
      pageIsNew = true;
    } else if (page.socket !== null && page.socket !== socket) {
      page.socket.replace();
    }
    page.socket = socket;
    page.connectedAt = now;
    page.disconnectedAt = null;
    this.#graceWheel.cancel(page);
    const raised = this.#applyCounters(page, hello.epoch, hello.seq, hello.bytes, now);
    page.path = path;

    socket.welcome({
      sessionId: session.id,
      resume: this.#o.credentials.issue(session.project, { sessionId: session.id, createdAt: session.createdAt, issuedAt: now }),
      authorized: identity === null ? session.authorized : identity.ok,
    });
    this.feed.upsert(
      session,
      (isNew ? Changed.created : 0) | (pageIsNew ? Changed.pageOpened : 0) | Changed.pageConnected | Changed.counters,
      raised,
      page.id,
    );
    if (identity !== null) this.#applyIdentity(session, identity, socket);
    return { ok: true, page };
  }

  /**
   * Applies a heartbeat (`path` null) or a report received at `now`: the one entry point for
   * counters, and the hot path (most frames are heartbeats), so no allocation, no I/O, no logging,
   * no timers; nothing is published when only `lastCommAt` moved.
   */
  counters(page: Page, epoch: number, seq: number, bytes: number, path: string | null, now: number): void {
    const session = page.session;
    if (session.ended || session.pages.get(page.id) !== page) return;
    const recentBefore = session.recentBytesSent;
    const raised = this.#applyCounters(page, epoch, seq, bytes, now);
    // recentBytesSent changed (rose, or dropped back to 0): consumers must see it.
    let changed: ChangeSet = session.recentBytesSent > 0 || recentBefore > 0 ? Changed.counters : 0;
    if (path !== null && this.#fresh && path !== page.path) {
      // Rare next to heartbeats, and not a counter: a structural change.
      page.path = this.#paths.intern(path);
      changed |= Changed.path;
    }
    if (changed !== 0) this.feed.upsert(session, changed, raised, null);
  }

  /** Login (a JWT) or logout (null). */
  async token(page: Page, token: string | null): Promise<void> {
    const session = page.session;
    if (session.ended) return;
    const generation = ++session.tokenGeneration;
    session.lastCommAt = this.#o.clock.now();
    if (token === null) {
      this.#setIdentity(session, UNAUTHENTICATED, false, null);
      return;
    }
    const result = await this.#o.identity.verify(token);
    if (session.ended || generation !== session.tokenGeneration || this.#stopped) return;
    this.#applyIdentity(session, result, page.socket);
  }

  /** The page is closing cleanly: it leaves at once. */
  bye(page: Page, epoch: number, seq: number, bytes: number): void {
    const session = page.session;
    if (session.ended || session.pages.get(page.id) !== page) return;
    const now = this.#o.clock.now();
    const raised = this.#applyCounters(page, epoch, seq, bytes, now);
    page.socket = null;
    this.#removePage(session, page, "bye", now, raised);
  }

  /**
   * The page's socket closed. A clean close (1000/1001 from the agent) leaves at once; a dropped
   * socket leaves after the page grace period unless the page reconnects first.
   */
  disconnected(page: Page, socket: PageSocket, clean: boolean): void {
    if (this.#stopped || page.socket !== socket) return;
    const session = page.session;
    page.socket = null;
    if (session.ended || session.pages.get(page.id) !== page) return;
    const now = this.#o.clock.now();
    if (clean) {
      this.#removePage(session, page, "bye", now);
      return;
    }
    page.disconnectedAt = now;
    this.#graceWheel.schedule(page, now + this.#o.pageGraceMs);
    this.feed.upsert(session, Changed.pageDisconnected, 0, page.id);
  }

  // -------------------------------------------------------------------------------------------
  // commands

  /** Closes a session: its pages are told (closeSession, close code 4000) and it ends as "closed". */
  closeSession(id: string, message = ""): boolean {
    const session = this.index.get(id);
    if (session === undefined || session.ended) return false;
    for (const page of session.pages.values()) {
      const socket = page.socket;
      if (socket === null) continue;
      page.socket = null;
      socket.closeSession(message);
    }
    this.#endSession(session, "closed", this.#o.clock.now());
    return true;
  }

  /** Closes one page: it is told (closePage, close code 4001), leaves at once and may not come back. */
  closePage(id: string, pageId: string, message = ""): boolean {
    const session = this.index.get(id);
    const page = session?.pages.get(pageId);
    if (session === undefined || page === undefined || session.ended) return false;
    const socket = page.socket;
    page.socket = null;
    socket?.closePage(message);
    session.markPageClosed(pageId);
    this.#removePage(session, page, "closed", this.#o.clock.now());
    return true;
  }

  /**
   * Delivers an app message to every connected page of a session, or to one page. Returns how many
   * sockets got it, or null when the session (or page) is unknown. Throws `CommandError` on a
   * payload that is too deep or too large.
   */
  sendMessage(id: string, messageType: string, payload: unknown, pageId?: string): number | null {
    const session = this.index.get(id);
    if (session === undefined || session.ended) return null;
    if (pageId !== undefined && !session.pages.has(pageId)) return null;
    const message = this.prepareMessage(messageType, payload);
    let delivered = 0;
    for (const page of session.pages.values()) {
      if (pageId !== undefined && page.id !== pageId) continue;
      if (page.socket?.open) {
        page.socket.deliver(message);
        delivered++;
      }
    }
    return delivered;
  }

  /** Checks and frames an app message once; throws `CommandError` on a bad type or payload. */
  prepareMessage(messageType: string, payload: unknown): PreparedMessage {
    if (typeof messageType !== "string" || messageType.length === 0 || messageType.length > LIMITS.appMessageTypeChars) {
      throw new CommandError("bad_field", `the message type must be 1 to ${LIMITS.appMessageTypeChars} characters`);
    }
    if (exceedsDepth(payload, this.#o.maxPayloadDepth)) {
      throw new CommandError("too_deep", `the payload nests deeper than ${this.#o.maxPayloadDepth} levels`);
    }
    let message: PreparedMessage;
    try {
      message = this.#o.framer.prepare(messageType, payload === undefined ? null : payload);
    } catch (error) {
      throw new CommandError("bad_field", `the payload cannot be encoded: ${error instanceof Error ? error.message : String(error)}`);
    }
    if (message.byteLength > this.#o.maxMessageBytes) {
      throw new CommandError("too_large", `the message is ${message.byteLength} bytes encoded; the cap is ${this.#o.maxMessageBytes}`);
    }
    return message;
  }

  // -------------------------------------------------------------------------------------------
  // time

  /** Fires due deadlines: page grace, session timeout, token expiry. */
  tick(): void {
    if (this.#stopped) return;
    const now = this.#o.clock.now();
    for (const page of this.#graceWheel.takeDue(now)) {
      const session = page.session;
      if (page.socket === null && !session.ended && session.pages.get(page.id) === page) {
        this.#removePage(session, page, "grace", now);
      }
    }
    for (const session of this.#timeoutWheel.takeDue(now)) {
      if (!session.ended && session.pages.size === 0) {
        this.#endSession(session, session.endReasonIfIdle, now);
      }
    }
    for (const session of this.#expiryWheel.takeDue(now)) {
      if (session.ended || !session.authorized || session.tokenExpiresAt === null) continue;
      if (session.tokenExpiresAt > now) {
        this.#expiryWheel.schedule(session, session.tokenExpiresAt);
        continue;
      }
      session.authorized = false;
      for (const page of session.pages.values()) if (page.socket?.open) page.socket.error("token_expired", "the identity token has expired");
      this.feed.upsert(session, Changed.identity, 0, null);
    }
  }

  // -------------------------------------------------------------------------------------------

  async #findResumable(hello: HelloMessage): Promise<{ sessionId: string; createdAt: number; recreate: boolean } | null> {
    if (hello.resume === null) return null;
    const claim = this.#o.credentials.verify(hello.resume, hello.project);
    if (claim === null) return null;
    const now = this.#o.clock.now();
    // Future-dated or too old credentials resume nothing (tombstones are kept only as long).
    if (claim.issuedAt > now + 60_000 || now - claim.issuedAt > this.#o.resumeMaxAgeMs || claim.createdAt > claim.issuedAt) {
      return null;
    }
    const live = this.index.get(claim.sessionId);
    if (live !== undefined) return live.ended || live.project !== hello.project ? null : { ...claim, recreate: false };
    // Not here: ended (tombstoned) sessions stay ended; otherwise the state was lost, so recreate it,
    // unless the credential predates the floor of evicted tombstones: it may name a session that
    // ended and whose tombstone is gone, which must never come back.
    const store = this.#o.store;
    const [tombstone, floor] = await Promise.all([store.getTombstone(claim.sessionId), store.tombstoneFloor()]).catch(
      (error: unknown) => {
        this.#o.log("warn", "the store could not be asked for a tombstone; starting a new session", { err: error });
        return ["unknown" as const, 0] as const;
      },
    );
    return tombstone === undefined && claim.issuedAt > floor ? { ...claim, recreate: true } : null;
  }

  /**
   * Merges cumulative counters with max. Returns how much the bytes rose; `#fresh` tells whether
   * the frame is newer than any applied (not repeated, late or of an older epoch).
   */
  #applyCounters(page: Page, epoch: number, seq: number, bytes: number, now: number): number {
    const session = page.session;
    session.lastCommAt = now;
    let raised = 0;
    let fresh = false;
    if (epoch === page.epoch) {
      if (bytes > page.epochBytes) {
        raised = bytes - page.epochBytes;
        page.epochBytes = bytes;
      }
      if (seq > page.seq) {
        page.seq = seq;
        fresh = true;
      }
    } else if (epoch > page.epoch) {
      // A new counter series of the page: the old one's bytes are kept.
      page.earlierBytes = addCount(page.earlierBytes, page.epochBytes);
      page.epoch = epoch;
      page.seq = seq;
      page.epochBytes = bytes;
      raised = bytes;
      fresh = true;
    }
    // An older epoch is stale: it changes nothing.
    session.recentBytesSent = raised;
    if (raised > 0) session.totalBytesSent = addCount(session.totalBytesSent, raised);
    this.#fresh = fresh;
    return raised;
  }

  #applyIdentity(session: Session, result: IdentityResult, socket: PageSocket | null): void {
    if (result.ok) {
      this.#setIdentity(session, result.username, true, result.expiresAt);
      return;
    }
    if (socket?.open) socket.error(result.code, result.message);
    if (result.code === "token_expired" && result.expiredSub !== null && result.expiredSub === session.username) {
      // This session already verified this `sub` (a username only ever comes from a verified
      // token): it keeps showing, not authorized, until a fresh token comes. A token that arrives
      // expired for anyone else is refused like an invalid one.
      this.#setIdentity(session, session.username, false, null);
    } else {
      this.#setIdentity(session, UNAUTHENTICATED, false, null);
    }
  }

  #setIdentity(session: Session, username: string, authorized: boolean, expiresAt: number | null): void {
    const before = session.username;
    const wasAuthorized = session.authorized;
    const expiryBefore = session.tokenExpiresAt;
    session.tokenExpiresAt = expiresAt;
    if (authorized && expiresAt !== null) this.#expiryWheel.schedule(session, expiresAt);
    else this.#expiryWheel.cancel(session);
    if (before === username && wasAuthorized === authorized) {
      // A fresh token for the same identity: only its expiry moved (stores keep it).
      if (expiresAt !== expiryBefore) this.feed.upsert(session, Changed.identity, 0, null);
      return;
    }
    session.username = username === UNAUTHENTICATED ? UNAUTHENTICATED : detach(username);
    session.authorized = authorized;
    this.index.usernameChanged(session, before);
    let changed: ChangeSet = Changed.identity;
    if (authorized) changed |= Changed.login;
    else if (username === UNAUTHENTICATED && before !== UNAUTHENTICATED) changed |= Changed.logout;
    this.feed.upsert(session, changed, 0, null);
  }

  /** Removes a page that left; `bytesRaised`: what its last frame (a bye) added. */
  #removePage(session: Session, page: Page, reason: Exclude<PageEndReason, "session-ended">, now: number, bytesRaised = 0): void {
    session.pages.delete(page.id);
    this.#graceWheel.cancel(page);
    page.disconnectedAt ??= now;
    session.closedPagesBytes = addCount(session.closedPagesBytes, page.bytes);
    if (reason !== "closed") session.rememberLeftPage(page);
    session.endReasonIfIdle = reason === "closed" ? "closed" : reason === "bye" ? "ended" : "timeout";
    if (session.pages.size === 0) this.#timeoutWheel.schedule(session, now + this.#o.sessionTimeoutMs);
    this.feed.upsert(session, PAGE_LEFT_BY_REASON[reason] | (bytesRaised > 0 ? Changed.counters : 0), bytesRaised, page.id);
  }

  #endSession(session: Session, reason: SessionEndReason, now: number): void {
    session.ended = true;
    this.index.delete(session);
    this.#timeoutWheel.cancel(session);
    this.#expiryWheel.cancel(session);
    // Published with its pages still attached, so consumers can tell which pages ended with it.
    this.feed.remove(session, reason, now);
    for (const page of session.pages.values()) {
      this.#graceWheel.cancel(page);
      session.closedPagesBytes = addCount(session.closedPagesBytes, page.bytes);
    }
    session.pages.clear();
  }
}

const PAGE_LEFT_BY_REASON: Record<Exclude<PageEndReason, "session-ended">, ChangeSet> = {
  bye: Changed.pageLeftBye,
  grace: Changed.pageLeftGrace,
  closed: Changed.pageLeftClosed,
};
