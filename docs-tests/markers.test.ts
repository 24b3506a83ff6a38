/** Every block in a language that runs is run, or says why not (docs-tests/blocks.ts). */
import { describe, expect, it } from "vitest";
import { allBlocks, isRunnableLang, MARKERS, SHELL_LANGS } from "./blocks.js";
import { where } from "./markdown.js";

describe("code blocks of the docs", () => {
  const blocks = allBlocks();

  it("are found (the parser reads the docs)", () => {
    expect(blocks.filter(isRunnableLang).length).toBeGreaterThan(10);
  });

  it("carry only known markers, each with a reason", () => {
    const bad = blocks
      .filter((block) => block.marker !== null && isRunnableLang(block))
      .filter((block) => !MARKERS.has(block.marker!.kind) || block.marker!.reason.length < 10)
      .map((block) => `${where(block)}: <!-- ${block.marker!.kind}: ${block.marker!.reason} --> (use "illustrative: <reason>" or "typecheck only: <reason>")`);
    expect(bad).toEqual([]);
  });

  it("mark typecheck only on TypeScript alone", () => {
    const bad = blocks.filter((block) => block.marker?.kind === "typecheck only" && SHELL_LANGS.has(block.lang)).map(where);
    expect(bad).toEqual([]);
  });
});
