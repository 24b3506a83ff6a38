import { constants } from "node:fs";
import { copyFile, link, mkdir, readFile, rename, unlink, open as openFile, type FileHandle } from "node:fs/promises";
import { join } from "node:path";
import { isCount, isScope } from "@sessionlens/shared";
import { MAX_NUMBER_BYTES, maxStringBytes, writeNumber, writeString } from "../json-bytes.js";
import type { PageRecord, SessionEndReason, SessionRecord, Tombstone } from "../sessions/records.js";

const SNAPSHOT_VERSION = 1;
const COUNTERS_VERSION = 1;
const END_REASONS: readonly SessionEndReason[] = ["timeout", "closed", "ended"];

interface SnapshotContents {
  sessions: SessionRecord[];
  tombstones: [string, Tombstone][];
  /** The latest end time among tombstones evicted by the cap (0 when none were). */
  tombstoneFloor: number;
  /** Numbers the snapshot: a counters file applies only to the snapshot of its generation. */
  generation: number;
}

/** Reads and parses a JSON file; null when there is none. */
async function readJsonFile(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return null;
    throw error;
  }
  return JSON.parse(text) as unknown;
}

/**
 * The durable part of the embedded store: one JSON file replaced atomically (temp file, fsync,
 * rename), so a crash at any moment leaves either the old or the new snapshot, never half of one.
 */
export class SnapshotFile {
  readonly path: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = join(dir, "sessions.json");
  }

  /** The previous generation, kept beside the snapshot by every write. */
  get previousPath(): string {
    return `${this.path}.prev`;
  }

  async read(): Promise<SnapshotContents | null> {
    const value = await readJsonFile(this.path);
    return value === null ? null : parseSnapshot(value);
  }

  /** The previous generation (`sessions.json.prev`), or null when there is none. Throws when unreadable. */
  async readPrevious(): Promise<SnapshotContents | null> {
    const value = await readJsonFile(this.previousPath);
    return value === null ? null : parseSnapshot(value);
  }

  /**
   * Moves an unreadable snapshot aside (`sessions.json.unreadable-<time>`), so no later write
   * overwrites it and a human can look at it. Returns the new path.
   */
  async keepAside(now: number): Promise<string> {
    const aside = `${this.path}.unreadable-${now}`;
    await rename(this.path, aside);
    return aside;
  }

  /**
   * Writes a snapshot. Sessions are serialised in batches written to the temp file one after the
   * other, so a large store neither builds one giant string nor blocks the event loop for long.
   */
  async write(
    sessions: readonly SessionRecord[],
    tombstones: ReadonlyMap<string, Tombstone>,
    tombstoneFloor: number,
    savedAt: number,
    generation: number,
  ): Promise<void> {
    await writeAtomically(this.#dir, this.path, this.previousPath, async (handle) => {
      await handle.write(`{"version":${SNAPSHOT_VERSION},"generation":${generation},"savedAt":${savedAt},"sessions":[`);
      for (let start = 0; start < sessions.length; start += WRITE_BATCH) {
        const batch = sessions.slice(start, start + WRITE_BATCH).map((session) => JSON.stringify(serialiseSession(session)));
        await handle.write((start === 0 ? "" : ",") + batch.join(","));
      }
      // Tombstones last: a session that ended while the sessions were written is skipped on load.
      const ended = Array.from(tombstones, ([id, t]) => [id, t.endedAt, t.reason]);
      await handle.write(`],"tombstoneFloor":${tombstoneFloor},"tombstones":${JSON.stringify(ended)}}`);
    });
  }
}

/** The live counters of one session, as the counters file keeps them (see `CountersFile`). */
export interface SessionCounters {
  totalBytesSent: number;
  lastCommAt: number;
  /** `[pageId, epoch, seq, epochBytes, earlierBytes]` per page. */
  pages: [string, number, number, number, number][];
}

export interface CountersContents {
  /** The generation of the snapshot these counters apply to. */
  generation: number;
  sessions: Map<string, SessionCounters>;
}

