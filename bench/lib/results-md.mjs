// bench/RESULTS.md, written by the runner after a full run: the verdict table with the previous
// run's figure beside each row, the machine and its load before and after, the details. The
// previous run is read back from the committed RESULTS.md itself: a machine-readable copy of its
// rows sits in an HTML comment at the end (older files without it are matched by figure label).
import { existsSync, readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { detailSections, ingestTable, markdownTable } from "./report.mjs";

const BLOCK_START = "<!-- sessionlens-bench-results";
const BLOCK_END = "-->";

/** Aggregate CPU jiffies of the whole machine (Linux), to tell how busy it was during the run. */
function cpuTimes() {
  try {
    const fields = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number);
    const idle = fields[3] + (fields[4] ?? 0);
    return { idle, total: fields.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

/** The machine's load now: load averages and a CPU-time sample for machineBusy(). */
export function machineLoad() {
  return { loadAverage: loadavg().map((l) => Math.round(l * 100) / 100), cpu: cpuTimes() };
}

/** Share of the machine's CPU time that was busy between two machineLoad() samples (all processes, the benchmark's own included). */
export function machineBusy(before, after) {
  if (!before?.cpu || !after?.cpu) return null;
  const total = after.cpu.total - before.cpu.total;
  return total > 0 ? Math.round((1 - (after.cpu.idle - before.cpu.idle) / total) * 1000) / 1000 : null;
}

/** Labels of the same figure across runs: lower case, without explanatory parentheses such as "(100 matches)". */
function normaliseFigure(figure) {
  return figure
    .replace(/\s\([^()]*[\s:][^()]*\)/g, "")
    .replace(/\s+/g, " ")
    .trim()
    .toLowerCase();
}

/**
 * The previous run's rows from a RESULTS.md: `{ meta, rows: [{ key, figure, measured, verdict }] }`,
 * or null when the file is missing or has no verdict table.
 */
export function readPreviousResults(path) {
  if (!existsSync(path)) return null;
  const text = readFileSync(path, "utf8");
  const start = text.lastIndexOf(BLOCK_START);
  if (start >= 0) {
    const end = text.indexOf(BLOCK_END, start);
    try {
      return JSON.parse(text.slice(start + BLOCK_START.length, end));
    } catch {
      // fall through to the table
    }
  }
  // An older, hand-assembled RESULTS.md: read its verdict table (| benchmark | figure | measured | ... | verdict |).
  const rows = [];
  for (const line of text.split("\n")) {
    const cells = line.split("|").slice(1, -1).map((c) => c.trim());
    if (cells.length < 5 || !/^\d\./.test(cells[0])) continue;
    rows.push({ key: null, figure: cells[1], measured: cells[2], verdict: cells.at(-1).replace(/\*/g, "") });
  }
  if (rows.length === 0) return null;
  const date = text.match(/\*\*Date:\*\*\s*([^\n]*)/)?.[1]?.trim() ?? null;
  const gitCommit = text.match(/\*\*Code:\*\*\s*commit\s+([0-9a-f]+)/)?.[1] ?? null;
  return { meta: { date, gitCommit }, rows };
}

/** A function from a new row to the previous run's measured text for the same figure (undefined if none). */
export function previousLookup(previous) {
  if (!previous) return () => undefined;
  const byKey = new Map();
  const byFigure = new Map();
  for (const row of previous.rows) {
    if (row.key) byKey.set(row.key, row);
    byFigure.set(normaliseFigure(row.figure), row);
  }
  return (row) => {
    const before = (row.key && byKey.get(row.key)) || byFigure.get(normaliseFigure(row.figure));
    return before ? `${before.measured} (${before.verdict})` : undefined;
  };
}

const fmtLoad = (l) => (l ? l.join(" / ") : "n/a");

/** The whole RESULTS.md for a full run. */
export function renderResultsMd(results, previous) {
  const m = results.meta;
  const busy = m.machineBusy === null || m.machineBusy === undefined ? "n/a" : `${Math.round(m.machineBusy * 100)} %`;
  const quiet = m.loadAverageAtStart[0] <= Math.max(0.5, m.nproc * 0.25);
  const prev = previous?.meta;
  const rows = results.verdicts.map(({ key, figure, measured, verdict, value }) => ({ key, figure, measured, verdict, value }));
  return [
    "# SessionLens benchmark results",
    "",
    "Written by `node bench/run.mjs` (`pnpm bench`) from a full run; never edited by hand. How each figure is",
    "measured: [README.md](README.md); analysis and what was tried: [NOTES.md](NOTES.md).",
    "",
    `- **Date:** ${m.date} (${m.durationS} s)`,
    `- **Machine:** ${m.nproc} × ${m.cpuModel}, ${m.memTotalGiB} GiB RAM, ${m.platform}`,
    `- **Load:** load average (1 / 5 / 15 min) ${fmtLoad(m.loadAverageAtStart)} before, ${fmtLoad(m.loadAverageAtEnd)} after; the machine's CPUs were ${busy} busy during the run (the benchmark's own processes included)${quiet ? "" : ". **The machine was not quiet at the start: treat the timings with care.**"}`,
    `- **Node:** ${m.node}`,
    `- **Code:** commit ${m.gitCommit}${m.uncommitted?.length ? ` with ${m.uncommitted.length} uncommitted file(s) under packages/` : ""}`,
    `- **Previous run:** ${prev ? `${prev.date ?? "unknown date"}, commit ${prev.gitCommit ?? "unknown"}${prev.loadAverageAtStart ? `, load ${fmtLoad(prev.loadAverageAtStart)} before and ${fmtLoad(prev.loadAverageAtEnd)} after` : ""}` : "none recorded"}`,
    "",
    "## Verdicts",
    "",
    "Ingest and memory: median of the interleaved repetitions. The previous run's figure stands beside each row.",
    "",
    markdownTable(results.verdicts, previousLookup(previous)),
    "",
    ...(results.ingest ? ["## Ingest runs", "", ingestTable(results), ""] : []),
    detailSections(results),
    `${BLOCK_START}\n${JSON.stringify({ meta: { date: m.date, gitCommit: m.gitCommit, loadAverageAtStart: m.loadAverageAtStart, loadAverageAtEnd: m.loadAverageAtEnd }, rows })}\n${BLOCK_END}`,
    "",
  ].join("\n");
}
