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

  /** Moves through readyState like the browser's: OPENED on open, DONE at once when synchronous; `respond()` delivers headers. */
  class FakeXMLHttpRequest extends EventTarget {
    opened = false;
    synchronous = false;
    readyState = 0;
    status = 0;
    open(...args: unknown[]): void {
      calls.push({ api: "xhr.open", self: this, args });
      this.opened = true;
      this.synchronous = args[2] === false;
      this.state(1);
    }
    send(...args: unknown[]): string {
      calls.push({ api: "xhr.send", self: this, args });
      if (!this.opened) throw new DOMException("The object's state must be OPENED.", "InvalidStateError");
      if (this.synchronous) this.respond(200);
      return "xhr-sent";
    }
    /** The response headers arrive with `status` (0: a network error or abort, straight to DONE). */
    respond(status: number): void {
      this.status = status;
      this.state(status ? 2 : 4);
      if (status) this.state(4);
    }
    private state(readyState: number): void {
      this.readyState = readyState;
      this.dispatchEvent(new Event("readystatechange"));
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
      const init = args[1] as RequestInit | undefined;
      // Like the browser: a GET or HEAD with a body is refused.
      const method = init?.method ?? (args[0] instanceof Request ? args[0].method : "GET");
      if (/^(GET|HEAD)$/i.test(method) && init?.body != null) return Promise.reject(new TypeError("Request with GET/HEAD method cannot have body."));
      return Promise.resolve("fetched");
    },
    XMLHttpRequest: FakeXMLHttpRequest,
    WebSocket: FakePageSocket,
  });
  storageWindow(options.profile ?? {}, win as Record<string, unknown>);
  return page;
}
