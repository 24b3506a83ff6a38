import { MAX_NUMBER_BYTES, numberBytes, writeNumber } from "../json-bytes.js";
import type { SessionRecord } from "../sessions/records.js";

/**
 * The parts of a session's JSON text that change only with its structure (identity, pages,
 * address), UTF-8 encoded once: `bytes` holds them back to back, and the four numbers that change
 * with time and traffic go between them.
 */
interface StableParts {
  /** Inputs the parts were built from, compared on every use: a change the feed did not flag is still seen. */
  readonly userAgent: string;
  readonly username: string;
  readonly authorized: boolean;
  readonly clientAddress: string;
  readonly scope: string;
  /**
   * `{"userAgent":…,"id":…,"username":…,"authorized":…,"project":…,"uptime":` (up to `uptimeEnd`),
   * `,"clientAddress":…,"lastComm":` (to `lastCommEnd`),
   * `,"sessionScope":…,"activePages":…,"recentBytesSent":` (to `recentEnd`),
   * `,"totalBytesSent":` (to `totalEnd`), `,"pageIds":[…]}` (to the end).
   */
  readonly bytes: Buffer;
  readonly uptimeEnd: number;
  readonly lastCommEnd: number;
  readonly recentEnd: number;
  readonly totalEnd: number;
}

/** What goes around and between the sessions of a JSON array written in chunks. */
export interface ListFraming {
  /** Before everything (`[`). */
  open: string;
  /** Before the first session (`""`). */
  first: string;
  /** Before every other session (`,`). */
  separator: string;
  /** After everything (`]`). */
  close: string;
}

/** A bare JSON array. */
export const JSON_ARRAY: ListFraming = { open: "[", first: "", separator: ",", close: "]" };

/** Bytes of a chunk of a written list: big answers are never one giant string or buffer. */
export const LIST_CHUNK_BYTES = 64 * 1024;
/** Written chunks kept for the next lists (at most 2 MiB idle). */
const FREE_CHUNKS_KEPT = 32;

const TOTAL_BYTES = ',"totalBytesSent":';
/** Distinct user agents and projects whose JSON text is kept; past it the cache starts over. */
const MAX_QUOTED = 10_000;
/**
 * The JSON text of `toSessionInfo(record, now)` (same keys, same order, same text as
 * `JSON.stringify`), with each session's stable part serialised and UTF-8 encoded once per change
 * instead of once per query: a list of 100,000 sessions then costs five copies and four numbers per
 * session into reused-size chunks, not an object, a `JSON.stringify` and a string to encode each.
 * `invalidate()` is called from the change feed for every change but a counter rise (a page that
 * joins or leaves is one); the identity, address and scope the parts were built from are compared
 * on every use as well. Chunks handed back with `release()` once written are reused: a list of
 * 100,000 sessions is 42 MB of chunks, and allocating them anew each time cost garbage collections.
 */
export class SessionJson {
  /** JSON text of user agents and projects: few distinct values, long ones, shared by many sessions. */
  #quoted = new Map<string, string>();
  /** Written chunks (whole, `LIST_CHUNK_BYTES` long) ready for the next list. */
  readonly #free: Buffer[] = [];

  /** Forgets the stable parts of `session` (its identity, pages or address changed). */
  invalidate(session: SessionRecord): void {
    session.jsonCache = null;
  }

