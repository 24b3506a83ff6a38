import { afterEach, describe, expect, it } from "vitest";
import { FORM_BOUNDARY_CHARS, bodySize, formDataSize, installByteCounting, originMatcher, originOf, utf8Length } from "../src/bytes.js";
import type { PageWindow } from "../src/environment.js";
import { fakePage, type FakePage } from "./testUtils/fakeWindow.js";

describe("utf8Length", () => {
  it("equals the UTF-8 encoding's length, surrogate pairs and lone surrogates included", () => {
    const samples = ["", "abc", "é", "€", "日本語", "😀", "a😀b", "\ud800", "x\udc00y", "\ud83d", "😀\ud83d", "\u0000\u007f\u0080\u07ff\u0800\uffff"];
    for (let i = 0; i < 200; i++) {
      samples.push(String.fromCharCode(...Array.from({ length: 20 }, () => Math.floor(Math.random() * 0x10000))));
    }
    for (const text of samples) expect(utf8Length(text), JSON.stringify(text)).toBe(new TextEncoder().encode(text).length);
  });
});

/** What Node's fetch (undici) sends for a body, as the browser would: the reference for bodySize. */
async function wireBytes(body: BodyInit): Promise<{ length: number; boundary: number }> {
  const request = new Request("https://x/", { method: "POST", body });
  const boundary = /boundary=(.+)$/.exec(request.headers.get("content-type") ?? "")?.[1]?.length ?? 0;
  return { length: (await request.arrayBuffer()).byteLength, boundary };
}

describe("bodySize", () => {
  it.each<[string, () => unknown, number]>([
    ["null", () => null, 0],
    ["undefined", () => undefined, 0],
    ["ASCII string", () => "hello", 5],
    ["non-ASCII string", () => "héllo €😀", 14],
    ["ArrayBuffer", () => new ArrayBuffer(100), 100],
    ["Uint8Array", () => new Uint8Array(7), 7],
    ["a view on part of a buffer", () => new Uint16Array(new ArrayBuffer(64), 8, 4), 8],
    ["Float64Array", () => new Float64Array(3), 24],
    ["DataView", () => new DataView(new ArrayBuffer(10), 2, 5), 5],
    ["Blob", () => new Blob(["héllo"]), 6],
    ["File", () => new File(["abc"], "a.txt"), 3],
    ["URLSearchParams", () => new URLSearchParams({ q: "a b&c", é: "€" }), "q=a+b%26c&%C3%A9=%E2%82%AC".length],
    ["ReadableStream (unknown until read)", () => new ReadableStream(), 0],
    ["a number, sent as its string", () => 12345, 5],
    ["a plain object: 0, measuring it would run its toString again", () => ({ a: 1 }), 0],
  ])("%s", (_name, make, expected) => {
    expect(bodySize(make())).toBe(expected);
  });

  it("matches the real encoded bytes of strings, buffers, blobs and URLSearchParams", async () => {
    for (const body of ["plain", "ünïcödé 😀", new Uint8Array(33), new Blob(["x".repeat(1000)]), new URLSearchParams("a=1&b=ü ö")]) {
      expect(bodySize(body)).toBe((await wireBytes(body)).length);
    }
  });

  it("computes a FormData's multipart size exactly, up to the browser's boundary length", async () => {
    const form = new FormData();
    form.append("name", "billy");
    form.append("note", "line one\nline two\r\nthree\rfour"); // line breaks become CRLF
    form.append("ünï", "€");
    form.append('quo"te', "x");
    form.append("file", new File(["file contents"], "report.csv", { type: "text/csv" }));
    form.append("blob", new Blob([new Uint8Array(100)])); // no type: application/octet-stream
    const wire = await wireBytes(form);
    const entries = 6;
    // Node's boundary differs in length from Chromium's 38 characters; all else is identical.
    expect(formDataSize(form) + (entries + 1) * (wire.boundary - FORM_BOUNDARY_CHARS)).toBe(wire.length);
    expect(bodySize(form)).toBe(formDataSize(form));
    expect(formDataSize(new FormData())).toBe(FORM_BOUNDARY_CHARS + 6);
  });
});

describe("origins", () => {
  it("maps ws: and wss: to http: and https:, keeps ports and resolves relative URLs", () => {
    expect(originOf("wss://app.example.com/ws")).toBe("https://app.example.com");
    expect(originOf("ws://127.0.0.1:8787/ws")).toBe("http://127.0.0.1:8787");
    expect(originOf("https://app.example.com:443/x")).toBe("https://app.example.com");
    expect(originOf("/api/orders", "https://app.example.com/page")).toBe("https://app.example.com");
    const isGateway = originMatcher(["https://app.example.com", "ws://127.0.0.1:8787/ws"], "https://app.example.com/");
    expect(isGateway("/api")).toBe(true);
    expect(isGateway("http://127.0.0.1:8787/api")).toBe(true);
    expect(isGateway("wss://app.example.com/live")).toBe(true);
    expect(isGateway("https://cdn.example.com/x")).toBe(false);
    expect(isGateway("http://app.example.com/x")).toBe(false);
  });
});

