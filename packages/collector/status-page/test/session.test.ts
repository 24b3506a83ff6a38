import { SESSION_INFO_KEYS } from "@sessionlens/shared";
import { describe, expect, it } from "vitest";
import { readRemoved, readSessionInfo, readSessionList } from "../src/session.js";
import { session } from "./sessions.js";

describe("reading sessions from the API", () => {
  it("keeps the thirteen SPEC keys as they are", () => {
    const info = session({ id: "s1", pageIds: ["p1", "p2"], activePages: 2, authorized: true, sessionScope: "ios" });
    const read = readSessionInfo(JSON.parse(JSON.stringify(info)));
    expect(read).toEqual(info);
    expect(Object.keys(read!).sort()).toEqual([...SESSION_INFO_KEYS].sort());
  });

  it("fills odd or missing fields with safe values instead of breaking the page", () => {
    expect(
      readSessionInfo({ id: "s2", uptime: "12", lastComm: -4, sessionScope: "toaster", pageIds: ["a", 7], authorized: "yes" }),
    ).toEqual({
      userAgent: "",
      id: "s2",
      username: "Unauthenticated",
      authorized: false,
      project: "",
      uptime: 0,
      clientAddress: "",
      lastComm: 0,
      sessionScope: "browser",
      activePages: 1,
      recentBytesSent: 0,
      totalBytesSent: 0,
      pageIds: ["a"],
    });
  });

  it("skips what has no id", () => {
    expect(readSessionInfo(null)).toBeNull();
    expect(readSessionInfo({ id: 5 })).toBeNull();
    expect(readSessionList([{ id: "a" }, "junk", { id: "" }, null]).map((s) => s.id)).toEqual(["a"]);
    expect(readSessionList({ not: "an array" })).toEqual([]);
  });

  it("reads remove events", () => {
    expect(readRemoved({ id: "a", reason: "timeout" })).toEqual({ id: "a", reason: "timeout" });
    expect(readRemoved({ id: "a" })).toEqual({ id: "a", reason: "ended" });
    expect(readRemoved([])).toBeNull();
  });
});
