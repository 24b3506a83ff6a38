import { readFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { Validator } from "@seriousme/openapi-schema-validator";
import { Ajv2020, type ValidateFunction } from "ajv/dist/2020.js";
import addFormatsModule from "ajv-formats";
import { beforeAll, describe, expect, it } from "vitest";
import { OPENAPI_FILE } from "../../src/http/openapi.js";
import { eventually } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";
import { SseReader } from "../helpers/sse.js";

// ajv-formats is CommonJS with a default export; under ESM interop it may arrive wrapped.
const addFormats = ((addFormatsModule as unknown as { default?: unknown }).default ?? addFormatsModule) as (ajv: Ajv2020) => void;

type Json = Record<string, unknown>;
interface Operation {
  responses: Record<string, { content?: Record<string, { schema?: Json }> } | { $ref: string }>;
  parameters?: Json[];
  "x-sse-events"?: Record<string, { $ref: string }>;
}

let doc: Json & {
  paths: Record<string, Record<string, Operation>>;
  components: { responses: Record<string, Json>; schemas: Record<string, unknown>; securitySchemes: Record<string, Json> };
};
let ajv: Ajv2020;

beforeAll(async () => {
  doc = JSON.parse(await readFile(OPENAPI_FILE, "utf8")) as typeof doc;
  ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema(doc, "openapi.json");
});

/** A compiled validator for a JSON pointer into the document (`#/components/schemas/X`). */
function schemaAt(pointer: string): ValidateFunction {
  const validate = ajv.getSchema(`openapi.json${pointer}`);
  if (validate === undefined) throw new Error(`no schema at ${pointer}`);
  return validate;
}

function expectValid(validate: ValidateFunction, value: unknown, what: string): void {
  const valid = validate(value);
  expect(valid, `${what}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(value).slice(0, 500)}`).toBe(true);
}

function escapePointer(segment: string): string {
  return segment.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** Checks that an answer's status is documented for the operation, and its JSON body matches the schema. */
async function expectDocumented(response: Response, method: string, pathTemplate: string): Promise<unknown> {
  const operation = doc.paths[pathTemplate]?.[method.toLowerCase()];
  expect(operation, `${method} ${pathTemplate} is described`).toBeDefined();
  const status = String(response.status);
  const documented = operation!.responses[status];
  expect(documented, `${method} ${pathTemplate} documents ${status}`).toBeDefined();
  let pointer = `#/paths/${escapePointer(pathTemplate)}/${method.toLowerCase()}/responses/${status}`;
  let answer = documented as { content?: Record<string, { schema?: Json }> };
  if ("$ref" in documented!) {
    pointer = documented.$ref as string;
    answer = doc.components.responses[pointer.split("/").at(-1)!] as typeof answer;
  }
  const type = (response.headers.get("content-type") ?? "").split(";")[0]!.trim();
  if (answer.content === undefined) {
    expect(await response.text(), `${method} ${pathTemplate} ${status} has no body`).toBe("");
    return undefined;
  }
  expect(Object.keys(answer.content), `${method} ${pathTemplate} ${status} content type`).toContain(type);
  if (type !== "application/json") return response.text();
  const body = (await response.json()) as unknown;
  expectValid(schemaAt(`${pointer}/content/application~1json/schema`), body, `${method} ${pathTemplate} ${status}`);
  return body;
}

/** A GET with another Host header (fetch may not set one), as a Response. */
function withHost(url: string, host: string): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { headers: { host } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (chunk: Buffer) => chunks.push(chunk));
      res.on("end", () => {
        const headers = new Headers();
        for (const [name, value] of Object.entries(res.headers)) if (typeof value === "string") headers.set(name, value);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode!, headers }));
      });
    });
    req.on("error", reject);
    req.end();
  });
}

describe("openapi.json", () => {
  it("is a valid OpenAPI 3.1 document whose references all resolve", async () => {
    const validator = new Validator();
    const result = await validator.validate(OPENAPI_FILE.pathname);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(validator.version).toBe("3.1");
    expect(() => validator.resolveRefs()).not.toThrow();
  });

  it("has schemas Ajv compiles in the 2020-12 dialect, and describes every route and the Bearer scheme", () => {
    const components = doc.components;
    for (const name of Object.keys(components.schemas)) expect(() => schemaAt(`#/components/schemas/${name}`), name).not.toThrow();
    expect(components.securitySchemes["bearerAuth"]).toMatchObject({ type: "http", scheme: "bearer" });
    expect(Object.keys(doc.paths).sort()).toEqual(
      [
        "/",
        "/api/v1/events",
        "/api/v1/openapi.json",
        "/api/v1/sessions",
        "/api/v1/sessions/{id}",
        "/api/v1/sessions/{id}/messages",
        "/api/v1/sessions/{id}/pages/{pageId}",
        "/api/v1/stats",
        "/healthz",
        "/metrics",
        "/readyz",
        "/ws",
      ].sort(),
    );
    expect(Object.keys(doc.paths["/api/v1/events"]!["get"]!["x-sse-events"]!)).toEqual(["snapshot", "upsert", "remove", "partial"]);
  });
});

