import { storageWindow, type FakeProfile } from "./fakeStorage.js";

/**
 * A page for the agent without a browser: an EventTarget with location, document, navigator and
 * the request APIs the agent wraps. The request APIs record their calls and `this`, and can be told
 * to throw, so tests can tell whether a wrapper is transparent.
 */
export interface FakePage {
  window: Record<string, unknown> & EventTarget;
  document: EventTarget & { visibilityState: string };
  location: URL;
  calls: { api: string; self: unknown; args: unknown[] }[];
  /** Dispatches a page event (pagehide, pageshow, online, popstate...) on the window. */
  fire(type: string, fields?: Record<string, unknown>): void;
  /** Sets the visibility and dispatches visibilitychange on the document. */
  setVisibility(state: "visible" | "hidden"): void;
  /** Moves to another URL without a page load, like history.pushState. */
  navigate(url: string): void;
}

export function fakePage(options: { href?: string; userAgent?: string; maxTouchPoints?: number; profile?: FakeProfile } = {}): FakePage {
  const calls: FakePage["calls"] = [];
  const win = new EventTarget() as FakePage["window"];
  const document = Object.assign(new EventTarget(), { visibilityState: "visible" });
  const page: FakePage = {
    window: win,
    document,
    location: new URL(options.href ?? "https://app.example.com/orders/42?customer=billy#top"),
    calls,
    fire(type, fields = {}) {
      win.dispatchEvent(Object.assign(new Event(type), fields));
    },
    setVisibility(state) {
      document.visibilityState = state;
      document.dispatchEvent(new Event("visibilitychange"));
    },
    navigate(url) {
      page.location = new URL(url, page.location);
      win["location"] = page.location;
    },
  };

  class FakeXMLHttpRequest {
    opened = false;
    open(...args: unknown[]): void {
      calls.push({ api: "xhr.open", self: this, args });
      this.opened = true;
    }
    send(...args: unknown[]): string {
      calls.push({ api: "xhr.send", self: this, args });
      if (!this.opened) throw new DOMException("The object's state must be OPENED.", "InvalidStateError");
      return "xhr-sent";
    }
  }

  class FakePageSocket {
    readyState = 1;
    constructor(readonly url: string) {}
    send(...args: unknown[]): void {
      calls.push({ api: "ws.send", self: this, args });
      if (this.readyState === 0) throw new DOMException("Still in CONNECTING state.", "InvalidStateError");
    }
  }

  Object.assign(win, {
    location: page.location,
    document,
    navigator: {
      userAgent: options.userAgent ?? "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
      maxTouchPoints: options.maxTouchPoints ?? 0,
      sendBeacon(this: unknown, ...args: unknown[]) {
        calls.push({ api: "sendBeacon", self: this, args });
        return args[0] !== "https://app.example.com/refused";
      },
    },
    fetch(this: unknown, ...args: unknown[]) {
      calls.push({ api: "fetch", self: this, args });
      return Promise.resolve("fetched");
    },
    XMLHttpRequest: FakeXMLHttpRequest,
    WebSocket: FakePageSocket,
  });
  storageWindow(options.profile ?? {}, win as Record<string, unknown>);
  return page;
}
