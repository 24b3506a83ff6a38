import { LIMITS } from "@sessionlens/shared";
import type { Environment } from "./environment.js";

/** An identity JWT, or a function that fetches a fresh one (called again when it expires). */
export type TokenSource = string | (() => Promise<string | null> | string | null);

/** The identity the agent presents: what `token`, `setToken()` and `clearToken()` decide. */
export interface Identity {
  /** The token to present now, or null. */
  token(): string | null;
  /** Login (a token or a token function) or logout (null). */
  set(source: TokenSource | null | undefined): void;
  /** The collector said the token expired: call the token function again, if there is one. */
  expired(): void;
  /** Settles once a pending token function call has (at most `waitMs` later), so a hello can carry it. */
  ready(): Promise<void>;
}

/** `onChange` receives each new token (or null) to send to the collector. */
export function createIdentity(
  initial: TokenSource | null | undefined,
  onChange: (token: string | null) => void,
  env: Environment,
  waitMs: number,
): Identity {
  let source: TokenSource | null | undefined;
  let current: string | null = null;
  let pending: Promise<void> | null = null;
  // Answers of a token function that was replaced since it was called are dropped.
  let generation = 0;

  const accept = (token: unknown): void => {
    const next = typeof token === "string" && token.length > 0 ? token : null;
    if (next && next.length > LIMITS.tokenMaxChars) {
      console.warn(`[sessionlens] identity token ignored: longer than ${LIMITS.tokenMaxChars} characters`);
      return;
    }
    if (next === current) return;
    current = next;
    onChange(next);
  };

  const fetchToken = (fn: () => Promise<string | null> | string | null): void => {
    const mine = ++generation;
    const call = Promise.resolve()
      .then(fn)
      .then(
        (token) => mine === generation && accept(token),
        (error: unknown) => mine === generation && console.warn("[sessionlens] token function failed", error),
      )
      .then(() => {
        if (pending === call) pending = null;
      });
    pending = call;
  };

  const set = (next: TokenSource | null | undefined): void => {
    source = next;
    generation++;
    pending = null;
    if (typeof next === "function") fetchToken(next);
    else accept(next);
  };

  set(initial);
  return {
    token: () => current,
    set,
    expired: () => {
      if (typeof source === "function" && !pending) fetchToken(source);
    },
    ready: () =>
      pending ? Promise.race([pending, new Promise<void>((wake) => env.setTimeout(wake, waitMs))]) : Promise.resolve(),
  };
}
