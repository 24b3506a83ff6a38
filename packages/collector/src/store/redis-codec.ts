import type { SessionScope } from "@sessionlens/shared";
import type { PageCollection, PageRecord, SessionRecord } from "../sessions/records.js";

/**
 * How a session looks in Redis: one JSON contribution per node that holds it (see
 * redis-scripts.ts), and the cluster view that merges them.
 */

/** A page as a compact array: `[id, path, epoch, seq, epochBytes, earlierBytes, openedAt, connectedAt, disconnectedAt]`. */
type PageTuple = [string, string, number, number, number, number, number, number, number | null];

/** What one node holds of a session. */
export interface Contribution {
  /** userAgent, clientAddress, scope */
  ua: string;
  ad: string;
  sc: SessionScope;
  /** username, authorized, tokenExpiresAt */
  us: string;
  au: boolean;
  ex: number | null;
  /** When this node last changed the identity (0: never): the latest change on any node wins. */
  ia: number;
  /** When this contribution was written. */
  at: number;
  /** lastCommAt, recentBytesSent, closedPagesBytes (pages that left this node) */
  lc: number;
  rb: number;
  cb: number;
  pg: PageTuple[];
}

/** A page of the cluster view: the node that holds it is named. */
export interface ClusterPageRecord extends PageRecord {
  readonly node: string;
}

/** A session of the cluster view: the union of what every node holds of it. */
export interface ClusterSessionRecord extends SessionRecord {
  readonly pages: PageCollection<ClusterPageRecord>;
}

export function encodeContribution(session: SessionRecord, identityChangedAt: number, now: number): string {
  const pages: PageTuple[] = [];
  for (const page of session.pages.values()) {
    pages.push([page.id, page.path, page.epoch, page.seq, page.epochBytes, page.earlierBytes, page.openedAt, page.connectedAt, page.disconnectedAt]);
  }
  const contribution: Contribution = {
    ua: session.userAgent,
    ad: session.clientAddress,
    sc: session.scope,
    us: session.username,
    au: session.authorized,
    ex: session.tokenExpiresAt,
    ia: identityChangedAt,
    at: now,
    lc: session.lastCommAt,
    rb: session.recentBytesSent,
    cb: session.closedPagesBytes,
    pg: pages,
  };
  return JSON.stringify(contribution);
}

function decodeContribution(raw: string): Contribution | null {
  try {
    const value = JSON.parse(raw) as Contribution;
    // Lua's cjson writes an empty table as an object.
    if (!Array.isArray(value.pg)) value.pg = [];
    return value;
  } catch {
    return null;
  }
}

function pageOf(tuple: PageTuple, node: string): ClusterPageRecord {
  const [id, path, epoch, seq, epochBytes, earlierBytes, openedAt, connectedAt, disconnectedAt] = tuple;
  return { id, path, epoch, seq, epochBytes, earlierBytes, openedAt, connectedAt, disconnectedAt, node };
}

const pageBytes = (page: PageRecord): number => page.earlierBytes + page.epochBytes;

/** One node's part of a session, as a record (what that node restores after a restart). */
export function recordOfContribution(id: string, fields: Record<string, string>, node: string): SessionRecord | null {
  const raw = fields[`n:${node}`];
  const contribution = raw === undefined ? null : decodeContribution(raw);
  if (contribution === null || fields["project"] === undefined) return null;
  const pages = new Map<string, PageRecord>();
  let bytes = contribution.cb;
  for (const tuple of contribution.pg) {
    const page = pageOf(tuple, node);
    pages.set(page.id, page);
    bytes += pageBytes(page);
  }
  return {
    id,
    project: fields["project"],
    createdAt: Number(fields["createdAt"]),
    userAgent: contribution.ua,
    clientAddress: contribution.ad,
    scope: contribution.sc,
    username: contribution.us,
    authorized: contribution.au,
    tokenExpiresAt: contribution.ex,
    lastCommAt: contribution.lc,
    recentBytesSent: contribution.rb,
    totalBytesSent: bytes,
    closedPagesBytes: contribution.cb,
    pages,
  };
}

