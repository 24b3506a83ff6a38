import { describe, expect, it } from "vitest";
import type { PageWindow } from "../src/environment.js";
import { WAKE_GAP_MS, watchPage, whenActivated, type PageEvents } from "../src/pages.js";
import { fakePage } from "./testUtils/fakeWindow.js";

function watch(page = fakePage(), clock = { now: 0 }) {
  const seen: string[] = [];
  const events: PageEvents = {
    hide: () => seen.push("hide"),
    restore: () => seen.push("restore"),
    wake: () => seen.push("wake"),
    navigate: () => seen.push("navigate"),
    hidden: () => seen.push("hidden"),
  };
  const unwatch = watchPage(page.window as unknown as PageWindow, events, () => clock.now);
  return { page, seen, unwatch, clock };
}

describe("watchPage", () => {
  it("maps the page lifecycle to hide, restore, wake and navigate", () => {
    const { page, seen } = watch();
    page.fire("pagehide", { persisted: false });
    page.fire("pageshow", { persisted: false }); // a first load: nothing to restore
    page.fire("pageshow", { persisted: true });
    page.fire("online");
    page.setVisibility("hidden");
    page.fire("popstate");
    expect(seen).toEqual(["hide", "restore", "wake", "hidden", "navigate"]);
  });

  it(`wakes at most once per ${WAKE_GAP_MS / 1000} s, whichever event (online, visible, resume) asks`, () => {
    const { page, seen, clock } = watch();
    page.fire("online");
    clock.now += 1000;
    page.setVisibility("hidden");
    page.setVisibility("visible"); // a tab switch right after: no second wake
    page.document.dispatchEvent(new Event("resume"));
    clock.now += WAKE_GAP_MS - 1000;
    page.setVisibility("visible");
    clock.now += WAKE_GAP_MS;
    page.document.dispatchEvent(new Event("resume"));
    expect(seen).toEqual(["wake", "hidden", "wake", "wake"]);
  });

  it("hears pushState and replaceState through the Navigation API where there is one", () => {
    const page = fakePage();
    const navigation = new EventTarget();
    page.window["navigation"] = navigation;
    const { seen } = watch(page);
    navigation.dispatchEvent(new Event("currententrychange"));
    expect(seen).toEqual(["navigate"]);
  });

  it("stops listening when told", () => {
    const { page, seen, unwatch } = watch();
    unwatch();
    page.fire("pagehide");
    page.fire("online");
    page.setVisibility("visible");
    expect(seen).toEqual([]);
  });
});

describe("whenActivated", () => {
  it("starts at once on a normal page, and only on activation on a prerendered one", () => {
    let started = 0;
    const page = fakePage();
    whenActivated(page.window as unknown as PageWindow, () => started++);
    expect(started).toBe(1);
    const prerendered = fakePage();
    Object.assign(prerendered.document, { prerendering: true });
    whenActivated(prerendered.window as unknown as PageWindow, () => started++);
    expect(started).toBe(1);
    prerendered.document.dispatchEvent(new Event("prerenderingchange"));
    prerendered.document.dispatchEvent(new Event("prerenderingchange"));
    expect(started).toBe(2);
  });
});
