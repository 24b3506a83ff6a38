import type { SessionRecord } from "./records.js";

/** A matcher for one filtered field, compiled by the query layer. */
export interface FieldMatcher {
  /** Matches every value (filter missing, empty or `*`). */
  readonly any: boolean;
  /** The exact value to look up when the filter has no wildcard, else null. */
  readonly exact: string | null;
  test(value: string): boolean;
}

/** A compiled `getSessionInfo` filter: both fields must match. */
export interface SessionQuery {
  username: FieldMatcher;
  project: FieldMatcher;
}

/** Whether `session` matches both fields of `query`. */
export function matchesQuery(query: SessionQuery, session: SessionRecord): boolean {
  return (query.username.any || query.username.test(session.username)) && (query.project.any || query.project.test(session.project));
}

/**
 * This node's live sessions, owned by the session model: by id, and indexed by username and by
 * project so a filtered query touches only its matches. Synchronous; the model keeps it current
 * (`add`, `usernameChanged`, `delete`), every read goes through `query/`.
 */
export class SessionIndex<S extends SessionRecord = SessionRecord> {
  readonly #byId = new Map<string, S>();
  readonly #byUsername = new Map<string, Set<S>>();
  readonly #byProject = new Map<string, Set<S>>();

  get size(): number {
    return this.#byId.size;
  }

  get(id: string): S | undefined {
    return this.#byId.get(id);
  }

  has(id: string): boolean {
    return this.#byId.has(id);
  }

  values(): IterableIterator<S> {
    return this.#byId.values();
  }

  /** Adds a session (replacing any other object of the same id). */
  add(session: S): void {
    const existing = this.#byId.get(session.id);
    if (existing === session) return;
    if (existing !== undefined) this.delete(existing);
    this.#byId.set(session.id, session);
    addTo(this.#byProject, session.project, session);
    addTo(this.#byUsername, session.username, session);
  }

  /** Moves a session to its new username's entry (after a login or logout). */
  usernameChanged(session: S, before: string): void {
    if (this.#byId.get(session.id) !== session || before === session.username) return;
    removeFrom(this.#byUsername, before, session);
    addTo(this.#byUsername, session.username, session);
  }

  delete(session: S): void {
    if (this.#byId.get(session.id) !== session) return;
    this.#byId.delete(session.id);
    removeFrom(this.#byProject, session.project, session);
    removeFrom(this.#byUsername, session.username, session);
  }

  /** Sessions matching both fields; costs in proportion to the matches when a field is exact. */
  query(query: SessionQuery): S[] {
    const { username, project } = query;
    // Copied in one go: 100,000 sessions in about 2.5 ms, against 8 ms pushed one by one.
    if (username.any && project.any) return Array.from(this.#byId.values());
    const result: S[] = [];
    // Walk the narrower index: an exact key beats a wildcard over keys.
    const useUsername = username.exact !== null || (project.exact === null && !username.any);
    const index = useUsername ? this.#byUsername : this.#byProject;
    const field = useUsername ? username : project;
    const other = useUsername ? project : username;
    const otherField = useUsername ? "project" : "username";
    const keep = (session: S): void => {
      if (other.any || other.test(session[otherField])) result.push(session);
    };
    if (field.exact !== null) {
      const set = index.get(field.exact);
      if (set !== undefined) for (const session of set) keep(session);
    } else {
      for (const [key, set] of index) if (field.test(key)) for (const session of set) keep(session);
    }
    return result;
  }

  /** Exposed for tests of index upkeep. */
  indexSizes(): { usernames: number; projects: number } {
    return { usernames: this.#byUsername.size, projects: this.#byProject.size };
  }
}

function addTo<S>(index: Map<string, Set<S>>, key: string, session: S): void {
  let set = index.get(key);
  if (set === undefined) index.set(key, (set = new Set()));
  set.add(session);
}

function removeFrom<S>(index: Map<string, Set<S>>, key: string, session: S): void {
  const set = index.get(key);
  if (set === undefined || !set.delete(session)) return;
  if (set.size === 0) index.delete(key);
}
