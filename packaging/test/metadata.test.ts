/** Package metadata a registry and its users rely on, checked on the workspace's package.json files. */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { PUBLISHED, readPackage, ROOT } from "./packages.js";

const root = readPackage(".") as ReturnType<typeof readPackage> & { engines: Record<string, string> };

describe.each(PUBLISHED)("%s/package.json", (folder) => {
  const pkg = readPackage(folder);
  const at = (path: string) => join(ROOT, folder, path);

  it("names, describes and licenses the package", () => {
    expect(pkg.name).toMatch(/^@sessionlens\/[a-z]+$/);
    expect(pkg.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(pkg.description?.length).toBeGreaterThan(20);
    expect(pkg.license).toBe("MIT");
    expect(existsSync(at("LICENSE"))).toBe(true);
    expect(readFileSync(at("LICENSE"), "utf8")).toContain("MIT License");
    expect(pkg.keywords).toContain("sessionlens");
    expect(pkg.keywords!.length).toBeGreaterThanOrEqual(4);
    expect(pkg.repository).toMatchObject({ type: "git", directory: folder });
    expect(pkg.repository!.url).toMatch(/^git\+https:\/\/.+\.git$/);
    expect(pkg.homepage).toMatch(/^https:\/\//);
    expect(pkg.bugs?.url).toMatch(/^https:\/\//);
    expect(pkg.publishConfig).toEqual({ access: "public" });
  });

  it("is ESM with types, exports, engines and sideEffects", () => {
    expect(pkg.type).toBe("module");
    expect(pkg.engines).toEqual({ node: root.engines.node });
    expect(pkg.sideEffects === false || Array.isArray(pkg.sideEffects)).toBe(true);
    expect(pkg.main).toBe("./dist/index.js");
    expect(pkg.types).toBe("./dist/index.d.ts");
    const main = pkg.exports!["."] as Record<string, string>;
    // "types" must come first for TypeScript to pick it.
    expect(Object.keys(main)[0]).toBe("types");
    expect(main).toEqual({ types: "./dist/index.d.ts", default: "./dist/index.js" });
    expect(pkg.exports!["./package.json"]).toBe("./package.json");
    for (const [subpath, target] of Object.entries(pkg.exports!)) {
      const targets = typeof target === "string" ? [target] : Object.values(target);
      for (const file of targets) {
        expect(file, `${subpath} points into the package`).toMatch(/^\.\//);
        expect(pkg.files!.some((entry) => file.slice(2) === entry || file.slice(2).startsWith(`${entry}/`)) || file === "./package.json", `${file} is in files`).toBe(true);
      }
    }
  });

  it("ships dist (and sources for its source maps), never tests", () => {
    expect(pkg.files).toContain("dist");
    expect(pkg.files).toContain("src");
    for (const entry of pkg.files!) expect(entry, "no test folder in files").not.toMatch(/(^|\/)(test|tests|__tests__)(\/|$)/);
    expect(readFileSync(at("README.md"), "utf8")).toMatch(/npm install @sessionlens\//);
  });

  it("depends on the workspace's other packages with workspace:* (pnpm pack writes the version)", () => {
    for (const [name, spec] of Object.entries(pkg.dependencies ?? {})) {
      if (name.startsWith("@sessionlens/")) expect(spec).toBe("workspace:*");
    }
  });
});

describe("package-specific entries", () => {
  it("@sessionlens/agent exposes its IIFE build at ./iife", () => {
    const agent = readPackage("packages/agent");
    expect(agent.exports!["./iife"]).toEqual({ default: "./dist/sessionlens-agent.iife.js" });
    expect(agent.sideEffects).toEqual(["./dist/sessionlens-agent.iife.js"]);
  });

  it("@sessionlens/collector has its bin, its client, the status page and the OpenAPI file", () => {
    const collector = readPackage("packages/collector");
    expect(collector.bin).toEqual({ sessionlens: "./bin/sessionlens.js" });
    expect(collector.exports!["./client"]).toEqual({ types: "./dist/client.d.ts", default: "./dist/client.js" });
    expect(collector.files).toEqual(expect.arrayContaining(["bin", "status-page/dist", "openapi.json"]));
    expect(readFileSync(join(ROOT, "packages/collector/bin/sessionlens.js"), "utf8")).toMatch(/^#!\/usr\/bin\/env node\n/);
  });
});
