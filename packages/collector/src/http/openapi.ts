import { readFile } from "node:fs/promises";
import type { ServerResponse } from "node:http";

/** The committed OpenAPI 3.1 description, `packages/collector/openapi.json` (shipped in the package). */
export const OPENAPI_FILE = new URL("../../openapi.json", import.meta.url);

let cached: Promise<Buffer> | null = null;

/** `GET /api/v1/openapi.json`: the description, read once and kept. */
export async function sendOpenApi(res: ServerResponse, head: boolean): Promise<void> {
  cached ??= readFile(OPENAPI_FILE).catch((error: unknown) => {
    cached = null;
    throw error;
  });
  const body = await cached;
  res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": body.length, "cache-control": "no-cache" });
  res.end(head ? undefined : body);
}