  /** `JSON.stringify(toSessionInfo(session, now))`. */
  stringify(session: SessionRecord, now: number): string {
    const parts = this.#partsOf(session);
    const out = Buffer.allocUnsafe(parts.bytes.length + 4 * MAX_NUMBER_BYTES);
    return out.toString("utf8", 0, this.#write(parts, session, now, out, 0));
  }

  /**
   * The sessions as one JSON list (`framing`) at `now`, in UTF-8 chunks of about `chunkBytes`
   * (a session larger than that gets a chunk of its own size). Read the records as the chunks are
   * taken: they are live. Hand each chunk to `release()` once it is written (a socket write's
   * callback), and not before: its bytes are then overwritten by a later list.
   */
  *chunks(records: readonly SessionRecord[], now: number, framing: ListFraming = JSON_ARRAY, chunkBytes = LIST_CHUNK_BYTES): Generator<Buffer, void, undefined> {
    const separator = Buffer.from(framing.separator);
    let out = this.#chunk(chunkBytes);
    let pos = out.write(framing.open + (records.length > 0 ? framing.first : ""));
    for (let i = 0; i < records.length; i++) {
      const session = records[i]!;
      const parts = this.#partsOf(session);
      const most = separator.length + parts.bytes.length + 4 * MAX_NUMBER_BYTES;
      if (pos + most > out.length) {
        if (pos > 0) yield out.subarray(0, pos);
        out = this.#chunk(Math.max(chunkBytes, most));
        pos = 0;
      }
      if (i > 0) pos += separator.copy(out, pos);
      pos = this.#write(parts, session, now, out, pos);
    }
    const close = Buffer.from(framing.close);
    if (pos + close.length > out.length) {
      yield out.subarray(0, pos);
      out = close;
      pos = close.length;
    } else pos += close.copy(out, pos);
    yield out.subarray(0, pos);
  }

  /** Takes back a chunk of `chunks()` whose bytes were written (a socket write's callback). */
  release(chunk: Buffer): void {
    // Only whole standard chunks (never a pooled small buffer, never one made for a big session).
    const whole = chunk.buffer;
    if (chunk.byteOffset !== 0 || whole.byteLength !== LIST_CHUNK_BYTES || this.#free.length >= FREE_CHUNKS_KEPT) return;
    this.#free.push(Buffer.from(whole));
  }

  #chunk(bytes: number): Buffer {
    return (bytes === LIST_CHUNK_BYTES ? this.#free.pop() : undefined) ?? Buffer.allocUnsafe(bytes);
  }

  /**
   * Writes the session at `pos`; returns the position after it. The stable bytes are copied whole
   * (a partial copy would make a view object per segment), then each segment after a number is
   * moved up by the lengths of the numbers before it, last first, and the numbers written into the
   * gaps.
   */
  #write(parts: StableParts, session: SessionRecord, now: number, out: Buffer, pos: number): number {
    const bytes = parts.bytes;
    const uptime = Math.max(0, now - session.createdAt);
    const lastComm = Math.max(0, now - session.lastCommAt);
    const recent = session.recentBytesSent;
    const total = session.totalBytesSent;
    const n1 = numberBytes(uptime);
    const n2 = numberBytes(lastComm);
    const n3 = numberBytes(recent);
    const n4 = numberBytes(total);
    const a = pos + parts.uptimeEnd;
    const b = pos + parts.lastCommEnd;
    const c = pos + parts.recentEnd;
    const d = pos + parts.totalEnd;
    const end = pos + bytes.length;
    out.set(bytes, pos);
    out.copyWithin(d + n1 + n2 + n3 + n4, d, end);
    out.copyWithin(c + n1 + n2 + n3, c, d);
    out.copyWithin(b + n1 + n2, b, c);
    out.copyWithin(a + n1, a, b);
    writeNumber(out, a, uptime, n1);
    writeNumber(out, b + n1, lastComm, n2);
    writeNumber(out, c + n1 + n2, recent, n3);
    writeNumber(out, d + n1 + n2 + n3, total, n4);
    return end + n1 + n2 + n3 + n4;
  }

  #partsOf(session: SessionRecord): StableParts {
    // The slot is this class's: only ever a StableParts or null.
    let parts = session.jsonCache as StableParts | null | undefined;
    if (
      parts == null ||
      parts.userAgent !== session.userAgent ||
      parts.username !== session.username ||
      parts.authorized !== session.authorized ||
      parts.clientAddress !== session.clientAddress ||
      parts.scope !== session.scope
    ) {
      parts = this.#build(session);
      session.jsonCache = parts;
    }
    return parts;
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
    const head = `{"userAgent":${this.#quote(session.userAgent)},"id":${json(session.id)},"username":${json(session.username)},"authorized":${session.authorized ? "true" : "false"},"project":${this.#quote(session.project)},"uptime":`;
    const middle = `,"clientAddress":${json(session.clientAddress)},"lastComm":`;
    const counters = `,"sessionScope":${json(session.scope)},"activePages":${session.pages.size},"recentBytesSent":`;
    const tail = `,"pageIds":${json(Array.from(session.pages.keys()))}}`;
    const uptimeEnd = Buffer.byteLength(head);
    const lastCommEnd = uptimeEnd + Buffer.byteLength(middle);
    const recentEnd = lastCommEnd + Buffer.byteLength(counters);
    return {
      userAgent: session.userAgent,
      username: session.username,
      authorized: session.authorized,
      clientAddress: session.clientAddress,
      scope: session.scope,
      bytes: Buffer.from(head + middle + counters + TOTAL_BYTES + tail),
      uptimeEnd,
      lastCommEnd,
      recentEnd,
      totalEnd: recentEnd + TOTAL_BYTES.length,
    };
  }
}
