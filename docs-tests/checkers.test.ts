/** The doc checks themselves: each rejects a wrong doc (a check that cannot fail proves nothing). */
import { describe, expect, it } from "vitest";
import { checkStatic, compareOutput, kindOf, parseCommands, substituteIds } from "./commands.js";
import { codeBlocks, findTables, links, type Doc } from "./markdown.js";

const doc = (text: string): Doc => ({ file: "x.md", text, lines: text.split("\n") });

describe("markdown reading", () => {
  it("finds blocks with their marker, tables with code spans holding pipes, and links outside code", () => {
    const d = doc(
      [
        "# T",
        "<!-- illustrative: needs a browser -->",
        "```ts",
        "const a = 1;",
        "```",
        "| option | default |",
        "| --- | --- |",
        "| `a` / `b` | `1 \\| 2` |",
        "[x](y.md) `[no](link.md)`",
        "```sh",
        "[not](a-link.md)",
        "```",
      ].join("\n"),
    );
    const [first, second] = codeBlocks(d);
    expect(first).toMatchObject({ lang: "ts", code: "const a = 1;", marker: { kind: "illustrative", reason: "needs a browser" }, line: 3 });
    expect(second).toMatchObject({ lang: "sh", marker: null });
    expect(findTables(d, "option", "default")[0]!.rows[0]!.cells).toEqual(["`a` / `b`", "`1 | 2`"]);
    expect(links(d).map((link) => link.target)).toEqual(["y.md"]);
  });
});

describe("shell commands", () => {
  const block = (code: string) => codeBlocks(doc(`\`\`\`sh\n${code}\n\`\`\``))[0]!;

  it("splits prompts, output, comments and continued lines", () => {
    const { prelude, commands } = parseCommands(
      block(["C=http://x; T=...", "# close it (204 / 404)", "curl -s -X DELETE \\", '  "$C/a"   # trailing'].join("\n")),
    );
    expect(prelude).toEqual(["C=http://x; T=..."]);
    expect(commands[0]).toMatchObject({ text: 'curl -s -X DELETE "$C/a"', comment: "# close it (204 / 404)" });
    const prompted = parseCommands(block("$ sessionlens sessions\nID  USER\nabc billy"));
    expect(prompted.commands).toMatchObject([{ text: "sessionlens sessions", output: ["ID  USER", "abc billy"] }]);
  });

  it("knows what it can run, and refuses the rest", () => {
    expect(kindOf("curl -s x")).toBe("curl");
    expect(kindOf("SESSIONLENS_API_TOKEN=t sessionlens serve --port 1")).toBe("serve");
    expect(kindOf("node packages/collector/bin/sessionlens.js sessions")).toBe("cli");
    expect(kindOf("rm -rf /")).toBeNull();
  });

  it("checks scripts and paths it does not run", () => {
    expect(checkStatic("npx -y pnpm@10 --filter @sessionlens/collector build")).toBeNull();
    expect(checkStatic("pnpm bench:quick")).toBeNull();
    expect(checkStatic("pnpm no-such-script")).toMatch(/no "no-such-script" script/);
    expect(checkStatic("pnpm --filter @sessionlens/nope build")).toMatch(/no such workspace package/);
    expect(checkStatic("npx vitest run packages/no-such-dir")).toMatch(/no such path/);
    expect(checkStatic("node bench/no-such.mjs")).toMatch(/no file/);
    expect(checkStatic("npm install @sessionlens/agent @sessionlens/collector@0.1.0")).toBeNull();
    expect(checkStatic("npm install @sessionlens/status-page")).toMatch(/no published package/);
    expect(checkStatic("npm install left-pad")).toMatch(/no published package/);
  });

  it("compares output with what the docs show", () => {
    expect(compareOutput('[{"id":"a","username":"b",...}]', '[{"id":"x","username":"y","more":1}]')).toBeNull();
    expect(compareOutput('[{"id":"a","reason":"b"}]', '[{"id":"x"}]')).toMatch(/missing reason/);
    expect(compareOutput('{"id":"a"}', '{"id":"x","extra":1}')).toMatch(/not shown extra/);
    expect(compareOutput("ID  USERNAME  AUTH", "ID USERNAME AUTH\nrow")).toBeNull();
    expect(compareOutput("ID  USERNAME  AUTH", "ID USER AUTH\nrow")).toMatch(/the docs show/);
    expect(compareOutput("2026-06-03T14:00:00.120Z snapshot 1 session", "2027-01-01T00:00:00.000Z snapshot 1 session\n")).toBeNull();
    expect(compareOutput("2026-06-03T14:00:00.120Z snapshot 1 session", "2027-01-01T00:00:00.000Z snapshot 2 sessions\n")).toMatch(/the docs show/);
  });

  it("replaces example ids with live ones", () => {
    const live = { sessionId: "S".repeat(21), pageId: "P".repeat(21) };
    expect(substituteIds("x/V1StGXR8_Z5jdHi6B-myT/pages/Uakgb_J5m9g-0JDMbcJqL Authorization", live)).toBe(
      `x/${live.sessionId}/pages/${live.pageId} Authorization`,
    );
  });
});
