import { Changed, type ChangeSet, type FeedConsumer, type SessionFeed } from "../sessions/feed.js";
import type { SessionEndReason, SessionRecord } from "../sessions/records.js";

/**
 * Totals counted from the change feed (for metrics): plain numbers bumped as changes pass, read at
 * scrape time. Restored sessions count as neither started nor reported again.
 */
export class SessionTotals implements FeedConsumer {
  /** Sum of every increase of a session's `totalBytesSent`. */
  bytesReported = 0;
  /** Sessions started here (resumes of live sessions not counted). */
  sessionsStarted = 0;
  readonly sessionsEnded: Record<SessionEndReason, number> = { timeout: 0, closed: 0, ended: 0 };

  constructor(feed: SessionFeed) {
    feed.subscribe(this);
  }

  /** @internal Feed consumer (the heartbeat path: two comparisons and an add). */
  upsert(_session: SessionRecord, changed: ChangeSet, bytesRaised: number): void {
    // Saturates like every counter: past 2^53 a sum is no longer exact.
    this.bytesReported = Math.min(this.bytesReported + bytesRaised, Number.MAX_SAFE_INTEGER);
    if ((changed & (Changed.created | Changed.restored)) === Changed.created) this.sessionsStarted++;
  }

  /** @internal Feed consumer. */
  remove(_session: SessionRecord, reason: SessionEndReason): void {
    this.sessionsEnded[reason]++;
  }
}