/**
 * The counters of sessions whose bytes rose since the last full snapshot, replaced atomically like
 * the snapshot (`counters.json`). Compact: per session only its id, total bytes, last
 * communication and per page `pageId, epoch, seq, epochBytes, earlierBytes`, in flat arrays:
 * `[id, totalBytesSent, lastCommAt, [pageId, epoch, seq, epochBytes, earlierBytes, pageId, ...]]`.
 * No user agents, paths or identities: those change only structurally, and the full snapshot has
 * them. Tagged with the snapshot's generation, so a file left from an older snapshot is ignored.
 */
export class CountersFile {
  readonly path: string;
  readonly #dir: string;

  constructor(dir: string) {
    this.#dir = dir;
    this.path = join(dir, "counters.json");
  }

  async read(): Promise<CountersContents | null> {
    const value = await readJsonFile(this.path);
    return value === null ? null : parseCounters(value);
  }

  /**
   * Writes the counters of `sessions` for snapshot `generation`. The text is written straight into
   * a 64 KiB buffer, written out whenever it fills: the heartbeat-driven write makes no string per
   * session, so it costs little CPU and leaves little garbage behind however many sessions it holds.
   */
  async write(sessions: readonly SessionRecord[], savedAt: number, generation: number): Promise<void> {
    await writeAtomically(this.#dir, this.path, null, async (handle) => {
      let out = Buffer.allocUnsafe(COUNTERS_CHUNK_BYTES);
      let pos = out.write(`{"version":${COUNTERS_VERSION},"generation":${generation},"savedAt":${savedAt},"sessions":[`);
      for (let i = 0; i < sessions.length; i++) {
        const session = sessions[i]!;
        // The most this entry can take, with the closing `]}`.
        let most = maxStringBytes(session.id) + 3 * MAX_NUMBER_BYTES + 10;
        for (const page of session.pages.values()) most += maxStringBytes(page.id) + 5 * (MAX_NUMBER_BYTES + 1);
        if (pos + most > out.length) {
          await handle.write(out.subarray(0, pos));
          pos = 0;
          // A session with thousands of pages gets a buffer large enough, kept for the rest.
          if (most > out.length) out = Buffer.allocUnsafe(most);
        }
        if (i > 0) out[pos++] = 0x2c; // ,
        out[pos++] = 0x5b; // [
        pos = writeString(out, pos, session.id);
        pos = commaNumber(out, pos, session.totalBytesSent);
        pos = commaNumber(out, pos, session.lastCommAt);
        out[pos++] = 0x2c;
        out[pos++] = 0x5b;
        let first = true;
        for (const page of session.pages.values()) {
          if (!first) out[pos++] = 0x2c;
          first = false;
          pos = writeString(out, pos, page.id);
          pos = commaNumber(out, pos, page.epoch);
          pos = commaNumber(out, pos, page.seq);
          pos = commaNumber(out, pos, page.epochBytes);
          pos = commaNumber(out, pos, page.earlierBytes);
        }
        out[pos++] = 0x5d; // ]
        out[pos++] = 0x5d;
      }
      pos += out.write("]}", pos);
      await handle.write(out.subarray(0, pos));
    });
  }
}

/**
 * Writes `path` through a temp file (fsync, rename, fsync of the folder): a crash leaves the old
 * file or the new one. With `previousPath`, the file being replaced is first hard-linked there, so
 * the previous generation survives a new file that later turns out unreadable. The temp file is
 * opened exclusively and never through a symbolic link: a link planted at its name is removed, not
 * written through.
 */
async function writeAtomically(
  dir: string,
  path: string,
  previousPath: string | null,
  fill: (handle: FileHandle) => Promise<void>,
): Promise<void> {
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const temp = `${path}.${process.pid}.tmp`;
  const handle = await openExclusive(temp);
  try {
    try {
      await fill(handle);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (previousPath !== null) await keepPrevious(path, previousPath);
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => {});
    throw error;
  }
  await syncDir(dir);
}

const EXCLUSIVE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/** Creates `temp` (mode 0600) exclusively; whatever sits at that name (a stale temp file, a planted link) is unlinked first. */
async function openExclusive(temp: string): Promise<FileHandle> {
  try {
    return await openFile(temp, EXCLUSIVE_FLAGS, 0o600);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  }
  await unlink(temp);
  return openFile(temp, EXCLUSIVE_FLAGS, 0o600);
}

