import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { describe, expect, it } from "vitest";

const root = fileURLToPath(new URL("../../..", import.meta.url));
const eslint = new ESLint({ cwd: root });

/** The layering errors ESLint reports for a module at `path` (under the collector's src/) importing `imported`. */
async function layeringErrors(path: string, imported: string): Promise<string[]> {
  const code = `import * as imported from "${imported}";\nexport const used = imported;\n`;
  const [result] = await eslint.lintText(code, { filePath: `${root}/packages/collector/src/${path}` });
  return result!.messages.filter((message) => message.ruleId === "no-restricted-imports").map((message) => message.message);
}

describe("the collector's layering (eslint.config.js)", () => {
  it.each([
    ["http/fixture.ts", "../sessions/model.js"],
    ["http/fixture.ts", "../store/memory.js"],
    ["http/fixture.ts", "../transport/agents.js"],
    ["sessions/fixture.ts", "../query/info.js"],
    ["sessions/fixture.ts", "../transport/agents.js"],
    ["store/fixture.ts", "../sessions/model.js"],
    ["query/fixture.ts", "../store/memory.js"],
    ["transport/fixture.ts", "../store/port.js"],
    ["cli/fixture.ts", "../sessions/session-index.js"],
  ])("%s may not import %s", async (path, imported) => {
    const errors = await layeringErrors(path, imported);
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain("layering");
  });

  it.each([
    ["http/fixture.ts", "../query/index.js"],
    ["query/fixture.ts", "../sessions/session-index.js"],
    ["sessions/fixture.ts", "../store/port.js"],
    ["store/fixture.ts", "../sessions/records.js"],
    ["transport/fixture.ts", "../sessions/model.js"],
  ])("%s may import %s", async (path, imported) => {
    expect(await layeringErrors(path, imported)).toEqual([]);
  });

  it("only a collector that uses Redis loads the redis package: a value import of it anywhere fails, a type import does not", async () => {
    const lint = async (code: string): Promise<string[]> => {
      const [result] = await eslint.lintText(code, { filePath: `${root}/packages/collector/src/store/fixture.ts` });
      return result!.messages.filter((message) => message.ruleId === "@typescript-eslint/no-restricted-imports").map((message) => message.message);
    };
    expect(await lint(`import { createClient } from "redis";\nexport const make = createClient;\n`)).toEqual([expect.stringContaining("import()")]);
    expect(await lint(`import type { createClient } from "redis";\nexport type Make = typeof createClient;\n`)).toEqual([]);
    expect(await lint(`export const load = () => import("redis");\n`)).toEqual([]);
  });
});
