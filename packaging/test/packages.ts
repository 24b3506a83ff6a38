import { readFileSync } from "node:fs";
import { join } from "node:path";

export const ROOT = join(import.meta.dirname, "..", "..");

/** The three published packages, by folder. */
export const PUBLISHED = ["packages/shared", "packages/agent", "packages/collector"] as const;

export interface PackageJson {
  name: string;
  version: string;
  description?: string;
  keywords?: string[];
  license?: string;
  repository?: { type: string; url: string; directory?: string };
  homepage?: string;
  bugs?: { url: string };
  type?: string;
  main?: string;
  types?: string;
  sideEffects?: boolean | string[];
  engines?: Record<string, string>;
  exports?: Record<string, string | Record<string, string>>;
  files?: string[];
  bin?: Record<string, string>;
  dependencies?: Record<string, string>;
  publishConfig?: Record<string, string>;
}

export function readPackage(folder: string): PackageJson {
  return JSON.parse(readFileSync(join(ROOT, folder, "package.json"), "utf8")) as PackageJson;
}