describe("a live collector's answers validate against openapi.json", () => {
  const t = useCollector();
  const api = (path: string, init?: RequestInit) => fetch(`${t.url}${path}`, init);

  it("serves the committed document at GET /api/v1/openapi.json", async () => {
    await t.start();
    const response = await api("/api/v1/openapi.json");
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual(doc);
    const token = await t.start({ apiToken: "openapi-token" });
    expect((await fetch(`${token.url}/api/v1/openapi.json`)).status).toBe(401);
  });

  it("list, details, messages, closes, stats, health and metrics", async () => {
    await t.start();
    const agent = await t.join({ bytes: 120, path: "/orders" });
    const second = await t.join({ resume: agent.welcome!.resume, path: "/home" });
    const id = agent.welcome!.sessionId;

    await expectDocumented(await api("/api/v1/sessions"), "GET", "/api/v1/sessions");
    await expectDocumented(await api("/api/v1/sessions?usernameFilter=Unauth*&projectFilter=x"), "GET", "/api/v1/sessions");
    const details = (await expectDocumented(await api(`/api/v1/sessions/${id}`), "GET", "/api/v1/sessions/{id}")) as Json;
    expect((details["pages"] as unknown[]).length).toBe(2);

    const post = (body: unknown) =>
      api(`/api/v1/sessions/${id}/messages`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    expect(await expectDocumented(await post({ type: "notice", payload: { n: [1, "a", null] } }), "POST", "/api/v1/sessions/{id}/messages")).toEqual({
      delivered: 2,
    });
    await expectDocumented(await post({ type: "one", payload: 1, pageId: second.pageId }), "POST", "/api/v1/sessions/{id}/messages");

    const stats = (await expectDocumented(await api("/api/v1/stats"), "GET", "/api/v1/stats")) as { samples: unknown[] };
    expect(stats.samples.length).toBeGreaterThan(0);
    await expectDocumented(await api("/api/v1/stats?since=0"), "GET", "/api/v1/stats");
    await expectDocumented(await api("/healthz"), "GET", "/healthz");
    await expectDocumented(await api("/readyz"), "GET", "/readyz");
    await expectDocumented(await api("/metrics"), "GET", "/metrics");
    await expectDocumented(await api("/"), "GET", "/");
    for (const path of ["/api/v1/sessions", `/api/v1/sessions/${id}`, "/api/v1/stats", "/api/v1/openapi.json", "/healthz", "/readyz", "/"]) {
      const template = path.replace(id, "{id}");
      const head = await api(path, { method: "HEAD" });
      expect(head.status, `HEAD ${path}`).toBe(200);
      expect(doc.paths[template]!["head"]!.responses["200"], `HEAD ${template} is described`).toBeDefined();
    }

    await expectDocumented(await api(`/api/v1/sessions/${id}/pages/${second.pageId}`, { method: "DELETE" }), "DELETE", "/api/v1/sessions/{id}/pages/{pageId}");
    await expectDocumented(
      await api(`/api/v1/sessions/${id}`, { method: "DELETE", headers: { "content-type": "application/json" }, body: JSON.stringify({ message: "bye" }) }),
      "DELETE",
      "/api/v1/sessions/{id}",
    );
  });

  it("every error answer", async () => {
    await t.start({ maxMessageBytes: 1_024 });
    const agent = await t.join();
    const id = agent.welcome!.sessionId;
    const json = { "content-type": "application/json" };
    const cases: [Response, string, string, number, string][] = [
      [await api("/api/v1/sessions/nope"), "GET", "/api/v1/sessions/{id}", 404, "not_found"],
      [await api("/api/v1/sessions/nope", { method: "DELETE" }), "DELETE", "/api/v1/sessions/{id}", 404, "not_found"],
      [await api(`/api/v1/sessions/${id}/pages/nope`, { method: "DELETE" }), "DELETE", "/api/v1/sessions/{id}/pages/{pageId}", 404, "not_found"],
      [await api("/api/v1/sessions", { method: "POST" }), "GET", "/api/v1/sessions", 405, "method_not_allowed"],
      [await api("/api/v1/stats", { method: "DELETE" }), "GET", "/api/v1/stats", 405, "method_not_allowed"],
      [
        await api("/api/v1/sessions/nope/messages", { method: "POST", headers: json, body: '{"type":"x"}' }),
        "POST",
        "/api/v1/sessions/{id}/messages",
        404,
        "not_found",
      ],
      [
        await api(`/api/v1/sessions/${id}/messages`, { method: "POST", headers: json, body: "{not json" }),
        "POST",
        "/api/v1/sessions/{id}/messages",
        400,
        "bad_request",
      ],
      [
        await api(`/api/v1/sessions/${id}/messages`, { method: "POST", headers: json, body: '{"type":""}' }),
        "POST",
        "/api/v1/sessions/{id}/messages",
        400,
        "bad_request",
      ],
      [
        await api(`/api/v1/sessions/${id}/messages`, { method: "POST", headers: json, body: JSON.stringify({ type: "x", payload: "y".repeat(2_000) }) }),
        "POST",
        "/api/v1/sessions/{id}/messages",
        413,
        "too_large",
      ],
      [await api("/api/v1/stats?since=soon"), "GET", "/api/v1/stats", 400, "bad_request"],
      [
        await api(`/api/v1/sessions/${id}/messages`, { method: "POST", headers: { "content-type": "text/plain" }, body: '{"type":"x"}' }),
        "POST",
        "/api/v1/sessions/{id}/messages",
        415,
        "unsupported_media_type",
      ],
      [
        await api(`/api/v1/sessions/${id}`, { method: "DELETE", headers: { "content-type": "text/plain" }, body: "bye" }),
        "DELETE",
        "/api/v1/sessions/{id}",
        415,
        "unsupported_media_type",
      ],
      [await withHost(`${t.url}/api/v1/sessions`, "rebound.example"), "GET", "/api/v1/sessions", 403, "host_not_allowed"],
      [await withHost(`${t.url}/healthz`, "rebound.example"), "GET", "/healthz", 403, "host_not_allowed"],
      [await api("/ws"), "GET", "/ws", 426, "upgrade_required"],
    ];
    for (const [response, method, path, status, code] of cases) {
      expect(response.status, `${method} ${path}`).toBe(status);
      expect(((await expectDocumented(response, method, path)) as { error: { code: string } }).error.code).toBe(code);
    }

    const locked = await t.start({ apiToken: "s3cret" });
    for (const [method, path, url] of [
      ["GET", "/api/v1/sessions", "/api/v1/sessions"],
      ["GET", "/api/v1/stats", "/api/v1/stats"],
      ["GET", "/api/v1/events", "/api/v1/events"],
      ["DELETE", "/api/v1/sessions/{id}", "/api/v1/sessions/x"],
    ] as const) {
      const response = await fetch(`${locked.url}${url}`, { method });
      expect(response.status).toBe(401);
      await expectDocumented(response, method, path);
    }
    const allowed = await fetch(`${locked.url}/api/v1/sessions`, { headers: { authorization: "Bearer s3cret" } });
    await expectDocumented(allowed, "GET", "/api/v1/sessions");
  });

  it("the event stream's refusals: 429 per address and 503 in all", async () => {
    await t.start({ sseMaxSubscribersPerIp: 1, sseMaxSubscribers: 2 });
    const first = await SseReader.open(`${t.url}/api/v1/events`);
    try {
      const perAddress = await api("/api/v1/events");
      expect(perAddress.status).toBe(429);
      expect(((await expectDocumented(perAddress, "GET", "/api/v1/events")) as { error: { code: string } }).error.code).toBe("too_many_subscribers");
    } finally {
      first.close();
    }
    const full = await t.start({ sseMaxSubscribers: 1 });
    const only = await SseReader.open(`${full.url}/api/v1/events`);
    try {
      const response = await fetch(`${full.url}/api/v1/events`);
      expect(response.status).toBe(503);
      expect(((await expectDocumented(response, "GET", "/api/v1/events")) as { error: { code: string } }).error.code).toBe("too_many_subscribers");
    } finally {
      only.close();
    }
  });

  it("the event stream's snapshot, upsert and remove payloads", async () => {
    await t.start({ sseCoalesceMs: 10 });
    const first = await t.join({ bytes: 10 });
    const stream = await SseReader.open(`${t.url}/api/v1/events`);
    try {
      expect(stream.status).toBe(200);
      const events = doc.paths["/api/v1/events"]!["get"]!["x-sse-events"]!;
      const validatorFor = (type: string) => schemaAt(events[type]!.$ref);
      await stream.waitFor((event) => event.type === "snapshot");
      const second = await t.join({ project: "Other" });
      first.heartbeat(30);
      await stream.waitFor((event) => event.type === "upsert" && event.data.includes(second.welcome!.sessionId));
      await t.collector.closeSession(first.welcome!.sessionId, "done");
      await stream.waitFor((event) => event.type === "remove");
      await eventually(() => expect(stream.events.some((event) => event.type === "upsert" && event.data.includes(first.welcome!.sessionId))).toBe(true));
      for (const event of stream.events) expectValid(validatorFor(event.type), JSON.parse(event.data), `${event.type} event`);
      expect(new Set(stream.events.map((event) => event.type))).toEqual(new Set(["snapshot", "upsert", "remove"]));
    } finally {
      stream.close();
    }
  });
});
