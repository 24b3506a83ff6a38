import type { SessionInfo as SharedSessionInfo } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
import { filterMatcher } from "../src/filter.js";
import { PendingChanges, rowComparator, TableModel, type SortOrder } from "../src/table-model.js";
import type { SessionInfo } from "../src/session.js";
import { seededRandom } from "./random.js";
import { session } from "./sessions.js";

const NOW = 1_750_000_000_000;
const ids = (model: TableModel): string[] =>
  Array.from({ length: model.shownCount }, (_, i) => model.at(i)!.info.id);

describe("TableModel", () => {
  it("accepts the shared package's SessionInfo as it is", () => {
    const shared: SharedSessionInfo = session({ id: "s1" });
    const local: SessionInfo = shared;
    const model = new TableModel();
    model.reset([local], NOW);
    expect(model.size).toBe(1);
  });

  it("shows the youngest session first by default and derives creation and last-comm times", () => {
    const model = new TableModel();
    model.reset([session({ id: "old", uptime: 60_000 }), session({ id: "new", uptime: 1_000, lastComm: 250 })], NOW);
    expect(ids(model)).toEqual(["new", "old"]);
    expect(model.get("new")).toMatchObject({ createdAt: NOW - 1_000, lastCommAt: NOW - 250 });
  });

  it("inserts, updates in place, and removes with the right change report", () => {
    const model = new TableModel({ key: "user", direction: "asc" });
    model.reset([session({ id: "a", username: "ann" }), session({ id: "c", username: "cid" })], NOW);
    expect(model.upsert(session({ id: "b", username: "bob" }), NOW)).toEqual({ reordered: true, shown: true });
    expect(ids(model)).toEqual(["a", "b", "c"]);
    // Same position: an in-place update, one row to refresh.
    expect(model.upsert(session({ id: "b", username: "bob", activePages: 3 }), NOW + 10)).toEqual({
      reordered: false,
      shown: true,
    });
    expect(model.get("b")!.info.activePages).toBe(3);
    // Its sort key changed: it moves.
    expect(model.upsert(session({ id: "b", username: "dan" }), NOW + 20)).toEqual({ reordered: true, shown: true });
    expect(ids(model)).toEqual(["a", "c", "b"]);
    expect(model.remove("a")).toEqual({ reordered: true, shown: false });
    expect(model.remove("a")).toEqual({ reordered: false, shown: false });
    expect(ids(model)).toEqual(["c", "b"]);
  });

  it("keeps a session's creation time when a later event differs only by network delay", () => {
    const model = new TableModel();
    model.reset([session({ id: "a", uptime: 5_000 })], NOW);
    model.upsert(session({ id: "a", uptime: 5_700 }), NOW + 900); // 200 ms of delay
    expect(model.get("a")!.createdAt).toBe(NOW - 5_000);
    model.upsert(session({ id: "a", uptime: 5_000 }), NOW + 60_000); // the collector says otherwise
    expect(model.get("a")!.createdAt).toBe(NOW + 55_000);
  });

  it("filters by user and project with the API's semantics and counts totals by scope", () => {
    const model = new TableModel();
    model.reset(
      [
        session({ id: "1", username: "billy", project: "Plant", sessionScope: "browser", activePages: 2 }),
        session({ id: "2", username: "Billy", project: "Plant", sessionScope: "ios" }),
        session({ id: "3", username: "billy", project: "Office", sessionScope: "android" }),
        session({ id: "4", username: "admin", project: "Plant", sessionScope: "designer" }),
      ],
      NOW,
    );
    model.setFilters({ usernameFilter: "billy", projectFilter: "" });
    expect(ids(model).sort()).toEqual(["1", "3"]);
    model.setFilters({ usernameFilter: "*illy", projectFilter: "Pl*" });
    expect(ids(model).sort()).toEqual(["1", "2"]);
    expect(model.shown).toEqual({ sessions: 2, pages: 3, byScope: { browser: 1, ios: 1, android: 0, designer: 0 } });
    expect(model.all).toEqual({ sessions: 4, pages: 5, byScope: { browser: 1, ios: 1, android: 1, designer: 1 } });

    // A session that stops matching leaves the table; one that starts matching enters it.
    expect(model.upsert(session({ id: "1", username: "william", project: "Plant" }), NOW)).toEqual({
      reordered: true,
      shown: false,
    });
    expect(model.upsert(session({ id: "4", username: "silly", project: "Plant", sessionScope: "designer" }), NOW)).toEqual({
      reordered: true,
      shown: true,
    });
    expect(ids(model).sort()).toEqual(["2", "4"]);
    expect(model.shown.byScope).toEqual({ browser: 0, ios: 1, android: 0, designer: 1 });
    expect(model.all.sessions).toBe(4);
    expect(model.indexOf("1")).toBe(-1);
  });

  it("sorts by each column and flips with the direction", () => {
    const model = new TableModel();
    model.reset(
      [
        session({ id: "x", activePages: 2, totalBytesSent: 10, clientAddress: "10.0.0.2" }),
        session({ id: "y", activePages: 5, totalBytesSent: 5, clientAddress: "10.0.0.1" }),
        session({ id: "z", activePages: 1, totalBytesSent: 99, clientAddress: "10.0.0.3" }),
      ],
      NOW,
    );
    model.setSort({ key: "pages", direction: "desc" });
    expect(ids(model)).toEqual(["y", "x", "z"]);
    model.setSort({ key: "sent", direction: "asc" });
    expect(ids(model)).toEqual(["y", "x", "z"]);
    model.setSort({ key: "address", direction: "desc" });
    expect(ids(model)).toEqual(["z", "x", "y"]);
  });

  it("keeps the order equal to a full filter-and-sort after any sequence of events", () => {
    const random = seededRandom(7);
    const users = ["ann", "bob", "Cid", "dora", "Unauthenticated"];
    const projects = ["Plant", "Office", "plant"];
    const scopes = ["browser", "ios", "android", "designer"] as const;
    const sorts: SortOrder[] = [
      { key: "uptime", direction: "asc" },
      { key: "lastComm", direction: "asc" },
      { key: "user", direction: "desc" },
      { key: "scope", direction: "asc" },
      { key: "authorized", direction: "asc" },
      { key: "device", direction: "asc" },
    ];
    const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)]!;
    for (const sort of sorts) {
      const model = new TableModel(sort);
      model.setFilters({ usernameFilter: pick(["", "*o*", "ann"]), projectFilter: pick(["", "Plant", "*t"]) });
      const live = new Map<string, SessionInfo>();
      let now = NOW;
      for (let step = 0; step < 1500; step++) {
        now += Math.floor(random() * 50);
        const id = `s${Math.floor(random() * 60)}`;
        if (random() < 0.2) {
          model.remove(id);
          live.delete(id);
        } else {
          const info = session({
            id,
            username: pick(users),
            project: pick(projects),
            sessionScope: pick(scopes),
            authorized: random() < 0.5,
            uptime: Math.floor(random() * 100_000),
            lastComm: Math.floor(random() * 5_000),
            activePages: Math.floor(random() * 4),
            userAgent: pick(["curl/8", "Mozilla/5.0 (Windows NT 10.0) Firefox/127.0", "<b>x</b>"]),
          });
          model.upsert(info, now);
          live.set(id, info);
        }
      }
      const user = filterMatcher(model.filters.usernameFilter);
      const project = filterMatcher(model.filters.projectFilter);
      const expected = [...live.keys()]
        .map((id) => model.get(id)!)
        .filter((r) => user(r.info.username) && project(r.info.project));
      const shown = Array.from({ length: model.shownCount }, (_, i) => model.at(i)!);
      expect(shown).toEqual(expected.sort(rowComparator(sort)));
      expect(model.shown.sessions).toBe(expected.length);
      expect(model.shown.pages).toBe(expected.reduce((sum, r) => sum + r.info.activePages, 0));
      expect(model.all.sessions).toBe(live.size);
    }
  });

  it("applies 10,000 sessions and a burst of updates quickly", () => {
    const model = new TableModel();
    const sessions = Array.from({ length: 10_000 }, (_, i) =>
      session({ id: `s${i}`, username: `user${i % 500}`, uptime: i * 37 }),
    );
    const started = performance.now();
    model.reset(sessions, NOW);
    for (let i = 0; i < 5_000; i++) model.upsert(session({ id: `s${(i * 7919) % 10_000}`, uptime: i * 13 }), NOW + i);
    model.setFilters({ usernameFilter: "user1*", projectFilter: "" });
    const elapsed = performance.now() - started;
    expect(model.size).toBe(10_000);
    expect(elapsed).toBeLessThan(1500); // generous for CI; locally ~50 ms
  });
});

