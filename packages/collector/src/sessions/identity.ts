import { errors, jwtVerify } from "jose";

export type IdentityResult =
  | { ok: true; username: string; expiresAt: number }
  | {
      ok: false;
      code: "token_invalid" | "token_expired";
      message: string;
      /**
       * For `token_expired` only: the token's authentic `sub`. It is NOT a verified identity (the
       * token was already expired): the session model shows it only when the session had already
       * verified that same `sub` with a token that was valid then.
       */
      expiredSub: string | null;
    };

/**
 * The latest token expiry kept: 9999-12-31T23:59:59Z. A signed `exp` beyond it (e.g. 9e15) is
 * clamped, so every expiry stays a safe integer that `Date` can format and the snapshot can keep.
 */
export const MAX_TOKEN_EXPIRES_AT = 253_402_300_799_000;

/**
 * Verifies identity tokens: HS256 only (so `alg: none` and asymmetric confusion are refused), with
 * `exp` and a non-empty `sub` required. Without a secret nothing verifies: a username an agent
 * merely claims is never shown.
 */
export class IdentityVerifier {
  readonly #key: Uint8Array | null;
  readonly #now: () => number;

  constructor(secret: string | undefined, now: () => number) {
    this.#key = secret === undefined ? null : new TextEncoder().encode(secret);
    this.#now = now;
  }

  async verify(token: string): Promise<IdentityResult> {
    if (this.#key === null) {
      return { ok: false, code: "token_invalid", message: "this collector has no identity secret; tokens cannot be verified", expiredSub: null };
    }
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        requiredClaims: ["exp", "sub"],
        currentDate: new Date(this.#now()),
      });
      if (typeof payload.sub !== "string" || payload.sub === "" || typeof payload.exp !== "number") {
        return { ok: false, code: "token_invalid", message: "the token has no usable `sub` or `exp`", expiredSub: null };
      }
      const expiresAt = Math.min(Math.floor(payload.exp * 1000), MAX_TOKEN_EXPIRES_AT);
      return { ok: true, username: payload.sub.slice(0, 256), expiresAt };
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        // The signature was checked before the expiry, so this `sub` is authentic, but a token that
        // arrives expired verifies no one: see `expiredSub`.
        const sub = typeof error.payload.sub === "string" && error.payload.sub !== "" ? error.payload.sub.slice(0, 256) : null;
        return { ok: false, code: "token_expired", message: "the identity token has expired", expiredSub: sub };
      }
      const reason = error instanceof errors.JOSEError ? error.code : "ERR_UNKNOWN";
      return { ok: false, code: "token_invalid", message: `the identity token did not verify (${reason})`, expiredSub: null };
    }
  }
}
