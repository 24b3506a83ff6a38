/**
 * Reference tables in the docs against what the code exports: a row that does not match fails.
 * Every list here is read from the code (DEFAULTS, the CLI's flag tables, the option interfaces,
 * the metrics registry of a live collector, CLOSE_CODES, ERROR_CODES, HTTP_ERROR_CODES, the
 * router answering on a live collector), never typed in by hand, so a new option, flag, metric or
 * code that is not documented fails here, and so does a documented one that the code lost.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CLOSE_CODES, ERROR_CODES, PERMANENT_CLOSE_CODES, type ErrorCode } from "@sessionlens/shared";
import { DEFAULTS as AGENT_DEFAULTS } from "../packages/agent/src/agent.js";
import { COMMAND_FLAGS } from "../packages/collector/src/cli/index.js";
import { envName } from "../packages/collector/src/cli/args.js";
import { HTTP_ERROR_CODES } from "../packages/collector/src/http/respond.js";
import { DEFAULTS, resolveOptions } from "../packages/collector/src/options.js";
import { closeCodeFor } from "../packages/collector/src/transport/limits.js";
import { startDocCollector, type DocCollector } from "./harness.js";
import { codeBlocks, codeSpans, docFiles, findTables, prose, readDoc, ROOT, type Table } from "./markdown.js";

const collectorReadme = readDoc("packages/collector/README.md");
const agentReadme = readDoc("packages/agent/README.md");
const allDocs = docFiles().map(readDoc);

/** The one table of a doc with these first headers; fails when there is none. */
function table(doc = collectorReadme, ...header: string[]): Table {
  const [found] = findTables(doc, ...header);
  if (!found) throw new Error(`${doc.file}: no table with the header ${header.join(" | ")}`);
  return found;
}

/** Option names of a row's first cell: `a` / `b` -> ["a", "b"]. */
const names = (cell: string): string[] => codeSpans(cell).filter((span) => /^\w+$/.test(span));

/** A documented default, as a value: `"127.0.0.1"`, `1_024`, `65,536`, `[]`, `3 × heartbeatMs`, `7 days`, `true`. */
function parseDefault(text: string, context: Record<string, unknown>): unknown {
  // The value is the first code span when there is one (`3_600_000` (1 h)), else the text.
  const t = (codeSpans(text)[0] ?? text).trim();
  if (/^"[^"]*"$/.test(t)) return t.slice(1, -1);
  if (/^(true|false)$/.test(t)) return t === "true";
  if (t === "[]") return [];
  if (/^\d[\d_,]*(\.\d+)?$/.test(t)) return Number(t.replace(/[_,]/g, ""));
  const times = /^(\d+)\s*[×x*]\s*(\w+)$/.exec(t);
  if (times && typeof context[times[2]!] === "number") return Number(times[1]) * (context[times[2]!] as number);
  const span = /^(\d+)\s*(ms|s|seconds?|min|minutes?|h|hours?|days?)$/.exec(t);
  if (span) {
    const unit = span[2]!;
    const factor = unit === "ms" ? 1 : unit.startsWith("s") ? 1e3 : unit.startsWith("m") ? 6e4 : unit.startsWith("h") ? 3.6e6 : 8.64e7;
    return Number(span[1]) * factor;
  }
  return undefined;
}

/** Property names of an exported interface, read from the TypeScript source (types have no runtime form). */
function interfaceKeys(file: string, name: string): string[] {
  const source = ts.createSourceFile(file, readFileSync(join(ROOT, file), "utf8"), ts.ScriptTarget.ES2022, true);
  const keys: string[] = [];
  source.forEachChild((node) => {
    if (ts.isInterfaceDeclaration(node) && node.name.text === name) {
      for (const member of node.members) if (member.name && ts.isIdentifier(member.name)) keys.push(member.name.text);
    }
  });
  if (keys.length === 0) throw new Error(`no interface ${name} in ${file}`);
  return keys;
}

