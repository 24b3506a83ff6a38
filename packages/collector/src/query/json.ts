import type { SessionRecord } from "../sessions/records.js";

/** The parts of a session's JSON text that change only with its structure (identity, pages, address). */
interface StableParts {
  /** Inputs the parts were built from, compared on every use: a change the feed did not flag is still seen. */
  readonly userAgent: string;
  readonly username: string;
  readonly authorized: boolean;
  readonly clientAddress: string;
  readonly scope: string;
  readonly activePages: number;
  /** `{"userAgent":…,"id":…,"username":…,"authorized":…,"project":…,"uptime":` */
  readonly head: string;
  /** `,"clientAddress":…,"lastComm":` */
  readonly middle: string;
  /** `,"sessionScope":…,"activePages":…,"recentBytesSent":` */
  readonly counters: string;
  /** `,"pageIds":[…]}` */
  readonly tail: string;
}

const TOTAL_BYTES = ',"totalBytesSent":';
/** Distinct user agents and projects whose JSON text is kept; past it the cache starts over. */
const MAX_QUOTED = 10_000;

/** A number as JSON writes it (`null` for what JSON cannot hold). */
function num(value: number): string {
  return Number.isFinite(value) ? String(value) : "null";
}

/**
 * The JSON text of `toSessionInfo(record, now)` (same keys, same order, same text as
 * `JSON.stringify`), with each session's stable part serialised once per change instead of once
 * per query: a list of 100,000 sessions then costs a few concatenations per session, not an object
 * and a `JSON.stringify` each. `invalidate()` is called from the change feed for every change but a
 * counter rise; the cached inputs are compared on every use as well.
 */
export class SessionJson {
  // Weak: an ended session's parts go with it, whatever the feed said.
  #parts = new WeakMap<SessionRecord, StableParts>();
  /** JSON text of user agents and projects: few distinct values, long ones, shared by many sessions. */
  #quoted = new Map<string, string>();

  /** Forgets the stable parts of `session` (its identity, pages or address changed). */
  invalidate(session: SessionRecord): void {
    this.#parts.delete(session);
  }

  /** `JSON.stringify(toSessionInfo(session, now))`. */
  stringify(session: SessionRecord, now: number): string {
    let parts = this.#parts.get(session);
    if (
      parts === undefined ||
      parts.userAgent !== session.userAgent ||
      parts.username !== session.username ||
      parts.authorized !== session.authorized ||
      parts.clientAddress !== session.clientAddress ||
      parts.scope !== session.scope ||
      parts.activePages !== session.pages.size
    ) {
      parts = this.#build(session);
      this.#parts.set(session, parts);
    }
    return (
      parts.head +
      num(Math.max(0, now - session.createdAt)) +
      parts.middle +
      num(Math.max(0, now - session.lastCommAt)) +
      parts.counters +
      num(session.recentBytesSent) +
      TOTAL_BYTES +
      num(session.totalBytesSent) +
      parts.tail
    );
  }

  #quote(value: string): string {
    let text = this.#quoted.get(value);
    if (text === undefined) {
      if (this.#quoted.size >= MAX_QUOTED) this.#quoted.clear();
      text = JSON.stringify(value);
      this.#quoted.set(value, text);
    }
    return text;
  }

  #build(session: SessionRecord): StableParts {
    const json = JSON.stringify;
    return {
      userAgent: session.userAgent,
      username: session.username,
      authorized: session.authorized,
      clientAddress: session.clientAddress,
      scope: session.scope,
      activePages: session.pages.size,
      head: `{"userAgent":${this.#quote(session.userAgent)},"id":${json(session.id)},"username":${json(session.username)},"authorized":${session.authorized ? "true" : "false"},"project":${this.#quote(session.project)},"uptime":`,
      middle: `,"clientAddress":${json(session.clientAddress)},"lastComm":`,
      counters: `,"sessionScope":${json(session.scope)},"activePages":${session.pages.size},"recentBytesSent":`,
      tail: `,"pageIds":${json(Array.from(session.pages.keys()))}}`,
    };
  }
}
