import type { SessionFilter, SessionInfo } from "@sessionlens/shared";
import type { Clock } from "../options.js";
import type { UserAgentCache } from "../sessions/useragent.js";
import type { SessionRecord, SessionStore, StoreQuery } from "../store/types.js";
import { compileQuery } from "./filter.js";
import { toSessionDetails, toSessionInfo, type SessionDetails } from "./info.js";

/** The read side: sessions from the store, as the thirteen keys or with details. */
export class SessionQueries {
  constructor(
    private readonly store: SessionStore,
    private readonly clock: Clock,
    private readonly userAgents: UserAgentCache,
  ) {}

  /** Matching records (live objects of the memory store: read them at once). */
  records(filter: SessionFilter): Promise<SessionRecord[]> {
    return this.store.query(compileQuery(filter));
  }

  recordsFor(query: StoreQuery): Promise<SessionRecord[]> {
    return this.store.query(query);
  }

  async getSessionInfo(filter: SessionFilter): Promise<SessionInfo[]> {
    const records = await this.records(filter);
    const now = this.clock.now();
    return records.map((record) => toSessionInfo(record, now));
  }

  async getSession(id: string): Promise<SessionDetails | undefined> {
    const record = await this.store.get(id);
    if (record === undefined) return undefined;
    return toSessionDetails(record, this.clock.now(), this.userAgents.parse(record.userAgent));
  }
}

export { compileFilter, compileQuery, normaliseFilter } from "./filter.js";
export { toSessionInfo, toSessionDetails } from "./info.js";
export type { SessionDetails, PageDetails } from "./info.js";