/** What several nodes hold of a session, merged (see `mergeSession`). */
export interface MergedParts {
  /** The merged record, or null when no node (but the excluded one) holds anything of it. */
  record: ClusterSessionRecord | null;
  /** When the shown identity was set (0: never), to compare with another part's. */
  identityChangedAt: number;
  /** Bytes of pages that left nodes which let go of the session (the hash's `closed`). */
  closedBytes: number;
  project: string;
  createdAt: number;
}

/**
 * The cluster view of a session from its hash: pages are the union (a page two nodes claim — its
 * agent moved — is the connected or most recently connected copy, counted once with the larger
 * byte count), bytes are the sum, `lastCommAt` the latest, identity from the latest identity
 * change, the rest from the latest write. Null for a missing or unreadable hash.
 */
export function mergeSession(id: string, fields: Record<string, string>): ClusterSessionRecord | null {
  return mergeParts(id, fields, null)?.record ?? null;
}

/** Merges the contributions of every node but `exclude` (null: all of them); null without a hash. */
export function mergeParts(id: string, fields: Record<string, string>, exclude: string | null): MergedParts | null {
  const project = fields["project"];
  if (project === undefined) return null;
  const createdAt = Number(fields["createdAt"]);
  const closedBytes = Number(fields["closed"] ?? 0) || 0;
  const contributions: [string, Contribution][] = [];
  for (const key in fields) {
    if (!key.startsWith("n:") || key.slice(2) === exclude) continue;
    const contribution = decodeContribution(fields[key]!);
    if (contribution !== null) contributions.push([key.slice(2), contribution]);
  }
  if (contributions.length === 0) return { record: null, identityChangedAt: 0, closedBytes, project, createdAt };
  let latest = contributions[0]![1];
  let identity = latest;
  let lastComm = latest;
  let closed = closedBytes;
  const pages = new Map<string, ClusterPageRecord>();
  for (const [node, contribution] of contributions) {
    if (contribution.at > latest.at) latest = contribution;
    if (contribution.ia > identity.ia || (contribution.ia === identity.ia && contribution.at > identity.at)) identity = contribution;
    if (contribution.lc > lastComm.lc) lastComm = contribution;
    closed += contribution.cb;
    for (const tuple of contribution.pg) addPage(pages, pageOf(tuple, node));
  }
  let total = closed;
  for (const page of pages.values()) total += pageBytes(page);
  const record: ClusterSessionRecord = {
    id,
    project,
    createdAt,
    userAgent: latest.ua,
    clientAddress: latest.ad,
    scope: latest.sc,
    username: identity.us,
    authorized: identity.au,
    tokenExpiresAt: identity.ex,
    lastCommAt: lastComm.lc,
    recentBytesSent: lastComm.rb,
    totalBytesSent: total,
    closedPagesBytes: closed,
    pages,
  };
  return { record, identityChangedAt: identity.ia, closedBytes, project, createdAt };
}

/** Adds a page to a union: a page claimed twice is shown once, with the larger byte count. */
export function addPage(pages: Map<string, ClusterPageRecord>, page: ClusterPageRecord): void {
  const other = pages.get(page.id);
  if (other === undefined) {
    pages.set(page.id, page);
    return;
  }
  const shown = preferPage(page, other) ? page : other;
  const counted = pageBytes(page) >= pageBytes(other) ? page : other;
  pages.set(page.id, shown === counted ? shown : { ...shown, epoch: counted.epoch, seq: counted.seq, epochBytes: counted.epochBytes, earlierBytes: counted.earlierBytes });
}

export { pageBytes };

/** The copy of a page to show: the connected one, else the most recently connected. */
function preferPage(candidate: ClusterPageRecord, current: ClusterPageRecord): boolean {
  if ((candidate.disconnectedAt === null) !== (current.disconnectedAt === null)) return candidate.disconnectedAt === null;
  return candidate.connectedAt > current.connectedAt;
}
