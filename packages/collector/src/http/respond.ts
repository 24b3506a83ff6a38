import type { IncomingMessage, ServerResponse } from "node:http";

/** Stable codes of the HTTP API's JSON errors. */
export const HTTP_ERROR_CODES = [
  "unauthorized",
  "not_found",
  "method_not_allowed",
  "bad_request",
  "too_large",
  "too_deep",
  "unsupported_media_type",
  "host_not_allowed",
  "too_many_subscribers",
  "upgrade_required",
  "not_ready",
  "internal",
] as const;
export type HttpErrorCode = (typeof HTTP_ERROR_CODES)[number];

/**
 * Resolves once `res` drains or closes, after a `write()` that returned false. With `stallMs`,
 * `onStall` is called and the promise resolves if neither happens within that long.
 */
export function waitForDrain(res: ServerResponse, stallMs?: number, onStall?: () => void): Promise<void> {
  return new Promise((resolve) => {
    const timer =
      stallMs === undefined
        ? null
        : setTimeout(() => {
            onStall?.();
            resolve();
          }, stallMs);
    timer?.unref();
    const done = (): void => {
      if (timer !== null) clearTimeout(timer);
      res.off("drain", done);
      res.off("close", done);
      resolve();
    };
    res.on("drain", done);
    res.on("close", done);
  });
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    "content-type": "application/json; charset=utf-8",
    "content-length": Buffer.byteLength(text),
    "cache-control": "no-store",
    ...headers,
  });
  res.end(text);
}

/** `{"error": {"code", "message"}}` with a 4xx or 5xx status. */
export function sendError(
  res: ServerResponse,
  status: number,
  code: HttpErrorCode,
  message: string,
  headers: Record<string, string> = {},
): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  sendJson(res, status, { error: { code, message } }, headers);
}

export class BodyTooLarge extends Error {}

/** Reads a request body up to `maxBytes`; rejects with `BodyTooLarge` beyond it without buffering more. */
export function readBody(req: IncomingMessage, maxBytes: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"]);
    if (Number.isFinite(declared) && declared > maxBytes) {
      reject(new BodyTooLarge());
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes) {
        reject(new BodyTooLarge());
        req.removeAllListeners("data");
        req.resume();
        return;
      }
      chunks.push(chunk);
    });
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}
