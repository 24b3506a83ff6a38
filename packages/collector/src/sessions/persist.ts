import type { SessionPersistence } from "../store/port.js";
import { STRUCTURAL, type ChangeSet, type FeedConsumer } from "./feed.js";
import type { SessionEndReason, SessionRecord } from "./records.js";

/**
 * Feeds the persistence port from the change feed: structural changes are `put`, rising counters
 * only noted (`countersChanged`, synchronous and cheap: the heartbeat path), ended sessions `end`.
 * A failed write is logged; the model does not wait for the port.
 */
export class PersistenceConsumer implements FeedConsumer {
  constructor(
    private readonly port: SessionPersistence,
    private readonly log: (level: "error", message: string, details: Record<string, unknown>) => void,
  ) {}

  upsert(session: SessionRecord, changed: ChangeSet, bytesRaised: number): void {
    if ((changed & STRUCTURAL) !== 0) {
      this.port.put(session).catch((error: unknown) => {
        this.log("error", "the store could not save a session", { sessionId: session.id, err: error });
      });
    } else if (bytesRaised > 0) {
      // Bytes are what a crash must not lose: the next counters write needs this session.
      this.port.countersChanged(session);
    }
  }

  remove(session: SessionRecord, reason: SessionEndReason, endedAt: number): void {
    this.port.end(session.id, { endedAt, reason }).catch((error: unknown) => {
      this.log("error", "the store could not record an ended session", { sessionId: session.id, err: error });
    });
  }
}
