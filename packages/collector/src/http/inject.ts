import { createServer, request as httpRequest, type IncomingMessage, type RequestListener } from "node:http";
import { Duplex, Readable } from "node:stream";

/**
 * Answers web `Request`s with a `node:http` request listener, in process and without a port (as
 * hono's `app.request()`): a real `node:http` server and client talk over an in-memory socket pair,
 * so parsing, chunking, backpressure and close events are exactly those of a listening collector.
 * The response resolves once its head arrives; its body streams (an event stream works too: cancel
 * the body or abort the request's signal to end it).
 */
export function createInjector(listener: RequestListener): (input: string | URL | Request, init?: RequestInit) => Promise<Response> {
  const server = createServer(listener);
  return async (input, init) => {
    const request = input instanceof Request && init === undefined ? input : new Request(toUrl(input), init);
    const url = new URL(request.url);
    const body = request.body === null ? null : Buffer.from(await request.arrayBuffer());
    const headers: Record<string, string> = {};
    request.headers.forEach((value, name) => (headers[name] = value));
    headers["host"] ??= url.host;
    if (body !== null) headers["content-length"] = String(body.length);
    const [clientSide, serverSide] = socketPair();
    server.emit("connection", serverSide);
    return new Promise<Response>((resolve, reject) => {
      const outgoing = httpRequest({
        createConnection: () => clientSide as never,
        method: request.method,
        path: `${url.pathname}${url.search}`,
        headers,
      });
      const abort = (): void => {
        outgoing.destroy(new Error("the request was aborted"));
      };
      request.signal.addEventListener("abort", abort, { once: true });
      outgoing.on("error", (error) => {
        request.signal.removeEventListener("abort", abort);
        reject(error);
      });
      outgoing.on("response", (res: IncomingMessage) => resolve(toResponse(res, request.method)));
      outgoing.end(body ?? undefined);
    });
  };
}

function toUrl(input: string | URL | Request): string {
  if (input instanceof Request) return input.url;
  return new URL(input, "http://localhost").href;
}

const NULL_BODY_STATUSES = new Set([101, 204, 205, 304]);

function toResponse(res: IncomingMessage, method: string): Response {
  const headers = new Headers();
  for (let i = 0; i < res.rawHeaders.length; i += 2) headers.append(res.rawHeaders[i]!, res.rawHeaders[i + 1]!);
  const status = res.statusCode ?? 500;
  if (NULL_BODY_STATUSES.has(status) || method === "HEAD") {
    res.resume();
    return new Response(null, { status, statusText: res.statusMessage, headers });
  }
  return new Response(Readable.toWeb(res) as ReadableStream<Uint8Array>, { status, statusText: res.statusMessage, headers });
}

/** One end of an in-memory socket pair, with the few `net.Socket` methods `node:http` calls. */
class MemorySocket extends Duplex {
  peer: MemorySocket | null = null;
  readonly remoteAddress = "127.0.0.1";
  readonly remotePort = 0;
  readonly remoteFamily = "IPv4";
  readonly localAddress = "127.0.0.1";
  readonly localPort = 0;

  override _read(): void {}

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    this.peer?.push(chunk);
    callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.peer?.push(null);
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    const peer = this.peer;
    this.peer = null;
    if (peer !== null && !peer.destroyed) {
      peer.peer = null;
      peer.destroy();
    }
    callback(error);
  }

  setTimeout(_ms: number, callback?: () => void): this {
    if (callback !== undefined) this.once("timeout", callback);
    return this;
  }

  setNoDelay(): this {
    return this;
  }

  setKeepAlive(): this {
    return this;
  }

  address(): { address: string; family: string; port: number } {
    return { address: this.localAddress, family: "IPv4", port: this.localPort };
  }

  ref(): this {
    return this;
  }

  unref(): this {
    return this;
  }
}

function socketPair(): [MemorySocket, MemorySocket] {
  const a = new MemorySocket();
  const b = new MemorySocket();
  a.peer = b;
  b.peer = a;
  return [a, b];
}