describe("installByteCounting", () => {
  let page: FakePage;
  let counted: number[];
  let uninstall: () => void;
  const own = new WeakSet<object>();
  const win = (): PageWindow => page.window as unknown as PageWindow;
  const api = <T = (...args: unknown[]) => unknown>(path: string): T => {
    const w = page.window as Record<string, unknown>;
    return (path === "sendBeacon" ? (w["navigator"] as Record<string, unknown>)["sendBeacon"] : w[path]) as T;
  };

  function install(): void {
    page = fakePage();
    counted = [];
    const isGateway = originMatcher(["https://app.example.com", "wss://collector.example.com"], page.location.href);
    uninstall = installByteCounting(win(), isGateway, (n) => counted.push(n), own);
  }

  afterEach(() => uninstall?.());

  it("counts fetch bodies to gateway origins, not GET/HEAD or other origins, and returns what fetch returns", async () => {
    install();
    const fetch = api<(input: unknown, init?: RequestInit) => Promise<unknown>>("fetch");
    expect(await fetch("/api/orders", { method: "POST", body: "héllo" })).toBe("fetched");
    await fetch(new URL("https://app.example.com/api"), { method: "PUT", body: new Uint8Array(10) });
    await fetch("/api", { method: "GET" });
    await expect(fetch("/api", { body: "refused", method: "head" })).rejects.toThrow(TypeError);
    await fetch("https://cdn.example.com/upload", { method: "POST", body: "elsewhere" });
    await fetch("/api", { method: "POST" });
    expect(counted).toEqual([6, 10]);
    expect(page.calls.filter((call) => call.api === "fetch")).toHaveLength(6);
  });

  it("never reads a Request's own body: counts it 0 and hands fetch the untouched Request; init.body counts", async () => {
    install();
    const fetch = api<(input: unknown, init?: RequestInit) => Promise<unknown>>("fetch");
    const request = new Request("https://app.example.com/api", { method: "POST", body: "twelve bytes" });
    await fetch(request);
    expect(counted).toEqual([]);
    const passed = page.calls.at(-1)!.args[0] as Request;
    expect(passed).toBe(request);
    expect(passed.bodyUsed).toBe(false);
    expect(await passed.text()).toBe("twelve bytes");
    // init.body replaces the Request's body, as in fetch.
    await fetch(new Request("https://app.example.com/api", { method: "POST", body: "long long body" }), { body: "ab" });
    expect(counted).toEqual([2]);
  });

  it("counts a Request's body from what its constructor was given, through a Proxy that is still the Request class", async () => {
    page = fakePage();
    class PageRequest extends Request {}
    page.window["Request"] = PageRequest;
    counted = [];
    uninstall = installByteCounting(win(), () => true, (n) => counted.push(n), own);
    const Wrapped = page.window["Request"] as typeof Request;
    expect(Wrapped).not.toBe(PageRequest);
    expect(Wrapped.prototype.constructor).toBe(Wrapped);
    expect(Function.prototype.toString.call(Wrapped)).toBe(Function.prototype.toString.call(PageRequest));
    const fetch = api<(input: unknown, init?: RequestInit) => Promise<unknown>>("fetch");
    const request = new Wrapped("https://app.example.com/api", { method: "POST", body: "twelve bytes" });
    expect(request).toBeInstanceOf(PageRequest);
    await fetch(request);
    expect(request.bodyUsed).toBe(false); // measured without reading
    await fetch(new Wrapped(request)); // a Request from a Request takes over its body
    await fetch(new Wrapped("https://app.example.com/api", { method: "POST", body: new ReadableStream(), duplex: "half" } as RequestInit));
    expect(counted).toEqual([12, 12]);
    uninstall();
    expect(page.window["Request"]).toBe(PageRequest);
    expect(PageRequest.prototype.constructor).toBe(PageRequest);
  });

  it("counts a fetch only once its response arrived, and hands back a promise that settles the same way", async () => {
    install();
    const fetch = api<(input: unknown, init?: RequestInit) => Promise<unknown>>("fetch");
    const refused = fetch("/api", { method: "GET", body: "refused" });
    await expect(refused).rejects.toThrow(/GET\/HEAD/);
    const pending = fetch("/api", { method: "POST", body: "abc" });
    expect(counted).toEqual([]); // not before the response
    expect(await pending).toBe("fetched");
    expect(counted).toEqual([3]);
  });

  it("runs no app code to measure: no getter of init, no toString of a URL-like input", async () => {
    install();
    const fetch = api<(input: unknown, init?: RequestInit) => Promise<unknown>>("fetch");
    let reads = 0;
    const init = Object.defineProperty({ method: "POST" }, "body", { get: () => (reads++, "behind a getter"), enumerable: true });
    let conversions = 0;
    const input = { toString: () => (conversions++, "/api") };
    await fetch(input, init as RequestInit);
    expect([reads, conversions]).toEqual([0, 0]);
    expect(counted).toEqual([]); // a body behind a getter is not measured
    await fetch(new URL("https://app.example.com/api"), Object.assign(Object.create({ body: "inherited" }), { method: "POST" }) as RequestInit);
    expect(counted).toEqual([9]);
  });

  it("wrappers look like the originals: name, length, not constructible, toString", () => {
    install();
    const fetch = api<(...args: unknown[]) => unknown>("fetch");
    expect(fetch.name).toBe("fetch");
    expect(fetch.length).toBe(0); // the fake's own length
    expect("prototype" in fetch).toBe(false);
    expect(() => new (fetch as unknown as new () => unknown)()).toThrow(TypeError);
    const XHR = page.window["XMLHttpRequest"] as { prototype: Record<string, (...args: unknown[]) => unknown> };
    expect(XHR.prototype["open"]!.name).toBe("open");
    expect(Function.prototype.toString.call(XHR.prototype["send"])).toMatch(/^send\(\.\.\.args\)/); // the fake's own source
    expect(Function.prototype.toString.call(Function.prototype.toString)).toBe("function toString() { [native code] }");
    uninstall();
    expect(Function.prototype.toString.call(Function.prototype.toString)).toBe("function toString() { [native code] }");
  });

  it("counts XMLHttpRequest bodies once the response headers arrive, keeps `this`, return values and errors", () => {
    install();
    type FakeXHR = { open(...a: unknown[]): void; send(body?: unknown): unknown; respond(status: number): void };
    const XHR = api<new () => FakeXHR>("XMLHttpRequest");
    const xhr = new XHR();
    expect(() => xhr.send("too early")).toThrow(/OPENED/); // the original's error, and nothing counted
    xhr.open("POST", "/api/orders");
    expect(xhr.send(new Blob(["12345"]))).toBe("xhr-sent");
    expect(counted).toEqual([]);
    xhr.respond(200);
    expect(counted).toEqual([5]);
    const get = new XHR();
    get.open("GET", "/api");
    get.send("ignored by browsers");
    get.respond(200);
    const other = new XHR();
    other.open("POST", "https://cdn.example.com/");
    other.send("x");
    other.respond(200);
    const failed = new XHR();
    failed.open("POST", "/api");
    failed.send("a network error");
    failed.respond(0);
    const sync = new XHR();
    sync.open("PUT", "/api", false);
    sync.send("sync");
    expect(counted).toEqual([5, 4]);
    expect(page.calls.filter((call) => call.api.startsWith("xhr")).every((call) => call.self instanceof XHR)).toBe(true);
  });

  it("counts sendBeacon data only when the browser queued it", () => {
    install();
    const sendBeacon = api<(url: string, data?: unknown) => boolean>("sendBeacon");
    const navigator = page.window["navigator"];
    expect(sendBeacon.call(navigator, "/collect", new URLSearchParams("a=1"))).toBe(true);
    expect(sendBeacon.call(navigator, "https://app.example.com/refused", "lost")).toBe(false);
    expect(counted).toEqual([3]);
    expect(page.calls.at(-1)!.self).toBe(navigator);
  });

  it("counts WebSocket messages to gateway origins, but not the agent's own socket or closed sockets", () => {
    install();
    const PageSocket = api<new (url: string) => { readyState: number; send(data: unknown): void }>("WebSocket");
    const gateway = new PageSocket("wss://app.example.com/live");
    gateway.send("hi");
    gateway.send(new ArrayBuffer(8));
    new PageSocket("wss://elsewhere.example.com/").send("x");
    const agentSocket = new PageSocket("wss://collector.example.com/ws");
    own.add(agentSocket);
    agentSocket.send(new Uint8Array(40));
    const closing = new PageSocket("wss://app.example.com/live");
    closing.readyState = 2;
    closing.send("dropped");
    const connecting = new PageSocket("wss://app.example.com/live");
    connecting.readyState = 0;
    expect(() => connecting.send("x")).toThrow(/CONNECTING/);
    expect(counted).toEqual([2, 8]);
  });

  it("restores every original on uninstall", () => {
    page = fakePage();
    const originals = { fetch: page.window["fetch"], beacon: (page.window["navigator"] as Record<string, unknown>)["sendBeacon"] };
    const XHR = page.window["XMLHttpRequest"] as { prototype: Record<string, unknown> };
    const xhrSend = XHR.prototype["send"];
    const undo = installByteCounting(win(), () => true, () => undefined, own);
    expect(page.window["fetch"]).not.toBe(originals.fetch);
    expect(XHR.prototype["send"]).not.toBe(xhrSend);
    undo();
    expect(page.window["fetch"]).toBe(originals.fetch);
    expect((page.window["navigator"] as Record<string, unknown>)["sendBeacon"]).toBe(originals.beacon);
    expect(XHR.prototype["send"]).toBe(xhrSend);
  });

  it("goes quiet but stays in the chain when the page wrapped fetch after the agent", async () => {
    install();
    const ours = api<(...args: unknown[]) => Promise<unknown>>("fetch");
    const theirs = function (this: unknown, ...args: unknown[]) {
      return ours.apply(this, args);
    };
    page.window["fetch"] = theirs;
    uninstall();
    expect(page.window["fetch"]).toBe(theirs);
    expect(await theirs("/api", { method: "POST", body: "x" })).toBe("fetched");
    expect(counted).toEqual([]);
  });
});
