/**
 * The CLI's side of the query client: `sessions` and `close` are built on `createClient`
 * (`@sessionlens/collector/client`), and failures become one clear line.
 */
import { SessionLensHttpError } from "@sessionlens/shared/client";
import { createClient, type SessionLensClient } from "../client.js";

/** A failure to report on stderr with exit code 1. */
export class CliError extends Error {}

/** Requests other than the event stream give up after this long. */
export const REQUEST_TIMEOUT_MS = 30_000;

export function clientFor(url: string, token: string | undefined): { client: SessionLensClient; origin: string } {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new CliError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  if (base.protocol !== "http:" && base.protocol !== "https:") throw new CliError(`--url must be http or https, not ${JSON.stringify(url)}`);
  const timed: typeof fetch = (input, init) => fetch(input, { ...init, signal: init?.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
  return { client: createClient({ url: base.href, token, fetch: timed }), origin: base.origin };
}

/** One line for what went wrong talking to the collector at `origin`. */
export function describeError(error: unknown, origin: string): string {
  if (error instanceof SessionLensHttpError) {
    return error.code === "http_error" ? error.message : `${error.status} ${error.code}: ${error.message}`;
  }
  if (error instanceof Error && error.name === "TimeoutError") return `the collector at ${origin} did not answer within ${REQUEST_TIMEOUT_MS / 1000} s`;
  const cause = (error as { cause?: { code?: string; message?: string } } | null)?.cause;
  const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
  return `cannot reach the collector at ${origin}: ${why}`;
}
