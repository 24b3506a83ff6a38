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
 * (38-character boundary); other browsers differ by their boundary length per field.
 */
export function formDataSize(form: FormData): number {
  // Closing delimiter: "--" boundary "--" CRLF.
  let size = FORM_BOUNDARY_CHARS + 6;
  form.forEach((value, name) => {
    // "--" boundary CRLF, 'Content-Disposition: form-data; name="' name '"' CRLF, CRLF, value, CRLF.
    size += FORM_BOUNDARY_CHARS + 49 + headerLength(name);
    if (typeof value === "string") {
      size += utf8Length(crlf(value));
    } else {
      // '; filename="' name '"', CRLF, "Content-Type: " type CRLF, then the file's bytes.
      size += 29 + headerLength(value.name) + (value.type || "application/octet-stream").length + value.size;
    }
  });
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

function tagOf(value: object): string {
  return Object.prototype.toString.call(value).slice(8, -1);
}

/**
 * Encoded size of a request body, judged by its type tag so objects from other frames count too:
 * - string: its UTF-8 length; ArrayBuffer, typed array, DataView: `byteLength`; Blob, File: `size`
 * - URLSearchParams: UTF-8 length of its serialization
 * - FormData: `formDataSize` (the multipart body, exact in Chromium and Safari)
 * - Document (XMLHttpRequest only): UTF-8 length of its markup, an estimate
 * - ReadableStream: 0, since its length is unknown until read
 * - anything else: UTF-8 length of `String(body)`, which is what fetch sends for it
 */
export function bodySize(body: unknown): number {
  if (body == null) return 0;
  if (typeof body !== "object") return utf8Length(String(body));
  if (ArrayBuffer.isView(body)) return body.byteLength;
  const tag = tagOf(body);
  if (tag === "ArrayBuffer" || tag === "SharedArrayBuffer") return (body as ArrayBuffer).byteLength;
  if (tag === "Blob" || tag === "File") return (body as Blob).size;
  if (tag === "FormData") return formDataSize(body as FormData);
  if (tag === "ReadableStream") return 0;
  if (/Document$/.test(tag)) return utf8Length((body as Document).documentElement?.outerHTML ?? "");
  return utf8Length(String(body));
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

type AnyFunction = (this: unknown, ...args: never[]) => unknown;

/**
 * Wraps the page's request APIs so every body sent to a gateway origin is added with `add`.
 * The wrappers call the originals with the same `this` and arguments and return or throw exactly
 * what they do; a body is counted only once the original accepted it (a synchronous throw or a
 * refused beacon counts nothing). Sockets in `ownSockets` are skipped: the agent counts its frames
 * itself. Returns the uninstaller: it restores each original unless someone wrapped it after us, in
 * which case our wrapper stays in their chain but counts nothing more.
 */
export function installByteCounting(
  win: PageWindow,
  isGateway: (url: string) => boolean,
  add: (bytes: number) => void,
  ownSockets: WeakSet<object>,
): () => void {
  let active = true;
  const restores: (() => void)[] = [];
  const count = (url: unknown, body: unknown): void => {
    try {
      if (active && body != null && isGateway(String(url))) add(bodySize(body));
    } catch {
      // An unparsable URL or an exotic body must never disturb the request.
    }
  };

  function patch<T extends object>(target: T | undefined, key: keyof T & string, wrap: (original: AnyFunction) => AnyFunction): void {
    const original = target?.[key] as unknown;
    if (typeof original !== "function") return;
    const hadOwn = Object.prototype.hasOwnProperty.call(target, key);
    const wrapper = wrap(original as AnyFunction);
    const record = target as Record<string, unknown>;
    try {
      record[key] = wrapper;
    } catch {
      return; // frozen: leave it alone
    }
    restores.push(() => {
      if (record[key] !== wrapper) return;
      if (hadOwn) record[key] = original;
      else delete record[key];
    });
  }

  patch(win, "fetch", (original) =>
    function fetch(this: unknown, ...args: never[]) {
      const [input, init] = args as unknown as [unknown, RequestInit | undefined];
      let size: number | Promise<number> = 0;
      if (active) {
        try {
          const request = input != null && typeof input === "object" && tagOf(input) === "Request" ? (input as Request) : null;
          const method = (init?.method ?? request?.method ?? "GET").toUpperCase();
          if (method !== "GET" && method !== "HEAD" && isGateway(request ? request.url : String(input))) {
            if (init?.body != null) size = bodySize(init.body);
            // A Request's own body: measure a clone (a tee), taken before fetch consumes the body.
            else if (request) size = request.clone().blob().then((blob) => blob.size);
          }
        } catch {
          size = 0;
        }
      }
      const result = original.apply(this, args);
      if (typeof size === "number") {
        if (size > 0) add(size);
      } else size.then((n) => active && n > 0 && add(n), () => undefined);
      return result;
    },
  );

  const xhr = win.XMLHttpRequest?.prototype;
  const opened = new WeakMap<object, [string, string]>();
  patch(xhr, "open", (original) =>
    function open(this: unknown, ...args: never[]) {
      const result = original.apply(this, args);
      const [method, url] = args as unknown as [string, string];
      opened.set(this as object, [String(method), String(url)]);
      return result;
    },
  );
  patch(xhr, "send", (original) =>
    function send(this: unknown, ...args: never[]) {
      const result = original.apply(this, args);
      const request = opened.get(this as object);
      // GET and HEAD requests send no body, whatever was passed.
      if (request && !/^(GET|HEAD)$/i.test(request[0])) count(request[1], args[0]);
      return result;
    },
  );

  patch(win.navigator, "sendBeacon", (original) =>
    function sendBeacon(this: unknown, ...args: never[]) {
      const queued = original.apply(this, args);
      if (queued) count(args[0], args[1]);
      return queued;
    },
  );

  patch(win.WebSocket?.prototype, "send", (original) =>
    function send(this: unknown, ...args: never[]) {
      const result = original.apply(this, args);
      const socket = this as WebSocket;
      // Sends on a closing socket are dropped silently by the browser: nothing went out.
      if (socket.readyState === 1 && !ownSockets.has(socket)) count(socket.url, args[0]);
      return result;
    },
  );

  return () => {
    active = false;
    for (const restore of restores) restore();
  };
}
