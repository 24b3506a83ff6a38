/**
 * The dashboard strip above the table: sessions and pages by scope, bytes per second sent by all
 * sessions, and refusals by reason, over the collector's recent history (`GET api/v1/stats`).
 * Plain SVG drawn from CSS classes, so the light and dark schemes and the strict CSP both hold.
 */
import type { ApiClient } from "./auth.js";
import {
  mergeStats,
  niceCeiling,
  readStats,
  stackedAreaPaths,
  stackedMax,
  topReasons,
  type StatsHistory,
  type StatsSample,
} from "./chart-data.js";
import { SCOPE_LABELS } from "./columns.js";
import { el, setText } from "./dom.js";
import { formatBytes, formatCount } from "./format.js";
import { SCOPES } from "./session.js";

const SVG_NS = "http://www.w3.org/2000/svg";
const WIDTH = 240;
const HEIGHT = 56;
/** Reasons charted by name; the rest are summed as "other". */
const MAX_REASONS = 4;
/** Polling bounds, whatever interval the collector samples at. */
const MIN_POLL_MS = 1_000;
const MAX_POLL_MS = 60_000;

interface SeriesSpec {
  label: string;
  className: string;
  values: number[];
}

function svg<K extends keyof SVGElementTagNameMap>(tag: K, attributes: Record<string, string> = {}): SVGElementTagNameMap[K] {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, value);
  return element;
}

/** "60 min", "5 min", "30 s": the window's length for the axis label. */
export function formatWindow(ms: number): string {
  if (ms >= 120_000) return `${Math.round(ms / 60_000)} min`;
  return `${Math.round(ms / 1000)} s`;
}

/** One chart card: a title, the current value, stacked areas and a legend. */
class ChartCard {
  readonly root: HTMLElement;
  readonly #value: HTMLElement;
  readonly #note: HTMLElement;
  readonly #chart: SVGSVGElement;
  readonly #areas: SVGGElement;
  readonly #legend: HTMLElement;
  readonly #max: HTMLElement;
  readonly #from: HTMLElement;
  #legendKey = "";

