import { createHmac, timingSafeEqual } from "node:crypto";

/** What a resume credential proves: this collector (or its cluster) issued it for this session. */
export interface ResumeClaim {
  sessionId: string;
  createdAt: number;
  issuedAt: number;
}

const VERSION = "1";
/** 32 bytes of HMAC-SHA256 as unpadded base64url: 43 characters, the last one of 16 possible. */
const MAC_TEXT = /^[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/;

/**
 * Resume credentials: `1.<sessionId>.<createdAt>.<issuedAt>.<hmac>`, the HMAC-SHA256 (base64url)
 * of those fields and the project under the collector's secret. The project is signed but not
 * carried, so a credential only resumes the project it was issued for. Knowing a session id is
 * not enough to join a session.
 */
export class ResumeCredentials {
  #secret: Buffer | null = null;

  constructor(secret?: string | Buffer) {
    if (secret !== undefined) this.setSecret(secret);
  }

  /** Sets the signing secret (the collector loads it asynchronously when it starts). */
  setSecret(secret: string | Buffer): void {
    this.#secret = Buffer.isBuffer(secret) ? secret : Buffer.from(secret, "utf8");
  }

  issue(project: string, claim: ResumeClaim): string {
    const body = `${VERSION}.${claim.sessionId}.${claim.createdAt}.${claim.issuedAt}`;
    return `${body}.${this.#mac(body, project).toString("base64url")}`;
  }

  /** The claim of a credential that verifies for `project`, else null. Constant-time comparison. */
  verify(credential: string, project: string): ResumeClaim | null {
    const parts = credential.split(".");
    if (parts.length !== 5 || parts[0] !== VERSION) return null;
    const [, sessionId, createdAtText, issuedAtText, macText] = parts as [string, string, string, string, string];
    if (!/^[A-Za-z0-9_-]{1,64}$/.test(sessionId) || !/^\d{1,16}$/.test(createdAtText) || !/^\d{1,16}$/.test(issuedAtText)) {
      return null;
    }
    // Strict: exactly the unpadded base64url of a SHA-256 MAC. Buffer.from skips characters outside
    // the alphabet, so junk appended to a MAC would otherwise still verify.
    if (!MAC_TEXT.test(macText)) return null;
    const expected = this.#mac(`${VERSION}.${sessionId}.${createdAtText}.${issuedAtText}`, project);
    const given = Buffer.from(macText, "base64url");
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
    return { sessionId, createdAt: Number(createdAtText), issuedAt: Number(issuedAtText) };
  }

  #mac(body: string, project: string): Buffer {
    if (this.#secret === null) throw new Error("the resume secret is not loaded yet");
    return createHmac("sha256", this.#secret).update(body).update("\u0000").update(project).digest();
  }
}
