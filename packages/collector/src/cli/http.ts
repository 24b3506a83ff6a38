/** Talks to a collector for `sessions` and `close`; turns failures into one clear line. */
export class CliHttpError extends Error {}

export async function callCollector(url: string, token: string | undefined, method: string, path: string, body?: unknown): Promise<Response> {
  let base: URL;
  try {
    base = new URL(url);
  } catch {
    throw new CliHttpError(`--url ${JSON.stringify(url)} is not a URL`);
  }
  const headers: Record<string, string> = { accept: "application/json" };
  if (token) headers["authorization"] = `Bearer ${token}`;
  if (body !== undefined) headers["content-type"] = "application/json";
  try {
    return await fetch(new URL(path, base), {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
  } catch (error) {
    const cause = (error as { cause?: { code?: string; message?: string } }).cause;
    const why = cause?.code ?? cause?.message ?? (error instanceof Error ? error.message : String(error));
    throw new CliHttpError(`cannot reach the collector at ${base.origin}: ${why}`);
  }
}

/** The collector's `{"error": {"message"}}`, or the status line. */
export async function describeFailure(response: Response): Promise<string> {
  const text = await response.text().catch(() => "");
  try {
    const parsed = JSON.parse(text) as { error?: { code?: string; message?: string } };
    if (parsed.error?.message) return `${response.status} ${parsed.error.code ?? ""}: ${parsed.error.message}`.replace(" :", ":");
  } catch {
    // not JSON
  }
  return `HTTP ${response.status} ${response.statusText}`.trim();
}
