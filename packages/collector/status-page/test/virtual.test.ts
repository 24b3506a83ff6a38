import { describe, expect, it } from "vitest";
import { contentHeight, scrollToReveal, visibleWindow } from "../src/virtual.js";

describe("visibleWindow", () => {
  it("covers the viewport plus overscan at the top", () => {
    expect(visibleWindow(0, 400, 40, 10_000, 5)).toEqual({ start: 0, end: 15 });
  });

  it("follows the scroll position, with overscan on both sides", () => {
    // scrollTop 4000 = row 100; 400 px show rows 100..109.
    expect(visibleWindow(4000, 400, 40, 10_000, 5)).toEqual({ start: 95, end: 115 });
    // A partly visible row at the bottom is included.
    expect(visibleWindow(4020, 400, 40, 10_000, 0)).toEqual({ start: 100, end: 111 });
  });

  it("clamps at the end of the list and never exceeds the row count", () => {
    expect(visibleWindow(399_600, 400, 40, 10_000, 5)).toEqual({ start: 9985, end: 10_000 });
    // Scrolled past the end (the list shrank under the viewport): still a valid, non-empty window.
    expect(visibleWindow(1_000_000, 400, 40, 10, 2)).toEqual({ start: 7, end: 10 });
  });

  it("renders a bounded number of rows whatever the session count", () => {
    for (const count of [1, 50, 10_000, 1_000_000]) {
      const { start, end } = visibleWindow(count * 20, 800, 40, count, 8);
      expect(end - start).toBeLessThanOrEqual(20 + 1 + 16);
      expect(start).toBeGreaterThanOrEqual(0);
      expect(end).toBeLessThanOrEqual(count);
    }
  });

  it("is empty with no rows and safe with odd inputs", () => {
    expect(visibleWindow(0, 400, 40, 0)).toEqual({ start: 0, end: 0 });
    expect(visibleWindow(-50, 400, 40, 3, 0)).toEqual({ start: 0, end: 3 });
    expect(visibleWindow(0, 0, 40, 3, 0)).toEqual({ start: 0, end: 1 });
    expect(visibleWindow(0, 400, 0, 3)).toEqual({ start: 0, end: 0 });
  });
});

describe("contentHeight and scrollToReveal", () => {
  it("sizes the body for every row", () => {
    expect(contentHeight(40, 10_000)).toBe(400_000);
    expect(contentHeight(40, 0)).toBe(0);
  });

  it("scrolls as little as possible to show a row", () => {
    expect(scrollToReveal(5, 0, 400, 40)).toBe(0); // already visible
    expect(scrollToReveal(20, 0, 400, 40)).toBe(440); // below: its bottom at the viewport's bottom
    expect(scrollToReveal(2, 400, 400, 40)).toBe(80); // above: its top at the viewport's top
  });
});
