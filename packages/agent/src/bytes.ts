import type { PageWindow } from "./environment.js";

/**
 * Counting the bytes a page sends to its gateway: request bodies of fetch, XMLHttpRequest and
 * sendBeacon, and WebSocket messages, to gateway origins only. Sizes are those of the encoded body
 * as it goes on the wire, never string lengths.
 */

/** UTF-8 length of a string without encoding it; lone surrogates count as U+FFFD (3 bytes), as sent. */
export function utf8Length(text: string): number {
  let length = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x80) length += 1;
    else if (code < 0x800) length += 2;
    else if (code >= 0xd800 && code < 0xdc00 && (text.charCodeAt(i + 1) & 0xfc00) === 0xdc00) {
      length += 4;
      i++;
    } else length += 3;
  }
  return length;
}

/** Boundary length of Chromium's and Safari's multipart bodies ("----WebKitFormBoundary" + 16). */
export const FORM_BOUNDARY_CHARS = 38;

/**
 * Size of the multipart/form-data body a browser builds from `form`. Exact for Chromium and Safari
 * (38-character boundary); other browsers differ by their boundary length per field. Throws for
 * anything but a FormData (the platform's own forEach checks).
 */
export function formDataSize(form: FormData): number {
  // Closing delimiter: "--" boundary "--" CRLF.
  let size = FORM_BOUNDARY_CHARS + 6;
  Reflect.apply(FormData.prototype.forEach, form, [
    (value: FormDataEntryValue, name: string) => {
      // "--" boundary CRLF, 'Content-Disposition: form-data; name="' name '"' CRLF, CRLF, value, CRLF.
      size += FORM_BOUNDARY_CHARS + 49 + headerLength(name);
      if (typeof value === "string") {
        size += utf8Length(crlf(value));
      } else {
        // '; filename="' name '"', CRLF, "Content-Type: " type CRLF, then the file's bytes.
        size += 29 + headerLength(value.name) + (value.type || "application/octet-stream").length + value.size;
      }
    },
  ]);
  return size;
}

/** Line breaks become CRLF in multipart bodies. */
function crlf(text: string): string {
  return text.replace(/\r\n|\r|\n/g, "\r\n");
}

