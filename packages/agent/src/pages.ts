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

/** Listens to the page's lifecycle; returns the function that stops listening. */
export function watchPage(win: PageWindow, events: PageEvents): () => void {
  const doc = win.document;
  const listeners: [EventTarget | undefined, string, (event: Event) => void][] = [
    [win, "pagehide", () => events.hide()],
    [win, "pageshow", (event) => (event as PageTransitionEvent).persisted && events.restore()],
    [win, "online", () => events.wake()],
    [doc, "visibilitychange", () => (doc.visibilityState === "visible" ? events.wake() : events.hidden())],
    [doc, "resume", () => events.wake()],
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
