import type { ErrorCode, HelloMessage } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
import { ResumeCredentials } from "../../src/sessions/credentials.js";
import { Changed, type ChangeSet, type FeedConsumer } from "../../src/sessions/feed.js";
import { IdentityVerifier } from "../../src/sessions/identity.js";
import { SessionModel } from "../../src/sessions/model.js";
import type { SessionEndReason, SessionRecord, Tombstone } from "../../src/sessions/records.js";
import type { Page, PageSocket, PreparedMessage } from "../../src/sessions/session.js";
import { UserAgentCache } from "../../src/sessions/useragent.js";
import { SessionPersistence } from "../../src/store/port.js";
import { messageFramer } from "../../src/transport/frames.js";
import { ManualClock } from "../helpers/collector.js";

/** A port that records what the model asked of it. */
class RecordingPort extends SessionPersistence {
  readonly calls: string[] = [];
  override async put(record: SessionRecord): Promise<void> {
    this.calls.push(`put ${record.id}`);
  }
  override countersChanged(record: SessionRecord): void {
    this.calls.push(`countersChanged ${record.id} ${record.totalBytesSent}`);
  }
  override async end(id: string, tombstone: Tombstone): Promise<void> {
    this.calls.push(`end ${id} ${tombstone.reason}`);
  }
}

/** A page socket that records what the model told it, in the model's words. */
class RecordingSocket implements PageSocket {
  open = true;
  readonly told: string[] = [];
  welcome(welcome: { sessionId: string; authorized: boolean }): void {
    this.told.push(`welcome ${welcome.authorized}`);
  }
  closeSession(message: string): void {
    this.told.push(`closeSession ${message}`);
    this.open = false;
  }
  closePage(message: string): void {
    this.told.push(`closePage ${message}`);
    this.open = false;
  }
  deliver(message: PreparedMessage): void {
    this.told.push(`deliver ${message.byteLength}`);
  }
  error(code: ErrorCode): void {
    this.told.push(`error ${code}`);
  }
  replace(): void {
    this.told.push("replace");
  }
}

function setUp() {
  const clock = new ManualClock();
  const port = new RecordingPort();
  const model = new SessionModel({
    store: port,
    credentials: new ResumeCredentials("secret"),
    identity: new IdentityVerifier(undefined, () => clock.now()),
    userAgents: new UserAgentCache(),
    framer: messageFramer,
    clock,
    pageGraceMs: 15_000,
    sessionTimeoutMs: 60_000,
    resumeMaxAgeMs: 3_600_000,
    maxPayloadDepth: 32,
    maxMessageBytes: 65_536,
    resolutionMs: 250,
    log: () => {},
  });
  const changes: string[] = [];
  const consumer: FeedConsumer = {
    upsert(session: SessionRecord, changed: ChangeSet, bytesRaised: number, pageId: string | null) {
      const names = Object.entries(Changed)
        .filter(([, bit]) => (changed & bit) !== 0)
        .map(([name]) => name);
      changes.push(`upsert ${names.join("+")} ${bytesRaised}${pageId === null ? "" : ` ${pageId}`}`);
    },
    remove(_session: SessionRecord, reason: SessionEndReason) {
      changes.push(`remove ${reason}`);
    },
  };
  model.feed.subscribe(consumer);
  return { clock, port, model, changes };
}

const hello = (overrides: Partial<HelloMessage> = {}): HelloMessage => ({
  type: "hello",
  v: 1,
  project: "MyProject",
  scope: null,
  userAgent: "Mozilla/5.0 test",
  pageId: "page-000000000001",
  path: "/",
  resume: null,
  token: null,
  epoch: 1,
  seq: 0,
  bytes: 10,
  ...overrides,
});

async function admit(model: SessionModel, socket: PageSocket, overrides?: Partial<HelloMessage>): Promise<Page> {
  const outcome = await model.hello(socket, hello(overrides), "10.0.0.1");
  if (!outcome.ok) throw new Error(outcome.message);
  return outcome.page;
}

describe("the session model's change feed", () => {
  it("publishes every change once, with what changed; the port gets put, countersChanged and end", async () => {
    const { clock, port, model, changes } = setUp();
    const socket = new RecordingSocket();
    const page = await admit(model, socket);
    expect(socket.told).toEqual(["welcome false"]);
    expect(changes).toEqual(["upsert created+counters+pageOpened+pageConnected 10 page-000000000001"]);

    clock.advance(1_000);
    model.counters(page, 1, 1, 10, null, clock.now()); // only lastComm moves (recentBytesSent drops to 0)
    model.counters(page, 1, 2, 10, null, clock.now()); // nothing visible changes: nothing published
    model.counters(page, 1, 3, 25, null, clock.now());
    model.counters(page, 1, 4, 25, "/next", clock.now());
    expect(changes.slice(1)).toEqual(["upsert counters 0", "upsert counters 15", "upsert counters+path 0"]);

    const id = page.session.id;
    expect(model.closeSession(id, "bye now")).toBe(true);
    expect(socket.told).toEqual(["welcome false", "closeSession bye now"]);
    expect(changes.at(-1)).toBe("remove closed");
    expect(model.index.get(id)).toBeUndefined();
    await Promise.resolve();
    expect(port.calls).toEqual([`put ${id}`, `countersChanged ${id} 25`, `put ${id}`, `end ${id} closed`]);
  });

  it("pages leaving carry their reason and page id; a bye's bytes are included", async () => {
    const { clock, model, changes } = setUp();
    const first = await admit(model, new RecordingSocket());
    const second = await admit(model, new RecordingSocket(), { pageId: "page-000000000002", resume: null });
    // Second hello without a credential: a second session.
    expect(second.session).not.toBe(first.session);
    changes.length = 0;
    model.bye(first, 1, 1, 30);
    const socket = new RecordingSocket();
    model.disconnected(second, second.socket ?? socket, false);
    clock.advance(15_500);
    model.tick();
    expect(changes).toEqual([
      "upsert counters+pageLeftBye 20 page-000000000001",
      "upsert pageDisconnected 0 page-000000000002",
      "upsert pageLeftGrace 0 page-000000000002",
    ]);
  });

  it("the model never encodes a frame: messages are prepared by the framer and delivered", async () => {
    const { model } = setUp();
    const socket = new RecordingSocket();
    const page = await admit(model, socket);
    expect(model.sendMessage(page.session.id, "refresh", { at: 1 })).toBe(1);
    expect(socket.told.at(-1)).toMatch(/^deliver \d+$/);
    expect(model.closePage(page.session.id, page.id, "later")).toBe(true);
    expect(socket.told.at(-1)).toBe("closePage later");
  });
});