/**
 * Keeps the current file as `previousPath`: a hard link (no copy), or a copy where the file system
 * has no links; through a temp name, so the swap is atomic. Best effort: failing to keep the
 * previous generation never stops the new one from being written.
 */
async function keepPrevious(path: string, previousPath: string): Promise<void> {
  const temp = `${previousPath}.${process.pid}.tmp`;
  await unlink(temp).catch(() => {});
  try {
    await link(path, temp);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // the first write: nothing to keep
    try {
      await copyFile(path, temp, constants.COPYFILE_EXCL);
    } catch {
      await unlink(temp).catch(() => {});
      return;
    }
  }
  await rename(temp, previousPath).catch(() => unlink(temp).catch(() => {}));
}

/** Makes the renames durable (a no-op where folders cannot be opened, e.g. Windows). */
async function syncDir(dir: string): Promise<void> {
  let handle: FileHandle | undefined;
  try {
    handle = await openFile(dir, constants.O_RDONLY);
    await handle.sync();
  } catch {
    // Best effort: the file itself was fsynced.
  } finally {
    await handle?.close();
  }
}

const WRITE_BATCH = 2_000;
/** Bytes of the counters file written at a time. */
const COUNTERS_CHUNK_BYTES = 64 * 1024;

/** `,` and `value`, written at `pos`; returns the position after them. */
function commaNumber(out: Buffer, pos: number, value: number): number {
  out[pos] = 0x2c;
  return writeNumber(out, pos + 1, value);
}

function serialiseSession(session: SessionRecord): unknown {
  return {
    id: session.id,
    project: session.project,
    createdAt: session.createdAt,
    userAgent: session.userAgent,
    clientAddress: session.clientAddress,
    scope: session.scope,
    username: session.username,
    authorized: session.authorized,
    tokenExpiresAt: session.tokenExpiresAt,
    lastCommAt: session.lastCommAt,
    recentBytesSent: session.recentBytesSent,
    totalBytesSent: session.totalBytesSent,
    closedPagesBytes: session.closedPagesBytes,
    pages: Array.from(session.pages.values(), (page) => ({
      id: page.id,
      path: page.path,
      epoch: page.epoch,
      seq: page.seq,
      epochBytes: page.epochBytes,
      earlierBytes: page.earlierBytes,
      openedAt: page.openedAt,
      connectedAt: page.connectedAt,
      disconnectedAt: page.disconnectedAt,
    })),
  };
}

/** Reads a snapshot defensively: entries that do not have the expected shape are skipped. */
function parseSnapshot(value: unknown): SnapshotContents {
  if (!isObject(value) || value["version"] !== SNAPSHOT_VERSION) throw new Error("unknown snapshot format");
  const sessions: SessionRecord[] = [];
  for (const raw of asArray(value["sessions"])) {
    const session = parseSession(raw);
    if (session !== null) sessions.push(session);
  }
  const tombstones: [string, Tombstone][] = [];
  for (const raw of asArray(value["tombstones"])) {
    if (!Array.isArray(raw)) continue;
    const [id, endedAt, reason] = raw as unknown[];
    if (typeof id === "string" && isCount(endedAt) && END_REASONS.includes(reason as SessionEndReason)) {
      tombstones.push([id, { endedAt, reason: reason as SessionEndReason }]);
    }
  }
  return { sessions, tombstones, tombstoneFloor: count(value["tombstoneFloor"]), generation: count(value["generation"]) };
}

