import { describe, expect, it } from "vitest";
import { ClusterSession } from "../../src/cluster/view.js";
import { encodeContribution, mergeParts } from "../../src/store/redis-codec.js";
import { makePage, makeRecord } from "../store.contract.js";

/** A session hash as Redis holds it: one contribution per node. */
function hash(parts: Record<string, ReturnType<typeof makeRecord>>, extra: Record<string, string> = {}): Record<string, string> {
  const fields: Record<string, string> = { project: "MyProject", createdAt: "1764000000000", ...extra };
  for (const [node, record] of Object.entries(parts)) fields[`n:${node}`] = encodeContribution(record, 0, 1);
  return fields;
}

describe("the cluster view of one session", () => {
  it("merges nodes' parts: pages with their node, bytes summed with the closed bytes, latest lastComm", () => {
    const parts = mergeParts(
      "s",
      hash(
        {
          a: makeRecord("s", { lastCommAt: 10, closedPagesBytes: 5, pages: [makePage("p1", 100)] }),
          b: makeRecord("s", { lastCommAt: 20, recentBytesSent: 3, pages: [makePage("p2", 40)] }),
        },
        { closed: "7" },
      ),
      null,
    )!;
    expect(parts.record).toMatchObject({ totalBytesSent: 152, closedPagesBytes: 12, lastCommAt: 20, recentBytesSent: 3 });
    expect([...parts.record!.pages.values()].map((page) => [page.id, page.node])).toEqual([
      ["p1", "a"],
      ["p2", "b"],
    ]);
  });

  it("a page two nodes claim (its agent moved) is shown once, connected copy first, counted once with the larger count", () => {
    const old = makePage("p", 100);
    old.disconnectedAt = 5;
    const moved = { ...makePage("p", 120), connectedAt: 1_764_000_000_500 };
    const parts = mergeParts("s", hash({ dead: makeRecord("s", { pages: [old] }), live: makeRecord("s", { pages: [moved] }) }), null)!;
    expect(parts.record!.totalBytesSent).toBe(120);
    expect([...parts.record!.pages.values()]).toEqual([expect.objectContaining({ id: "p", node: "live", epochBytes: 120 })]);
  });

  it("joins this node's live record with the others' parts without counting a shared page twice", () => {
    const local = makeRecord("s", { totalBytesSent: 150, closedPagesBytes: 0, lastCommAt: 30, pages: [makePage("p", 150)] });
    const view = new ClusterSession("s", "me", () => 0);
    view.local = local;
    view.remote = mergeParts("s", hash({ me: local, other: makeRecord("s", { lastCommAt: 10, pages: [makePage("p", 140), makePage("q", 9)] }) }), "me");
    expect(view.totalBytesSent).toBe(150 + 9);
    expect(view.lastCommAt).toBe(30);
    expect(Object.fromEntries([...view.pages.values()].map((page) => [page.id, page.node]))).toEqual({ p: "me", q: "other" });
    // This node's bytes rise in place: the view follows without a copy.
    local.pages.get("p")!.epochBytes = 200;
    local.totalBytesSent = 200;
    expect(view.totalBytesSent).toBe(200 + 9);
  });

  it("the latest identity change on any node is the one shown", () => {
    const local = makeRecord("s", { username: "alice", authorized: true });
    const other = makeRecord("s", { username: "bob", authorized: true });
    let localChangedAt = 100;
    const view = new ClusterSession("s", "me", () => localChangedAt);
    view.local = local;
    const fields = hash({});
    fields["n:other"] = encodeContribution(other, 200, 1);
    view.remote = mergeParts("s", fields, "me");
    expect(view.username).toBe("bob");
    localChangedAt = 300;
    expect(view.username).toBe("alice");
  });
});
