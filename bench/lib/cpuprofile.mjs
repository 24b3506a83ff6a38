// Reads a V8 .cpuprofile (node --cpu-prof) and lists where the time went:
// self time per function with file:line, mapped back to the TypeScript
// sources through the packages' source maps when they exist.
import { existsSync, readFileSync } from "node:fs";
import { dirname, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const rootDir = fileURLToPath(new URL("../..", import.meta.url));

const BASE64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const BASE64_VALUE = new Map([...BASE64].map((c, i) => [c, i]));

/** Decodes a source map's `mappings` into, per generated line, [column, source, line] segments. */
function decodeMappings(mappings) {
  const lines = [];
  let source = 0;
  let sourceLine = 0;
  for (const lineText of mappings.split(";")) {
    const segments = [];
    let column = 0;
    for (const segment of lineText.split(",")) {
      if (!segment) continue;
      const values = [];
      let value = 0;
      let shift = 0;
      for (const char of segment) {
        const digit = BASE64_VALUE.get(char);
        value += (digit & 31) << shift;
        if (digit & 32) shift += 5;
        else {
          values.push(value & 1 ? -(value >> 1) : value >> 1);
          value = 0;
          shift = 0;
        }
      }
      column += values[0];
      if (values.length >= 4) {
        source += values[1];
        sourceLine += values[2];
        segments.push([column, source, sourceLine]);
      }
    }
    lines.push(segments);
  }
  return lines;
}

const mapCache = new Map();
function sourceMapFor(file) {
  if (mapCache.has(file)) return mapCache.get(file);
  let map = null;
  const mapFile = `${file}.map`;
  if (existsSync(mapFile)) {
    try {
      const raw = JSON.parse(readFileSync(mapFile, "utf8"));
      map = { sources: raw.sources.map((s) => resolve(dirname(file), raw.sourceRoot ?? "", s)), lines: decodeMappings(raw.mappings) };
    } catch {
      map = null;
    }
  }
  mapCache.set(file, map);
  return map;
}

/** `file:line` (1-based), through the source map when there is one. */
export function location(url, lineNumber, columnNumber) {
  if (!url) return "(native)";
  let file = url.startsWith("file://") ? fileURLToPath(url) : url;
  let line = lineNumber + 1;
  if (file.startsWith("/")) {
    const map = sourceMapFor(file);
    const segments = map?.lines[lineNumber];
    if (segments?.length) {
      let best = segments[0];
      for (const s of segments) if (s[0] <= columnNumber) best = s;
      file = map.sources[best[1]];
      line = best[2] + 1;
    }
    file = relative(rootDir, file);
    // pnpm's store paths are long; keep the package and file.
    file = file.replace(/^node_modules\/\.pnpm\/[^/]+\/node_modules\//, "");
  }
  return `${file}:${line}`;
}

function category(url) {
  if (!url) return "native / GC / idle";
  if (url.startsWith("node:")) return "node core";
  if (url.includes("packages/collector")) return "@sessionlens/collector";
  if (url.includes("packages/shared")) return "@sessionlens/shared";
  const pkg = url.match(/node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/);
  if (pkg) return pkg[1];
  return "other";
}

/** Self time by function and by package, largest first. */
export function summarizeProfile(path, { top = 25 } = {}) {
  const profile = JSON.parse(readFileSync(path, "utf8"));
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const selfUs = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const id = profile.samples[i];
    selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0));
  }
  const functions = new Map();
  const categories = new Map();
  let totalUs = 0;
  let idleUs = 0;
  for (const [id, us] of selfUs) {
    const node = byId.get(id);
    const { functionName, url, lineNumber, columnNumber } = node.callFrame;
    const name = functionName || "(anonymous)";
    if (name === "(idle)" || name === "(program)") {
      idleUs += name === "(idle)" ? us : 0;
      if (name === "(idle)") continue;
    }
    totalUs += us;
    const key = `${name} ${url}:${lineNumber}:${columnNumber}`;
    const entry = functions.get(key) ?? { function: name, location: location(url, lineNumber, columnNumber), category: category(url), selfUs: 0 };
    entry.selfUs += us;
    functions.set(key, entry);
    const c = entry.category;
    categories.set(c, (categories.get(c) ?? 0) + us);
  }
  const pct = (us) => Math.round((us / totalUs) * 1000) / 10;
  return {
    busyMs: Math.round(totalUs / 1000),
    idleMs: Math.round(idleUs / 1000),
    top: [...functions.values()]
      .sort((a, b) => b.selfUs - a.selfUs)
      .slice(0, top)
      .map((f) => ({ selfMs: Math.round(f.selfUs / 100) / 10, pct: pct(f.selfUs), function: f.function, location: f.location, category: f.category })),
    byCategory: [...categories].sort((a, b) => b[1] - a[1]).map(([name, us]) => ({ name, selfMs: Math.round(us / 1000), pct: pct(us) })),
  };
}