describe("PendingChanges", () => {
  it("keeps only the latest change per session, in arrival order", () => {
    const pending = new PendingChanges();
    pending.upsert(session({ id: "a", activePages: 1 }), 1);
    pending.upsert(session({ id: "b" }), 2);
    pending.upsert(session({ id: "a", activePages: 2 }), 3);
    pending.remove("b", "timeout");
    expect([...pending.changes.keys()]).toEqual(["a", "b"]);
    expect(pending.changes.get("a")).toMatchObject({ info: { activePages: 2 }, at: 3 });
    expect(pending.changes.get("b")).toEqual({ removed: "timeout" });
  });

  it("lets a snapshot replace everything before it", () => {
    const pending = new PendingChanges();
    pending.upsert(session({ id: "a" }), 1);
    pending.setSnapshot([session({ id: "z" })], 5);
    pending.upsert(session({ id: "y" }), 6);
    expect(pending.snapshot?.map((s) => s.id)).toEqual(["z"]);
    expect([...pending.changes.keys()]).toEqual(["y"]);
    pending.clear();
    expect(pending.empty).toBe(true);
  });
});

describe("TableModel.touch", () => {
  it("moves last comm forward only, and never adds a session", () => {
    const model = new TableModel({ key: "lastComm", direction: "asc" });
    model.reset([session({ id: "a", lastComm: 0 }), session({ id: "b", lastComm: 5_000 })], NOW);
    expect(ids(model)).toEqual(["a", "b"]);
    // b communicated just now (a heartbeat the stream did not carry): it moves to the top.
    expect(model.touch("b", NOW + 1_000)).toEqual({ reordered: true, shown: true });
    expect(ids(model)).toEqual(["b", "a"]);
    expect(model.get("b")!.lastCommAt).toBe(NOW + 1_000);
    // Older or jitter-sized news changes nothing.
    expect(model.touch("b", NOW)).toEqual({ reordered: false, shown: false });
    expect(model.touch("b", NOW + 1_100)).toEqual({ reordered: false, shown: false });
    expect(model.touch("gone", NOW + 9_000)).toEqual({ reordered: false, shown: false });
    expect(model.size).toBe(2);
  });
});
