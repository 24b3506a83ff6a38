import { decodeHttpError, SessionLensHttpError } from "@sessionlens/shared/client";
import { describe, expect, it } from "vitest";

describe("decodeHttpError", () => {
  it("reads the collector's {error: {code, message}}", async () => {
    const response = new Response(JSON.stringify({ error: { code: "unauthorized", message: "an API token is required" } }), {
      status: 401,
      headers: { "content-type": "application/json" },
    });
    const error = await decodeHttpError(response);
    expect(error).toBeInstanceOf(SessionLensHttpError);
    expect(error).toMatchObject({ status: 401, code: "unauthorized", message: "an API token is required" });
  });

  it("keeps the status line and the code http_error for any other body", async () => {
    for (const body of ["<html>Bad Gateway</html>", "", "null", '{"error":"nope"}', '{"error":{"code":7}}']) {
      const error = await decodeHttpError(new Response(body, { status: 502, statusText: "Bad Gateway" }));
      expect(error).toMatchObject({ status: 502, code: "http_error", message: "HTTP 502 Bad Gateway" });
    }
  });

  it("never throws on a body that was already read", async () => {
    const response = new Response("{}", { status: 500 });
    await response.text();
    expect(await decodeHttpError(response)).toMatchObject({ status: 500, code: "http_error", message: "HTTP 500" });
  });
});