describe("collector options (packages/collector/README.md, createCollector(options))", () => {
  const options = table(collectorReadme, "option", "default");
  const resolved = resolveOptions({}, "status-page/dist") as unknown as Record<string, unknown>;

  it("lists every option of CollectorOptions, and no other", () => {
    const documented = options.rows.flatMap((row) => names(row.cells[0]!));
    expect([...documented].sort()).toEqual(interfaceKeys("packages/collector/src/options.ts", "CollectorOptions").sort());
  });

  it("gives each default as DEFAULTS (and resolveOptions) has it", () => {
    const wrong: string[] = [];
    for (const row of options.rows) {
      const keys = names(row.cells[0]!);
      const values = row.cells[1]!.split(" / ");
      keys.forEach((key, i) => {
        const text = values.length === keys.length ? values[i]! : row.cells[1]!;
        const documented = parseDefault(text, DEFAULTS);
        if (key in DEFAULTS) {
          const actual = DEFAULTS[key as keyof typeof DEFAULTS];
          if (documented !== actual) wrong.push(`${key}: README says ${text}, DEFAULTS has ${String(actual)} (line ${row.line})`);
        } else if (documented !== undefined && JSON.stringify(documented) !== JSON.stringify(resolved[key])) {
          wrong.push(`${key}: README says ${text}, resolveOptions({}) gives ${JSON.stringify(resolved[key])} (line ${row.line})`);
        }
      });
    }
    expect(wrong).toEqual([]);
  });

  it("quotes an option's default in prose only as DEFAULTS has it (`name` (default N))", () => {
    const wrong: string[] = [];
    for (const doc of allDocs) {
      for (const match of prose(doc).matchAll(/`(\w+)`[^.`\n]{0,40}?\(default (?:is )?`?([\d_,.]+(?: ?(?:ms|s|days?))?)`?\)/g)) {
        const key = match[1]!;
        if (!(key in DEFAULTS)) continue;
        const documented = parseDefault(match[2]!, DEFAULTS);
        if (documented !== DEFAULTS[key as keyof typeof DEFAULTS]) wrong.push(`${doc.file}: ${match[0]}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe("agent options (packages/agent/README.md)", () => {
  const options = table(agentReadme, "option", "default");

  it("lists every option of AgentOptions, and no other", () => {
    const documented = options.rows.flatMap((row) => names(row.cells[0]!));
    expect([...documented].sort()).toEqual(interfaceKeys("packages/agent/src/agent.ts", "AgentOptions").sort());
  });

  it("gives each default as the agent's DEFAULTS has it", () => {
    const wrong: string[] = [];
    for (const row of options.rows) {
      for (const key of names(row.cells[0]!)) {
        if (!(key in AGENT_DEFAULTS)) continue;
        const actual = AGENT_DEFAULTS[key as keyof typeof AGENT_DEFAULTS];
        if (parseDefault(row.cells[1]!, AGENT_DEFAULTS) !== actual) wrong.push(`${key}: README says ${row.cells[1]}, DEFAULTS has ${actual}`);
      }
    }
    expect(wrong).toEqual([]);
  });
});

describe("command line (packages/collector/README.md, sessionlens --help)", () => {
  /** The synopsis block: `sessionlens <command> [--flag VALUE] ...` lines and their continuations. */
  function synopsis(): Map<string, Map<string, string | undefined>> {
    const block = codeBlocks(collectorReadme).find((b) => b.lang === "" && /^sessionlens serve\b/m.test(b.code));
    if (!block) throw new Error("packages/collector/README.md: no synopsis block (```\\nsessionlens serve [--flag ...]```)");
    const commands = new Map<string, Map<string, string | undefined>>();
    let current: Map<string, string | undefined> | undefined;
    for (const line of block.code.split("\n")) {
      const head = /^sessionlens (\w+)/.exec(line);
      if (head) commands.set(head[1]!, (current = new Map()));
      for (const flag of line.matchAll(/\[--([\w-]+)(?: ([^\]]+))?\]/g)) current?.set(flag[1]!, flag[2]?.trim());
    }
    return commands;
  }

  it("documents exactly the commands and flags the CLI parses", () => {
    const documented = synopsis();
    expect([...documented.keys()].sort()).toEqual(Object.keys(COMMAND_FLAGS).sort());
    for (const [command, specs] of Object.entries(COMMAND_FLAGS)) {
      expect([...documented.get(command)!.keys()].sort(), `flags of sessionlens ${command}`).toEqual(Object.keys(specs).sort());
    }
  });

  it("shows each flag's default where the flag has one", () => {
    const wrong: string[] = [];
    for (const [command, flags] of synopsis()) {
      for (const [flag, shown] of flags) {
        const spec = COMMAND_FLAGS[command as keyof typeof COMMAND_FLAGS]?.[flag];
        if (spec?.default === undefined) continue;
        // `--store memory|redis`: the first choice is the default.
        if (shown?.split("|")[0] !== spec.default) wrong.push(`sessionlens ${command} --${flag}: README shows ${shown}, the default is ${spec.default}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("names only environment variables that a flag or the code reads", () => {
    const flagVars = new Set(Object.values(COMMAND_FLAGS).flatMap((specs) => Object.keys(specs).map(envName)));
    const code = ["packages", "examples", "scripts", "bench", "testing"]
      .map((dir) => ts.sys.readDirectory(join(ROOT, dir), [".ts", ".mjs", ".js"], ["**/node_modules", "**/dist"]))
      .flat()
      .map((file) => readFileSync(file, "utf8"))
      .join("\n");
    const unknown = new Set<string>();
    for (const doc of allDocs) {
      for (const [name] of doc.text.matchAll(/\b(?:SESSIONLENS|DEMO|BENCH)_[A-Z0-9_]+\b/g)) {
        if (name.endsWith("_")) continue;
        if (!flagVars.has(name) && !code.includes(name)) unknown.add(`${doc.file}: ${name}`);
      }
    }
    expect([...unknown]).toEqual([]);
  });
});

describe("environment tables (any doc: | environment | default | ...)", () => {
  it("give the defaults the code falls back to (`process.env.X ?? default`)", () => {
    const code = ["packages", "examples", "scripts", "bench"]
      .map((dir) => ts.sys.readDirectory(join(ROOT, dir), [".ts", ".mjs", ".js"], ["**/node_modules", "**/dist", "**/test"]))
      .flat()
      .map((file) => readFileSync(file, "utf8"))
      .join("\n");
    const wrong: string[] = [];
    let checked = 0;
    for (const doc of allDocs) {
      for (const envTable of findTables(doc, "environment", "default")) {
        for (const row of envTable.rows) {
          const names = codeSpans(row.cells[0]!).filter((span) => /^[A-Z][A-Z0-9_]+$/.test(span));
          const values = row.cells[1]!.split(" / ");
          names.forEach((name, i) => {
            const shown = codeSpans(values.length === names.length ? values[i]! : row.cells[1]!)[0];
            if (shown === undefined) return;
            // Literals the code falls back to for this variable: env["X"] ?? "v", env.X ?? 3000.
            const fallbacks = [...code.matchAll(new RegExp(`\\b${name}"?\\]?\\)?\\s*\\?\\?\\s*(?:"([^"]*)"|'([^']*)'|(\\d+(?:\\.\\d+)?)\\b)`, "g"))].map(
              (m) => m[1] ?? m[2] ?? m[3]!,
            );
            if (fallbacks.length === 0) return;
            checked++;
            if (!fallbacks.includes(shown)) wrong.push(`${doc.file}:${row.line}: ${name} default ${shown}, the code falls back to ${fallbacks.join(" or ")}`);
          });
        }
      }
    }
    expect(checked, "environment defaults found in the code").toBeGreaterThan(0);
    expect(wrong).toEqual([]);
  });
});

describe("close codes and error codes (@sessionlens/shared CLOSE_CODES, ERROR_CODES)", () => {
  const closeTable = table(collectorReadme, "close code");
  const ours = Object.values(CLOSE_CODES).filter((code) => code >= 4000);

  it("documents every 4xxx close code, and only codes that exist", () => {
    const documented = closeTable.rows.flatMap((row) => [...row.cells[0]!.matchAll(/\b\d{4}\b/g)].map(([n]) => Number(n)));
    expect(documented.filter((code) => !Object.values(CLOSE_CODES).includes(code as never))).toEqual([]);
    expect(ours.filter((code) => !documented.includes(code))).toEqual([]);
  });

  it("says stop for exactly the permanent codes (PERMANENT_CLOSE_CODES)", () => {
    for (const row of closeTable.rows) {
      const codes = [...row.cells[0]!.matchAll(/\b\d{4}\b/g)].map(([n]) => Number(n));
      const says = row.cells.at(-1)!.trim();
      for (const code of codes) expect(`${code}: ${says}`).toBe(`${code}: ${PERMANENT_CLOSE_CODES.includes(code) ? "stop" : says === "stop" ? "not stop" : says}`);
    }
  });

  it("lists the permanent codes as PERMANENT_CLOSE_CODES has them wherever the docs list them", () => {
    const wrong: string[] = [];
    for (const doc of allDocs) {
      for (const sentence of prose(doc).replace(/\n/g, " ").split(/[.;]\s/)) {
        if (!/PERMANENT_CLOSE_CODES|are permanent/.test(sentence)) continue;
        const codes = [...sentence.matchAll(/\b4\d{3}\b/g)].map(([n]) => Number(n)).sort();
        if (codes.length === 0) continue;
        if (JSON.stringify(codes) !== JSON.stringify([...PERMANENT_CLOSE_CODES].sort())) wrong.push(`${doc.file}: ${sentence.trim()}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("puts each error code in the row of the close code the collector closes with (closeCodeFor)", () => {
    const wrong: string[] = [];
    for (const row of closeTable.rows) {
      const codes = [...row.cells[0]!.matchAll(/\b\d{4}\b/g)].map(([n]) => Number(n));
      for (const error of codeSpans(row.cells[1]!).filter((span) => (ERROR_CODES as readonly string[]).includes(span))) {
        const closesWith = closeCodeFor(error as ErrorCode);
        // 1009 is ws's own close for an oversized frame; the collector's code for too_large is 4400.
        if (!codes.includes(closesWith) && !(error === "too_large" && codes.includes(CLOSE_CODES.messageTooBig))) {
          wrong.push(`${error}: documented under ${codes.join(" / ")}, the collector closes with ${closesWith} (line ${row.line})`);
        }
      }
    }
    expect(wrong).toEqual([]);
  });

  it("names only error codes that exist, and every one of them", () => {
    const text = prose(collectorReadme);
    const start = text.indexOf("## Agents: close codes and error codes");
    expect(start, "packages/collector/README.md: the section '## Agents: close codes and error codes'").toBeGreaterThanOrEqual(0);
    const end = text.indexOf("\n## ", start + 1);
    const section = text.slice(start, end < 0 ? undefined : end);
    const mentioned = new Set(codeSpans(section).filter((span) => /^[a-z]+(_[a-z]+)+$/.test(span)));
    const known = new Set<string>([...ERROR_CODES, "missed_pong", "bad_frame", "closed_page", "connection_rate_limited"]);
    expect([...mentioned].filter((code) => !known.has(code))).toEqual([]);
    expect(ERROR_CODES.filter((code) => !collectorReadme.text.includes(`\`${code}\``))).toEqual([]);
  });
});

describe("HTTP API and metrics against a live collector", () => {
  let live: DocCollector;
  beforeAll(async () => {
    live = await startDocCollector();
  });
  afterAll(async () => {
    await live?.close();
  });

  it("documents exactly the HTTP error codes (HTTP_ERROR_CODES)", () => {
    const paragraph = prose(collectorReadme).split("\n\n").find((p) => p.includes("HTTP error codes:"));
    expect(paragraph, "packages/collector/README.md: the paragraph starting 'HTTP error codes:'").toBeDefined();
    expect(codeSpans(paragraph!).filter((span) => /^[a-z_]+$/.test(span)).sort()).toEqual([...HTTP_ERROR_CODES].sort());
  });

  it("answers every documented route (method and path) with a documented status", async () => {
    const failures: string[] = [];
    for (const doc of allDocs) {
      for (const routes of findTables(doc, "method and path")) {
        for (const row of routes.rows) {
          const statuses = [...row.cells[1]!.matchAll(/\b[1-5]\d\d\b/g)].map(([n]) => Number(n));
          for (const span of codeSpans(row.cells[0]!)) {
            const route = /^(GET|POST|PUT|PATCH|DELETE|HEAD) (\/\S*)$/.exec(span);
            if (!route) continue;
            const [, method, template] = route as unknown as [string, string, string];
            if (template.includes("*")) continue;
            // A DELETE would end the session the other rows need: it goes to an unknown id (404).
            const unknown = method === "DELETE";
            const path = template
              .split("?")[0]!
              .replace(":pageId", unknown ? "nOsUcHpAgE000000000000" : live.pageId)
              .replace(":id", unknown ? "nOsUcHsEsSiOn000000000" : live.sessionId);
            const controller = new AbortController();
            const response = await fetch(`${live.url}${path}`, {
              method,
              signal: controller.signal,
              ...(method === "POST" ? { headers: { "content-type": "application/json" }, body: JSON.stringify({ type: "ping", payload: 1 }) } : {}),
            });
            const body = response.headers.get("content-type")?.includes("event-stream") ? "" : await response.text();
            controller.abort();
            const noRoute = response.status === 405 || (response.status === 404 && body.includes("no route"));
            const success = statuses.filter((s) => s < 400);
            const expected = unknown ? [404] : success.length > 0 ? success : statuses;
            if (noRoute || (expected.length > 0 ? !expected.includes(response.status) : response.status >= 400)) {
              failures.push(`${doc.file}:${row.line}: ${method} ${path} answered ${response.status} ${body.slice(0, 80)} (documented: ${row.cells[1]})`);
            }
          }
        }
      }
    }
    expect(failures).toEqual([]);
  });

  it("points agents at the collector's WebSocket path, and every collector URL of the docs answers", async () => {
    const failures: string[] = [];
    for (const doc of allDocs) {
      // An absolute ws(s):// URL names the collector itself: its path is /ws (a proxied path is relative).
      for (const [url] of doc.text.matchAll(/\bwss?:\/\/[^\s"'`)<>\]\u0080-\uffff]+/g)) {
        // By hand, not new URL(): a template host (`wss://${host}/ws`) is still a claim about the path.
        // A bare origin (`ws://127.0.0.1:8787` in a diagram) is an address, not an endpoint.
        const path = /^wss?:\/\/[^/?#]+(\/[^?#]*)?/.exec(url)?.[1];
        if (path !== undefined && path !== "/ws") failures.push(`${doc.file}: ${url} (the collector answers agents at /ws only)`);
      }
      // Every URL on the documented address answers on a live collector (no 404 "no route", no 405).
      for (const [url] of doc.text.matchAll(/\bhttps?:\/\/127\.0\.0\.1:8787(?:\/[^\s"'`)<>\]\u0080-\uffff]*)?/g)) {
        const path = (/^https?:\/\/[^/?#]+(\/[^?#]*)?/.exec(url)?.[1] ?? "/").replace(/[.,;:]+$/, "");
        if (path.includes("$") || path.includes("*")) continue;
        const response = await fetch(`${live.url}${path}`, { headers: { accept: "application/json" } });
        const body = response.headers.get("content-type")?.includes("event-stream") ? (await response.body?.cancel(), "") : await response.text();
        if (response.status === 405 || (response.status === 404 && body.includes("no route"))) failures.push(`${doc.file}: ${url} answered ${response.status}`);
      }
    }
    expect(failures).toEqual([]);
  });

  it("documents every route of the OpenAPI description, when there is one", async () => {
    const response = await fetch(`${live.url}/api/v1/openapi.json`);
    if (response.status !== 200) return void (await response.body?.cancel());
    const spec = (await response.json()) as { paths: Record<string, Record<string, unknown>> };
    const documented = new Set(
      findTables(collectorReadme, "method and path").flatMap((t) =>
        t.rows.flatMap((row) => codeSpans(row.cells[0]!).map((span) => span.split("?")[0]!.replace(/:(\w+)/g, "{$1}"))),
      ),
    );
    const missing: string[] = [];
    for (const [path, methods] of Object.entries(spec.paths)) {
      for (const method of Object.keys(methods)) {
        if (!/^(get|post|put|patch|delete)$/.test(method)) continue;
        if (!documented.has(`${method.toUpperCase()} ${path}`)) missing.push(`${method.toUpperCase()} ${path}`);
      }
    }
    expect(missing).toEqual([]);
  });

  it("documents exactly the sessionlens_* metrics and their labels (the live registry)", async () => {
    await live.collector.metrics.metrics();
    const actual = Object.fromEntries(
      live.collector.metrics
        .getMetricsAsArray()
        .filter((metric) => metric.name.startsWith("sessionlens_"))
        .map((metric) => [metric.name, [...((metric as unknown as { labelNames?: string[] }).labelNames ?? [])].sort()]),
    );
    const documented: Record<string, string[]> = {};
    for (const row of table(collectorReadme, "metric", "labels").rows) {
      // Labels are the code spans outside parentheses: `reason` (error codes, plus `missed_pong`...) -> reason.
      let labelsCell = row.cells[1]!;
      for (let previous = ""; previous !== labelsCell; ) [previous, labelsCell] = [labelsCell, labelsCell.replace(/\([^()]*\)/g, "")];
      const labels = codeSpans(labelsCell).filter((span) => /^[a-z_][a-z0-9_]*$/i.test(span));
      for (const name of codeSpans(row.cells[0]!)) documented[name] = labels.sort();
    }
    expect(documented).toEqual(actual);
  });
});
