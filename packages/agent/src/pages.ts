import type { PageWindow } from "./environment.js";

/** What the agent does on the page's lifecycle events. */
export interface PageEvents {
  /** pagehide: the page is unloading or entering the back/forward cache. */
  hide(): void;
  /** pageshow from the back/forward cache: the same page, with the same id and counters, is back. */
  restore(): void;
  /** Back online, visible again or resumed from a freeze: reconnect now or check the socket. */
  wake(): void;
  /** Hidden: on mobile the last moment that surely runs before the page may be killed. */
  hidden(): void;
  /** The URL may have changed without a page load (history navigation in a single-page app). */
  navigate(): void;
}

/**
 * The shortest gap between two wakes. A wake skips the reconnect backoff, and while the collector is
 * down every attempt prints a browser console line: a user switching tabs every few seconds must not
 * turn that into a line every few seconds.
 */
export const WAKE_GAP_MS = 30_000;

/** Listens to the page's lifecycle; returns the function that stops listening. `now` is the clock (ms). */
export function watchPage(win: PageWindow, events: PageEvents, now: () => number = Date.now): () => void {
  const doc = win.document;
  let lastWakeAt = -Infinity;
  const wake = (): void => {
    if (now() - lastWakeAt < WAKE_GAP_MS) return;
    lastWakeAt = now();
    events.wake();
  };
  const listeners: [EventTarget | undefined, string, (event: Event) => void][] = [
    [win, "pagehide", () => events.hide()],
    [win, "pageshow", (event) => (event as PageTransitionEvent).persisted && events.restore()],
    [win, "online", wake],
    [doc, "visibilitychange", () => (doc.visibilityState === "visible" ? wake() : events.hidden())],
    [doc, "resume", wake],
    [win, "popstate", () => events.navigate()],
    // The Navigation API (Chromium) also reports pushState and replaceState.
    [(win as { navigation?: EventTarget }).navigation, "currententrychange", () => events.navigate()],
  ];
  for (const [target, type, listener] of listeners) target?.addEventListener(type, listener);
  return () => {
    for (const [target, type, listener] of listeners) target?.removeEventListener(type, listener);
  };
}

/**
 * Runs `start` now, or once a prerendered page (Speculation Rules) is actually shown: a page the
 * user never sees is not a page of the session.
 */
export function whenActivated(win: PageWindow, start: () => void): void {
  const doc = win.document as Document & { prerendering?: boolean };
  if (doc.prerendering) doc.addEventListener("prerenderingchange", start, { once: true });
  else start();
}
