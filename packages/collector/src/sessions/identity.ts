import { errors, jwtVerify } from "jose";

export type IdentityResult =
  | { ok: true; username: string; expiresAt: number }
  | { ok: false; code: "token_invalid" | "token_expired"; message: string; username: string | null };

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

  get enabled(): boolean {
    return this.#key !== null;
  }

  async verify(token: string): Promise<IdentityResult> {
    if (this.#key === null) {
      return { ok: false, code: "token_invalid", message: "this collector has no identity secret; tokens cannot be verified", username: null };
    }
    try {
      const { payload } = await jwtVerify(token, this.#key, {
        algorithms: ["HS256"],
        requiredClaims: ["exp", "sub"],
        currentDate: new Date(this.#now()),
      });
      if (typeof payload.sub !== "string" || payload.sub === "" || typeof payload.exp !== "number") {
        return { ok: false, code: "token_invalid", message: "the token has no usable `sub` or `exp`", username: null };
      }
      return { ok: true, username: payload.sub.slice(0, 256), expiresAt: payload.exp * 1000 };
    } catch (error) {
      if (error instanceof errors.JWTExpired) {
        // The signature was checked before the expiry, so this `sub` is authentic.
        const sub = typeof error.payload.sub === "string" && error.payload.sub !== "" ? error.payload.sub.slice(0, 256) : null;
        return { ok: false, code: "token_expired", message: "the identity token has expired", username: sub };
      }
      const reason = error instanceof errors.JOSEError ? error.code : "ERR_UNKNOWN";
      return { ok: false, code: "token_invalid", message: `the identity token did not verify (${reason})`, username: null };
    }
  }
}
