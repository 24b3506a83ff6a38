import { describe, expect, it } from "vitest";
import { readSessionDetails } from "../src/details-data.js";
import { session } from "./sessions.js";

describe("readSessionDetails", () => {
  it("reads the collector's details: device parse, times, pages", () => {
    const details = readSessionDetails({
      ...session({ id: "s1", pageIds: ["p1", "p2"], activePages: 2 }),
      createdAt: "2025-06-03T14:00:00.000Z",
      lastCommAt: "2025-06-03T14:05:00.000Z",
      tokenExpiresAt: null,
      closedPagesBytes: 300,
      device: {
        browser: { name: "Mobile Safari", version: "17.5" },
        os: { name: "iOS", version: "17.5" },
        device: { type: "mobile", vendor: "Apple", model: "iPhone" },
        engine: { name: "WebKit", version: "605.1.15" },
        summary: "Mobile Safari 17 on iOS 17.5 (Apple iPhone)",
      },
      pages: [
        {
          id: "p1",
          path: "/orders/<script>",
          bytes: 2048,
          connected: true,
          openedAt: "2025-06-03T14:00:00.000Z",
          connectedAt: "2025-06-03T14:01:00.000Z",
          disconnectedAt: null,
        },
        { id: "p2", path: "/", bytes: 0, connected: false, openedAt: 1, connectedAt: 2, disconnectedAt: 3 },
      ],
    });
    expect(details).toMatchObject({
      browser: "Mobile Safari 17.5",
      os: "iOS 17.5",
      device: "mobile · Apple iPhone",
      engine: "WebKit 605.1.15",
      summary: "Mobile Safari 17 on iOS 17.5 (Apple iPhone)",
      label: { browser: "Mobile Safari 17", os: "iOS", label: "Mobile Safari 17 · iOS" },
      createdAt: Date.UTC(2025, 5, 3, 14, 0, 0),
      closedPagesBytes: 300,
    });
    expect(details!.tokenExpiresAt).toBeNaN();
    expect(details!.pages[0]).toEqual({
      id: "p1",
      path: "/orders/<script>",
      bytes: 2048,
      connected: true,
      openedAt: Date.UTC(2025, 5, 3, 14, 0, 0),
      connectedAt: Date.UTC(2025, 5, 3, 14, 1, 0),
      disconnectedAt: Number.NaN,
    });
    expect(details!.pages[1]).toMatchObject({ connected: false, disconnectedAt: 3 });
  });

  it("falls back to page ids alone when the answer has no page details", () => {
    const details = readSessionDetails(session({ id: "s1", pageIds: ["p1"] }));
    expect(details!.pages.map((p) => p.id)).toEqual(["p1"]);
    expect(details!.browser).toBe("");
    expect(details!.pages[0]!.bytes).toBeNaN();
  });

  it("returns null for something that is not a session", () => {
    expect(readSessionDetails({ error: { code: "not_found" } })).toBeNull();
  });
});
