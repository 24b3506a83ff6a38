import { createHmac } from "node:crypto";

/** An HS256 JWT as a gateway signs it: `sub` is the username, `exp` in seconds. */
export function signToken(secret: string, sub: string, expiresInSeconds: number): string {
  const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString("base64url");
  const body = `${encode({ alg: "HS256", typ: "JWT" })}.${encode({ sub, exp: Math.floor(Date.now() / 1000) + expiresInSeconds })}`;
  return `${body}.${createHmac("sha256", secret).update(body).digest("base64url")}`;
}
