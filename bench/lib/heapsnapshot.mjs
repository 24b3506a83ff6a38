// Reads two V8 heap snapshots and lists what grew between them, by kind of
// object (constructor name, or V8's own category), per connected page.
import { readFileSync } from "node:fs";

/** Self size and count per (type, name) of one .heapsnapshot file. */
export function heapByConstructor(path) {
  const snapshot = JSON.parse(readFileSync(path, "utf8"));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const stride = fields.length;
  const typeAt = fields.indexOf("type");
  const nameAt = fields.indexOf("name");
  const sizeAt = fields.indexOf("self_size");
  const { nodes, strings } = snapshot;
  const groups = new Map();
  for (let i = 0; i < nodes.length; i += stride) {
    const type = types[nodes[i + typeAt]];
    let name;
    if (type === "object" || type === "closure" || type === "native") name = `${strings[nodes[i + nameAt]]}`;
    else if (type === "hidden" || type === "object shape" || type === "code") name = `(${type}) ${strings[nodes[i + nameAt]]}`.slice(0, 60);
    else name = `(${type})`;
    const key = `${type}\u0000${name}`;
    const entry = groups.get(key) ?? { type, name, bytes: 0, count: 0 };
    entry.bytes += nodes[i + sizeAt];
    entry.count++;
    groups.set(key, entry);
  }
  return groups;
}

/** What grew from `before` to `after`, per page, largest first. */
export function heapGrowthPerPage(beforePath, afterPath, pages, top = 25) {
  const before = heapByConstructor(beforePath);
  const after = heapByConstructor(afterPath);
  const rows = [];
  let total = 0;
  for (const [key, a] of after) {
    const b = before.get(key) ?? { bytes: 0, count: 0 };
    const bytes = a.bytes - b.bytes;
    total += bytes;
    rows.push({ type: a.type, name: a.name, bytesPerPage: Math.round(bytes / pages), countPerPage: Math.round(((a.count - b.count) / pages) * 100) / 100 });
  }
  rows.sort((x, y) => y.bytesPerPage - x.bytesPerPage);
  return { totalPerPage: Math.round(total / pages), top: rows.slice(0, top) };
}
