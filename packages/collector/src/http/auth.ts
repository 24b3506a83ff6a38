import { createHash, timingSafeEqual } from "node:crypto";
import type { IncomingMessage } from "node:http";

/**
 * Checks `Authorization: Bearer <token>` in constant time (both sides hashed first, so neither the
 * content nor the length leaks through timing). Without a configured token every call passes.
 */
export function createBearerCheck(apiToken: string | undefined): (req: IncomingMessage) => boolean {
  if (apiToken === undefined) return () => true;
  const expected = digest(apiToken);
  return (req) => {
    const header = req.headers.authorization;
    if (typeof header !== "string") return false;
    const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
    if (match === null) return false;
    return timingSafeEqual(digest(match[1]!), expected);
  };
}

function digest(text: string): Buffer {
  return createHash("sha256").update(text, "utf8").digest();
}