/** Names and file names are sent with line breaks and quotes percent-escaped. */
function headerLength(name: string): number {
  return utf8Length(crlf(name).replace(/["\r\n]/g, "%22"));
}

type Getter = (target: unknown) => unknown;

/**
 * A platform getter called as the browser defined it, so that reading it never runs app code (a
 * subclass's override, a later patch) and throws for objects of another kind: a brand check. Where
 * the getter does not exist (test fakes), `loose` reads the property instead.
 */
function nativeGetter(proto: unknown, name: string, loose?: boolean): Getter {
  const get = proto ? Object.getOwnPropertyDescriptor(proto, name)?.get : undefined;
  return (target) => {
    if (get) return Reflect.apply(get, target, []);
    if (loose) return (target as Record<string, unknown>)[name];
    throw new TypeError(name);
  };
}

/** What the first getter that accepts `target` answers, or undefined. */
function read(getters: Getter[], target: unknown): unknown {
  for (const get of getters) {
    try {
      return get(target);
    } catch {
      // not this kind
    }
  }
  return undefined;
}

let platform: ReturnType<typeof platformGetters> | undefined;

/** The platform's getters, looked up on first use (never at import). */
function platformGetters() {
  const proto = (name: string): unknown => (globalThis as unknown as Record<string, { prototype?: unknown } | undefined>)[name]?.prototype;
  return {
    sizes: [
      nativeGetter(proto("Blob"), "size"),
      nativeGetter(proto("ArrayBuffer"), "byteLength"),
      nativeGetter(Object.getPrototypeOf(Uint8Array.prototype), "byteLength"),
      nativeGetter(proto("DataView"), "byteLength"),
    ],
    url: [nativeGetter(proto("URL"), "href"), nativeGetter(proto("Request"), "url")],
    responseUrl: [nativeGetter(proto("Response"), "url")],
    nodeType: [nativeGetter(proto("Node"), "nodeType")],
    stream: [nativeGetter(proto("ReadableStream"), "locked")],
  };
}

/** How an API turns a body into bytes: WebSocket.send takes text and binary only; XMLHttpRequest also a Document. */
export type BodyApi = "fetch" | "xhr" | "ws";

/**
 * Encoded size of a request body, judged with the platform's own getters, so that no app code runs
 * (no getter, toString or subclass override of the app's) and objects from other frames count too:
 * - a string (or another primitive): the UTF-8 length of `String(body)`
 * - ArrayBuffer, typed array, DataView: `byteLength`; Blob, File: `size`
 * - URLSearchParams: the UTF-8 length of its serialization; FormData: `formDataSize` (not WebSocket)
 * - XMLHttpRequest only: a Document, serialized with its doctype; a ReadableStream, which it sends
 *   as the string "[object ReadableStream]"
 * - anything else, fetch's ReadableStream included: 0, its size is unknown without reading it or
 *   running its toString a second time
 */
export function bodySize(body: unknown, api: BodyApi = "fetch"): number {
  if (body == null || typeof body === "function") return 0;
  if (typeof body !== "object") return utf8Length(String(body));
  const get = (platform ??= platformGetters());
  const size = read(get.sizes, body);
  if (size !== undefined) return size as number;
  if (api === "ws") return 0;
  try {
    return utf8Length(Reflect.apply(URLSearchParams.prototype.toString, body, []) as string);
  } catch {
    // not a URLSearchParams
  }
  try {
    return formDataSize(body as FormData);
  } catch {
    // not a FormData
  }
  if (api === "xhr") {
    if (read(get.nodeType, body) === 9) return utf8Length(documentMarkup(body as Document));
    if (read(get.stream, body) !== undefined) return 23; // "[object ReadableStream]".length
  }
  return 0;
}

/** What XMLHttpRequest sends for a Document: its children serialized, the doctype included. */
function documentMarkup(doc: Document): string {
  let markup = "";
  doc.childNodes.forEach((node) => {
    markup += node.nodeType === 1 ? (node as Element).outerHTML : new XMLSerializer().serializeToString(node);
  });
  return markup;
}

/** The URL of a fetch input or a beacon or XHR URL; an object is never converted (its toString is the app's). */
function urlOf(input: unknown): string | undefined {
  if (typeof input === "string") return input;
  if (input == null || typeof input === "object" || typeof input === "function" || typeof input === "symbol") {
    return read((platform ??= platformGetters()).url, input) as string | undefined;
  }
  return String(input);
}

/** `object[key]` when it is a data property (own or inherited): a getter is never run. */
function dataMember(object: unknown, key: string): unknown {
  for (let o = object; o != null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, key);
    if (descriptor) return descriptor.value;
  }
  return undefined;
}

/** Origin of `url` with ws: and wss: mapped to http: and https:, so a gateway's sockets match it. */
export function originOf(url: string, base?: string): string {
  const parsed = new URL(url, base);
  return `${parsed.protocol.replace(/^ws/, "http")}//${parsed.host}`;
}

/** A test for "is this URL on one of these origins", relative URLs resolved against `base`. */
export function originMatcher(origins: readonly string[], base?: string): (url: string) => boolean {
  const allowed = origins.map((origin) => originOf(origin, base));
  return (url) => allowed.indexOf(originOf(url, base)) >= 0;
}

type AnyFunction = (this: unknown, ...args: unknown[]) => unknown;

/** The object in `target`'s prototype chain that holds `key`: where the original lives. */
function holderOf(target: unknown, key: string): Record<string, unknown> | undefined {
  for (let o = target; o != null; o = Object.getPrototypeOf(o)) {
    if (Object.prototype.hasOwnProperty.call(o, key)) return o as Record<string, unknown>;
  }
  return undefined;
}

/**
 * Wraps the page's request APIs so every body sent to a gateway origin is added with `add`.
 *
 * Transparency: each wrapper is a non-constructible method with its original's name and length,
 * Function.prototype.toString answers for it as for the original, and it sits where the original
 * lives (Navigator.prototype.sendBeacon, not navigator). It calls the original first, with the very
 * `this` and arguments the app passed, and returns or throws exactly what the original does. The
 * Request class is replaced by a Proxy of itself that notes each new Request's body size. To
 * measure, the agent runs no app code (no getter, toString or subclass override is called) and
 * never reads, clones or holds a body stream.
 *
 * What counts is what was sent: a fetch once its response arrived, an XMLHttpRequest once its
 * response headers did (readyState 2, or a synchronous send that returned), a beacon the browser
 * queued, a WebSocket message on an open socket. Sockets in `ownSockets` are skipped: the agent
 * counts its frames itself. Returns the uninstaller: it restores each original unless someone
 * wrapped it after us, in which case our wrapper stays in their chain but counts nothing more.
 */
export function installByteCounting(
  win: PageWindow,
  isGateway: (url: string) => boolean,
  add: (bytes: number) => void,
  ownSockets: WeakSet<object>,
): () => void {
  let active = true;
  const apply = Reflect.apply;
  const construct = Reflect.construct;
  const get = (platform ??= platformGetters());
  const then = Promise.prototype.then;
  const originals = new WeakMap<object, AnyFunction>();
  const restores: (() => void)[] = [];
  const count = (measure: () => [string | undefined, number]): void => {
    try {
      const [url, size] = measure();
      if (active && size > 0 && url !== undefined && isGateway(url)) add(size);
    } catch {
      // An unparsable URL or an exotic body must never disturb the request.
    }
  };

  function patch(target: unknown, key: string, wrap: (original: AnyFunction) => (self: unknown, args: unknown[]) => unknown): void {
    const holder = holderOf(target, key);
    const original = holder?.[key];
    if (typeof original !== "function") return;
    const run = wrap(original as AnyFunction);
    // A method: not constructible and without a prototype, like the platform's functions.
    const wrapper = {
      [key](this: unknown, ...args: unknown[]) {
        return run(this, args);
      },
    }[key]!;
    try {
      Object.defineProperty(wrapper, "length", { value: original.length });
      Object.defineProperty(wrapper, "name", { value: original.name });
      holder![key] = wrapper;
    } catch {
      return; // frozen: leave it alone
    }
    originals.set(wrapper, original as AnyFunction);
    restores.push(() => {
      if (holder![key] === wrapper) holder![key] = original;
    });
  }

  /**
   * The body size of each Request built since the agent started, taken from what its constructor
   * was given (never read from the Request, whose body is a stream): `fetch(request)` counts it.
   */
  const requestSizes = new WeakMap<object, number>();
  /** The body a fetch or Request init gives, or the input Request's: its size. */
  const sizeOf = (input: unknown, init: unknown): number => {
    // init.body when it is a data property (no getter is run); null or absent keeps the input's body.
    const body = init != null ? dataMember(init, "body") : undefined;
    return body != null ? bodySize(body) : (requestSizes.get(input as object) ?? 0);
  };
  const globals = win as unknown as Record<string, unknown>;
  const RequestClass = globals["Request"] as (new (...args: unknown[]) => object) | undefined;
  const requestProto = RequestClass?.prototype as Record<string, unknown> | undefined;
  if (typeof RequestClass === "function" && requestProto?.["constructor"] === RequestClass) {
    // A Proxy: the same prototype, name, length and static members, constructible and subclassable.
    const constructor = new Proxy(RequestClass, {
      construct(target, args, newTarget) {
        const request = construct(target, args, newTarget) as object;
        try {
          if (active) requestSizes.set(request, sizeOf(args[0], args[1]));
        } catch {
          // never disturb the app
        }
        return request;
      },
    });
    try {
      globals["Request"] = constructor;
      requestProto["constructor"] = constructor;
      originals.set(constructor, RequestClass as unknown as AnyFunction);
      restores.push(() => {
        if (globals["Request"] === constructor) globals["Request"] = RequestClass;
        if (requestProto["constructor"] === constructor) requestProto["constructor"] = RequestClass;
      });
    } catch {
      // frozen: leave it alone
    }
  }

  patch(win, "fetch", (original) => (self, args) => {
    const result = apply(original, self, args);
    try {
      const url = urlOf(args[0]);
      const size = active ? sizeOf(args[0], args[1]) : 0;
      // Counted once the response arrived: a request the browser refused, or that failed, counts nothing.
      if (size > 0) {
        return apply(then, result, [
          (response: unknown) => {
            count(() => [url ?? (read(get.responseUrl, response) as string | undefined), size]);
            return response;
          },
        ]);
      }
    } catch {
      // not a native promise, or an exotic argument: hand back what fetch returned
    }
    return result;
  });

  const xhrProto = win.XMLHttpRequest?.prototype;
  const xhrState = nativeGetter(xhrProto, "readyState", true);
  const xhrStatus = nativeGetter(xhrProto, "status", true);
  const xhrUrl = nativeGetter(xhrProto, "responseURL", true);
  const events = (win.EventTarget ?? EventTarget).prototype;
  /** Per request, what open() was given: the method (looked at only when a string) and the URL when known. */
  const opened = new WeakMap<object, [unknown, string | undefined]>();
  /** Per request, the send waiting for its response. */
  const pending = new WeakMap<object, object>();
  patch(xhrProto, "open", (original) => (self, args) => {
    const result = apply(original, self, args);
    opened.set(self as object, [args[0], urlOf(args[1])]);
    pending.delete(self as object);
    return result;
  });
  patch(xhrProto, "send", (original) => (self, args) => {
    const result = apply(original, self, args);
    const request = opened.get(self as object);
    try {
      const [method, url] = request!;
      // GET and HEAD send no body, whatever was passed.
      const size = active && typeof method === "string" && !/^(GET|HEAD)$/i.test(method) ? bodySize(args[0], "xhr") : 0;
      if (size > 0) {
        const token = {};
        pending.set(self as object, token);
        const check = (): void => {
          apply(events.removeEventListener, self, ["readystatechange", check]);
          if (pending.get(self as object) !== token) return;
          pending.delete(self as object);
          if ((xhrState(self) as number) >= 2 && (xhrStatus(self) as number) > 0) count(() => [url ?? (xhrUrl(self) as string), size]);
        };
        if (xhrState(self) === 4) check(); // synchronous: done already
        else apply(events.addEventListener, self, ["readystatechange", check]);
      }
    } catch {
      // never disturb the request
    }
    return result;
  });

  patch(win.navigator, "sendBeacon", (original) => (self, args) => {
    const queued = apply(original, self, args);
    if (queued) count(() => [urlOf(args[0]), bodySize(args[1])]);
    return queued;
  });

  const socketProto = win.WebSocket?.prototype;
  const socketState = nativeGetter(socketProto, "readyState", true);
  const socketUrl = nativeGetter(socketProto, "url", true);
  patch(socketProto, "send", (original) => (self, args) => {
    const result = apply(original, self, args);
    // Sends on a closing socket are dropped silently by the browser: nothing went out.
    if (!ownSockets.has(self as object)) count(() => [socketState(self) === 1 ? (socketUrl(self) as string) : undefined, bodySize(args[0], "ws")]);
    return result;
  });

  // Function.prototype.toString answers for a wrapper as for its original.
  if (restores.length) {
    patch((win.Function ?? Function).prototype, "toString", (original) => (self, args) => apply(original, originals.get(self as object) ?? self, args));
  }

  return () => {
    active = false;
    for (const restore of restores) restore();
  };
}
