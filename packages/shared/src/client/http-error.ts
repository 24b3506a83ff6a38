/**
 * The collector's errors are JSON `{"error": {"code", "message"}}` with a 4xx or 5xx status.
 * One decoder for every client: a body that is not that shape (a proxy's HTML page, an empty
 * answer) keeps the status line and the code "http_error".
 */

/** An HTTP answer that was not a success, with the collector's stable error code. */
export class SessionLensHttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = "SessionLensHttpError";
  }
}

/** The code of an answer without a JSON error body. */
export const GENERIC_HTTP_ERROR = "http_error";

/** Decodes `{"error": {"code", "message"}}` from an answer (consuming its body); never throws. */
export async function decodeHttpError(response: Response): Promise<SessionLensHttpError> {
  let code = GENERIC_HTTP_ERROR;
  let message = `HTTP ${response.status} ${response.statusText}`.trim();
  try {
    const body = JSON.parse(await response.text()) as { error?: { code?: unknown; message?: unknown } } | null;
    const error = body?.error;
    if (typeof error?.code === "string" && error.code !== "") code = error.code;
    if (typeof error?.message === "string" && error.message !== "") message = error.message;
  } catch {
    // Not our JSON error (or the body broke off): keep the status line.
  }
  return new SessionLensHttpError(response.status, code, message);
}