  constructor(name: string, title: string) {
    this.root = el("section", "chart-card");
    this.root.dataset["chart"] = name;
    const head = el("header", "chart-head");
    this.#value = el("span", "chart-value", "—");
    this.#note = el("span", "chart-note");
    head.append(el("h2", "chart-title", title), this.#value, this.#note);
    this.#chart = svg("svg", { class: "chart", viewBox: `0 0 ${WIDTH} ${HEIGHT}`, preserveAspectRatio: "none", role: "img" });
    this.#chart.append(
      svg("line", { class: "chart-grid", x1: "0", x2: String(WIDTH), y1: String(HEIGHT / 2), y2: String(HEIGHT / 2) }),
      svg("line", { class: "chart-baseline", x1: "0", x2: String(WIDTH), y1: String(HEIGHT - 0.5), y2: String(HEIGHT - 0.5) }),
    );
    this.#areas = svg("g", { class: "chart-areas" });
    this.#chart.append(this.#areas);
    const plot = el("div", "chart-plot");
    this.#max = el("span", "chart-max");
    plot.append(this.#chart, this.#max);
    const axis = el("div", "chart-axis");
    this.#from = el("span", "chart-axis-from");
    axis.append(this.#from, el("span", "chart-axis-to", "now"));
    this.#legend = el("ul", "chart-legend");
    this.root.append(head, plot, axis, this.#legend);
  }

  draw(history: StatsHistory, series: SeriesSpec[], value: string, note: string, describe: (max: number) => string): void {
    setText(this.#value, value);
    setText(this.#note, note);
    const times = history.samples.map((sample) => sample.at);
    const toMs = times.at(-1) ?? 0;
    const values = series.map((spec) => spec.values);
    const yMax = niceCeiling(stackedMax(values));
    const paths = stackedAreaPaths(times, values, { fromMs: toMs - history.windowMs, toMs, width: WIDTH, height: HEIGHT, yMax });
    // Reuse the path elements while the series stay the same (a redraw only changes `d`).
    const key = series.map((spec) => spec.className).join(" ");
    if (key !== this.#legendKey) {
      this.#legendKey = key;
      this.#areas.replaceChildren(...series.map((spec) => svg("path", { class: `chart-area ${spec.className}` })));
      this.#legend.replaceChildren(
        ...series.map((spec) => {
          const item = el("li", `chart-legend-item ${spec.className}`);
          item.append(el("span", "chart-legend-swatch"), el("span", "chart-legend-label", spec.label));
          return item;
        }),
      );
    }
    paths.forEach((d, i) => this.#areas.children[i]?.setAttribute("d", d));
    setText(this.#max, describe(yMax));
    setText(this.#from, `−${formatWindow(history.windowMs)}`);
    this.#chart.setAttribute("aria-label", `${this.root.querySelector(".chart-title")?.textContent ?? ""}: ${value} now; ${series.map((spec) => `${spec.label} ${spec.values.at(-1) ?? 0}`).join(", ")}`);
    this.root.classList.toggle("is-empty", times.length === 0);
  }
}

/** The four charts, drawn from one history. */
export class ChartStrip {
  readonly #sessions = new ChartCard("sessions", "Sessions");
  readonly #pages = new ChartCard("pages", "Pages");
  readonly #bytes = new ChartCard("bytes", "Bytes sent / s");
  readonly #refused = new ChartCard("refused", "Refused");

  constructor(root: HTMLElement) {
    root.replaceChildren(this.#sessions.root, this.#pages.root, this.#bytes.root, this.#refused.root);
  }

  draw(history: StatsHistory): void {
    const { samples } = history;
    const latest = samples.at(-1);
    const byScope = (pick: (sample: StatsSample) => Record<string, number>): SeriesSpec[] =>
      SCOPES.map((scope) => ({ label: SCOPE_LABELS[scope], className: `series-${scope}`, values: samples.map((sample) => pick(sample)[scope] ?? 0) }));
    const total = (counts: Record<string, number> | undefined): number => Object.values(counts ?? {}).reduce((sum, n) => sum + n, 0);
    const window = formatWindow(history.windowMs);
    const counts = (max: number) => `max ${formatCount(max)}`;

    this.#sessions.draw(history, byScope((sample) => sample.sessions), latest ? formatCount(total(latest.sessions)) : "—", "by scope", counts);
    this.#pages.draw(history, byScope((sample) => sample.pages), latest ? formatCount(total(latest.pages)) : "—", "by scope", counts);
    // Reports arrive with heartbeats, so one sample's rate jumps about: the value is the last minute's mean.
    const lastMinute = latest ? samples.filter((sample) => sample.at > latest.at - 60_000) : [];
    const meanRate = lastMinute.reduce((sum, sample) => sum + sample.bytesPerSecond, 0) / Math.max(1, lastMinute.length);
    this.#bytes.draw(
      history,
      [{ label: "All sessions", className: "series-bytes", values: samples.map((sample) => sample.bytesPerSecond) }],
      latest ? `${formatBytes(meanRate)}/s` : "—",
      "last-minute mean",
      (max) => `max ${formatBytes(max)}/s`,
    );

    const reasons = topReasons(samples, MAX_REASONS);
    const refused: SeriesSpec[] = reasons.map((reason, i) => ({
      label: reason.replaceAll("_", " "),
      className: `series-reason-${i}`,
      values: samples.map((sample) => sample.rejected[reason] ?? 0),
    }));
    const others = samples.map((sample) => total(sample.rejected) - reasons.reduce((sum, reason) => sum + (sample.rejected[reason] ?? 0), 0));
    if (others.some((n) => n > 0)) refused.push({ label: "other", className: "series-reason-other", values: others });
    const refusedTotal = samples.reduce((sum, sample) => sum + total(sample.rejected), 0);
    this.#refused.draw(history, refused, latest ? formatCount(refusedTotal) : "—", `in ${window}, by reason`, (max) => `max ${formatCount(max)} per sample`);
  }
}

/**
 * Polls `GET api/v1/stats` at the collector's sample interval (only new samples, with `since`),
 * while the page is visible, and redraws the strip. A 401 waits: the event stream asks for the token.
 */
export function startCharts(api: ApiClient, root: HTMLElement): ChartStrip {
  const strip = new ChartStrip(root);
  let history: StatsHistory | null = null;
  let timer: ReturnType<typeof setTimeout> | undefined;
  let inFlight = false;

  async function poll(): Promise<void> {
    clearTimeout(timer);
    if (inFlight) return;
    inFlight = true;
    try {
      const since = history?.samples.at(-1)?.at;
      const { response } = await api.send(since === undefined ? "api/v1/stats" : `api/v1/stats?since=${since}`);
      if (response.ok) {
        const next = readStats(await response.json());
        if (next !== null) {
          history = mergeStats(history, next);
          strip.draw(history);
        }
      } else {
        await response.body?.cancel();
      }
    } catch {
      // The connection indicator already shows trouble; try again on the next tick.
    } finally {
      inFlight = false;
      if (!document.hidden) timer = setTimeout(() => void poll(), Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, history?.intervalMs ?? 5_000)));
    }
  }

  document.addEventListener("visibilitychange", () => {
    if (document.hidden) clearTimeout(timer);
    else void poll();
  });
  void poll();
  return strip;
}