/** Reads a counters file defensively: entries that do not have the expected shape are skipped. */
function parseCounters(value: unknown): CountersContents {
  if (!isObject(value) || value["version"] !== COUNTERS_VERSION || !isCount(value["generation"])) {
    throw new Error("unknown counters format");
  }
  const sessions = new Map<string, SessionCounters>();
  for (const raw of asArray(value["sessions"])) {
    if (!Array.isArray(raw)) continue;
    const [id, totalBytesSent, lastCommAt, rawPages] = raw as unknown[];
    if (typeof id !== "string" || !isCount(totalBytesSent) || !isCount(lastCommAt) || !Array.isArray(rawPages)) continue;
    const pages: SessionCounters["pages"] = [];
    for (let i = 0; i + 4 < rawPages.length; i += 5) {
      const [pageId, epoch, seq, epochBytes, earlierBytes] = rawPages.slice(i, i + 5) as unknown[];
      if (typeof pageId !== "string" || !isCount(epoch) || !isCount(seq) || !isCount(epochBytes) || !isCount(earlierBytes)) continue;
      pages.push([pageId, epoch, seq, epochBytes, earlierBytes]);
    }
    sessions.set(id, { totalBytesSent, lastCommAt, pages });
  }
  return { generation: value["generation"], sessions };
}

/**
 * Applies counters over a session from the snapshot they were written after. Counters never go
 * down, so every figure is merged with max: a stale file changes nothing. A page of a later epoch
 * takes the counters' epoch; the snapshot's epoch bytes are then among the earlier bytes.
 */
export function applyCounters(session: SessionRecord, counters: SessionCounters): void {
  session.totalBytesSent = Math.max(session.totalBytesSent, counters.totalBytesSent);
  session.lastCommAt = Math.max(session.lastCommAt, counters.lastCommAt);
  for (const [pageId, epoch, seq, epochBytes, earlierBytes] of counters.pages) {
    const page = session.pages.get(pageId);
    if (page === undefined || epoch < page.epoch) continue;
    if (epoch > page.epoch) {
      page.earlierBytes = Math.max(earlierBytes, page.earlierBytes + page.epochBytes);
      page.epoch = epoch;
      page.seq = seq;
      page.epochBytes = epochBytes;
    } else {
      page.seq = Math.max(page.seq, seq);
      page.epochBytes = Math.max(page.epochBytes, epochBytes);
      page.earlierBytes = Math.max(page.earlierBytes, earlierBytes);
    }
  }
}

function parseSession(raw: unknown): SessionRecord | null {
  if (!isObject(raw)) return null;
  const { id, project, createdAt, userAgent, clientAddress, scope, username } = raw;
  if (typeof id !== "string" || typeof project !== "string" || !isCount(createdAt)) return null;
  if (typeof userAgent !== "string" || typeof clientAddress !== "string" || !isScope(scope)) return null;
  if (typeof username !== "string") return null;
  const pages = new Map<string, PageRecord>();
  for (const rawPage of asArray(raw["pages"])) {
    const page = parsePage(rawPage);
    if (page !== null) pages.set(page.id, page);
  }
  const tokenExpiresAt = raw["tokenExpiresAt"];
  return {
    id,
    project,
    createdAt,
    userAgent,
    clientAddress,
    scope,
    username,
    authorized: raw["authorized"] === true,
    tokenExpiresAt: isCount(tokenExpiresAt) ? tokenExpiresAt : null,
    lastCommAt: count(raw["lastCommAt"]),
    recentBytesSent: count(raw["recentBytesSent"]),
    totalBytesSent: count(raw["totalBytesSent"]),
    closedPagesBytes: count(raw["closedPagesBytes"]),
    pages,
  };
}

function parsePage(raw: unknown): PageRecord | null {
  if (!isObject(raw) || typeof raw["id"] !== "string" || typeof raw["path"] !== "string") return null;
  const disconnectedAt = raw["disconnectedAt"];
  return {
    id: raw["id"],
    path: raw["path"],
    epoch: count(raw["epoch"]),
    seq: count(raw["seq"]),
    epochBytes: count(raw["epochBytes"]),
    earlierBytes: count(raw["earlierBytes"]),
    openedAt: count(raw["openedAt"]),
    connectedAt: count(raw["connectedAt"]),
    disconnectedAt: isCount(disconnectedAt) ? disconnectedAt : null,
  };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function asArray(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

/** A non-negative integer; a larger one than is safe (written by an older version) reads as the maximum. */
function count(value: unknown): number {
  if (typeof value === "number" && Number.isInteger(value) && value > Number.MAX_SAFE_INTEGER) return Number.MAX_SAFE_INTEGER;
  return isCount(value) ? value : 0;
}
