import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";
import { extname, join, normalize, sep } from "node:path";

/** No inline scripts or styles: everything an agent reported is shown as text, never run. */
export const STATUS_PAGE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; " +
  "font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

const SECURITY_HEADERS = {
  "content-security-policy": STATUS_PAGE_CSP,
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "x-frame-options": "DENY",
};

const CONTENT_TYPES: Record<string, string> = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".json": "application/json; charset=utf-8",
  ".map": "application/json; charset=utf-8",
  ".woff2": "font/woff2",
  ".txt": "text/plain; charset=utf-8",
};

const NOT_BUILT = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>SessionLens</title></head>
<body><h1>SessionLens collector</h1>
<p>The status page is not built. Build it with <code>pnpm --filter @sessionlens/status-page build</code>
and reload. The API is available at <code>/api/v1/sessions</code>.</p></body></html>
`;

/** Serves the built status page: `/` is index.html, `/assets/...` its files. */
export class StatusPage {
  constructor(private readonly dir: string) {}

  /** Handles a GET/HEAD for `/` or `/assets/*`; false when the path is not the page's. */
  async serve(pathname: string, res: ServerResponse, head: boolean): Promise<boolean> {
    if (pathname === "/" || pathname === "/index.html") {
      const html = await readFile(join(this.dir, "index.html")).catch(() => null);
      if (html === null) {
        this.#send(res, 200, "text/html; charset=utf-8", Buffer.from(NOT_BUILT), head, "no-store");
      } else {
        this.#send(res, 200, "text/html; charset=utf-8", html, head, "no-cache");
      }
      return true;
    }
    if (!pathname.startsWith("/assets/")) return false;
    let relative: string;
    try {
      relative = decodeURIComponent(pathname.slice(1));
    } catch {
      return false;
    }
    if (relative.includes("\u0000")) return false;
    const root = normalize(this.dir + sep);
    const file = normalize(join(this.dir, relative));
    // Never outside the page's folder.
    if (!file.startsWith(root + "assets" + sep)) return false;
    const body = await readFile(file).catch(() => null);
    if (body === null) return false;
    const type = CONTENT_TYPES[extname(file).toLowerCase()] ?? "application/octet-stream";
    // Vite names assets by content hash, so they can be cached for good.
    this.#send(res, 200, type, body, head, "public, max-age=31536000, immutable");
    return true;
  }

  #send(res: ServerResponse, status: number, type: string, body: Buffer, head: boolean, cacheControl: string): void {
    res.writeHead(status, {
      ...SECURITY_HEADERS,
      "content-type": type,
      "content-length": body.length,
      "cache-control": cacheControl,
    });
    res.end(head ? undefined : body);
  }
}
