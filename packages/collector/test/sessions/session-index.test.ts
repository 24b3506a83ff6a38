import { describe, expect, it } from "vitest";
import { compileQuery } from "../../src/query/filter.js";
import type { SessionRecord } from "../../src/sessions/records.js";
import { SessionIndex } from "../../src/sessions/session-index.js";
import { makeRecord } from "../store.contract.js";

const ids = (records: SessionRecord[]) => records.map((record) => record.id).sort();

describe("SessionIndex", () => {
  it("adds, gets and counts sessions", () => {
    const index = new SessionIndex();
    index.add(makeRecord("a", { username: "billy" }));
    index.add(makeRecord("b"));
    expect(index.size).toBe(2);
    expect(index.get("a")?.username).toBe("billy");
    expect(index.get("missing")).toBeUndefined();
  });

  it("a username change re-indexes the session", () => {
    const index = new SessionIndex();
    const record = makeRecord("a");
    index.add(record);
    record.username = "billy";
    index.usernameChanged(record, "Unauthenticated");
    expect(ids(index.query(compileQuery({ usernameFilter: "billy" })))).toEqual(["a"]);
    expect(index.query(compileQuery({ usernameFilter: "Unauthenticated" }))).toEqual([]);
    expect(index.size).toBe(1);
  });

  it("queries by username, project, both, wildcards and none", () => {
    const index = new SessionIndex();
    index.add(makeRecord("1", { username: "billy", project: "MyProject" }));
    index.add(makeRecord("2", { username: "billy", project: "Other" }));
    index.add(makeRecord("3", { username: "bob", project: "MyProject" }));
    index.add(makeRecord("4", { username: "Billy", project: "MyProject" }));
    index.add(makeRecord("5", { username: "b.lly", project: "My(Project)" }));
    const q = (usernameFilter?: string, projectFilter?: string) => ids(index.query(compileQuery({ usernameFilter, projectFilter })));
    expect(q()).toEqual(["1", "2", "3", "4", "5"]);
    expect(q("billy")).toEqual(["1", "2"]);
    expect(q(undefined, "MyProject")).toEqual(["1", "3", "4"]);
    expect(q("billy", "MyProject")).toEqual(["1"]);
    expect(q("b*")).toEqual(["1", "2", "3", "5"]);
    expect(q("*lly", "My*")).toEqual(["1", "4", "5"]);
    expect(q("b.lly")).toEqual(["5"]);
    expect(q(undefined, "My(Project)")).toEqual(["5"]);
    expect(q("nobody")).toEqual([]);
  });

  it("delete removes the session from every index", () => {
    const index = new SessionIndex();
    const record = makeRecord("a", { username: "billy" });
    index.add(record);
    index.delete(record);
    expect(index.get("a")).toBeUndefined();
    expect(index.size).toBe(0);
    expect(index.query(compileQuery({ usernameFilter: "billy" }))).toEqual([]);
  });

  it("an exact filter only looks at its index entry: the other field is tested once per match", () => {
    const index = new SessionIndex();
    for (let i = 0; i < 2_000; i++) index.add(makeRecord(`s${i}`, { username: `user${i % 100}`, project: `P${i % 7}` }));
    const query = compileQuery({ usernameFilter: "user42", projectFilter: "P*" });
    let tested = 0;
    const project = { ...query.project, test: (value: string) => (tested++, query.project.test(value)) };
    const result = index.query({ username: query.username, project });
    expect(result).toHaveLength(20);
    expect(tested).toBe(20);
  });

  it("drops index entries that become empty", () => {
    const index = new SessionIndex();
    const record = makeRecord("a", { username: "billy" });
    index.add(record);
    record.username = "bob";
    index.usernameChanged(record, "billy");
    index.delete(record);
    expect(index.indexSizes()).toEqual({ usernames: 0, projects: 0 });
  });
});
