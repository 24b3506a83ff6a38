/**
 * The details panel of one session: what the list knows at once (updated
 * live, ticking), then the collector's details — parsed device, creation
 * time, each page's path, bytes and connection times, the raw user agent.
 */
import { decodeHttpError } from "@sessionlens/shared/client";
import { TokenCancelled, type ApiClient } from "./auth.js";
import { SCOPE_LABELS } from "./columns.js";
import { readSessionDetails, type PageDetails, type SessionDetails } from "./details-data.js";
import { byId, el, setText } from "./dom.js";
import { formatAgo, formatBytes, formatClock, formatDuration } from "./format.js";
import type { DeviceLabel } from "./device-labels.js";
import type { SessionRow } from "./table-model.js";

/** At most one details request per this interval while events keep arriving. */
const REFETCH_INTERVAL_MS = 1000;

export interface DetailsHandlers {
  /** The collector's parse of a user agent arrived with the details: the table's rows can use it too. */
  learned?: (userAgent: string, label: DeviceLabel) => void;
  terminate(id: string): void;
  closed(): void;
}

type Fact = [label: string, value: string, className?: string];

export class DetailsPanel {
  private readonly root = byId("details", HTMLElement);
  private readonly title = byId("details-title", HTMLElement);
  private readonly idLine = byId("details-id", HTMLElement);
  private readonly ended = byId("details-ended", HTMLElement);
  private readonly terminateButton = byId("details-terminate", HTMLButtonElement);
  private readonly overview = byId("details-overview", HTMLElement);
  private readonly device = byId("details-device", HTMLElement);
  private readonly pageCount = byId("details-page-count", HTMLElement);
  private readonly pages = byId("details-pages", HTMLElement);
  private readonly pagesNote = byId("details-pages-note", HTMLElement);
  private readonly userAgent = byId("details-ua", HTMLElement);

  private record: SessionRow | null = null;
  private details: SessionDetails | null = null;
  private endedReason: string | null = null;
  private generation = 0;
  private lastFetchMs = 0;
  private refetchTimer: ReturnType<typeof setTimeout> | undefined;
  private uptimeValue: HTMLElement | null = null;
  private lastCommValue: HTMLElement | null = null;

  constructor(
    private readonly api: ApiClient,
    private readonly handlers: DetailsHandlers,
  ) {
    byId("details-close", HTMLButtonElement).addEventListener("click", () => this.close());
    this.terminateButton.addEventListener("click", () => {
      if (this.record && !this.endedReason) this.handlers.terminate(this.record.info.id);
    });
    this.root.addEventListener("keydown", (event) => {
      if (event.key === "Escape") this.close();
    });
  }

  get openId(): string | null {
    return this.root.hidden ? null : (this.record?.info.id ?? null);
  }

  open(record: SessionRow, nowMs: number): void {
    const sameSession = this.record?.info.id === record.info.id && !this.root.hidden;
    this.record = record;
    this.root.hidden = false;
    if (!sameSession) {
      this.details = null;
      this.endedReason = null;
      clearTimeout(this.refetchTimer);
      this.renderAll(nowMs);
      this.pagesNote.hidden = false;
      setText(this.pagesNote, "Loading details…");
      this.pages.replaceChildren();
    }
    void this.fetchDetails();
  }

  close(): void {
    if (this.root.hidden) return;
    this.root.hidden = true;
    this.generation++;
    clearTimeout(this.refetchTimer);
    this.record = null;
    this.details = null;
    this.handlers.closed();
  }

  /** The open session changed (an upsert): show it now, refetch details soon. */
  update(record: SessionRow, nowMs: number): void {
    if (this.root.hidden || this.record?.info.id !== record.info.id) return;
    this.record = record;
    this.endedReason = null;
    this.renderAll(nowMs);
    this.scheduleRefetch();
  }

  /** The open session ended. */
  markEnded(id: string, reason: string): void {
    if (this.root.hidden || this.record?.info.id !== id) return;
    this.endedReason = reason;
    clearTimeout(this.refetchTimer);
    this.generation++;
    this.renderState();
  }

  tick(nowMs: number): void {
    if (this.root.hidden || !this.record || this.endedReason) return;
    if (this.uptimeValue) setText(this.uptimeValue, formatDuration(nowMs - this.record.createdAt));
    if (this.lastCommValue) setText(this.lastCommValue, formatAgo(nowMs - this.record.lastCommAt));
  }

  private scheduleRefetch(): void {
    if (this.refetchTimer !== undefined) return;
    const waitMs = Math.max(0, this.lastFetchMs + REFETCH_INTERVAL_MS - Date.now());
    this.refetchTimer = setTimeout(() => {
      this.refetchTimer = undefined;
      void this.fetchDetails();
    }, waitMs);
  }

  private async fetchDetails(): Promise<void> {
    const record = this.record;
    if (!record) return;
    const generation = ++this.generation;
    this.lastFetchMs = Date.now();
    let note: string | null = null;
    try {
      const response = await this.api.request(`api/v1/sessions/${encodeURIComponent(record.info.id)}`);
      if (generation !== this.generation) return;
      if (response.status === 404) {
        this.endedReason ??= "ended";
        this.renderState();
        return;
      }
      if (!response.ok) note = `Could not load details: ${(await decodeHttpError(response)).message}`;
      else {
        const details = readSessionDetails(await response.json());
        if (generation !== this.generation) return;
        if (details) {
          this.details = details;
          this.handlers.learned?.(details.info.userAgent, details.label);
        }
        else note = "Could not read the collector's answer.";
      }
    } catch (error) {
      if (generation !== this.generation) return;
      note = error instanceof TokenCancelled ? "Details need an API token." : "Could not reach the collector.";
    }
    this.renderAll(Date.now());
    if (note) {
      this.pagesNote.hidden = false;
      setText(this.pagesNote, note);
    }
  }

  private renderAll(nowMs: number): void {
    const record = this.record;
    if (!record) return;
    const { info, device } = record;
    const details = this.details?.info.id === info.id ? this.details : null;
    // The table's label, so the panel is plainly about the row that was clicked; the collector's
    // fuller parse is in the Device section.
    setText(this.title, device.label);
    setText(this.idLine, info.id);

    const created = details && Number.isFinite(details.createdAt) ? details.createdAt : record.createdAt;
    const tokenExpiry =
      details && Number.isFinite(details.tokenExpiresAt) ? ` · token expires ${formatClock(details.tokenExpiresAt, nowMs)}` : "";
    const sent = `${formatBytes(info.totalBytesSent)} total · ${formatBytes(info.recentBytesSent)} in the latest report`;
    const facts: Fact[] = [
      ["User", info.username],
      ["Authorized", `${info.authorized ? "Yes" : "No"}${tokenExpiry}`],
      ["Project", info.project],
      ["Scope", SCOPE_LABELS[info.sessionScope]],
      ["Client address", info.clientAddress || "—", "mono"],
      ["Created", formatClock(created, nowMs)],
      ["Uptime", formatDuration(nowMs - record.createdAt)],
      ["Last comm", formatAgo(nowMs - record.lastCommAt)],
      ["Sent to gateway", sent],
    ];
    if (details && details.closedPagesBytes > 0) facts.push(["From closed pages", formatBytes(details.closedPagesBytes)]);
    const values = this.renderFacts(this.overview, facts);
    this.uptimeValue = values.get("Uptime") ?? null;
    this.lastCommValue = values.get("Last comm") ?? null;

    this.renderFacts(this.device, [
      ["Browser", details ? details.browser || "Unknown" : device.browser || "…"],
      ["Operating system", details ? details.os || "Unknown" : device.os || "…"],
      ["Device", details ? details.device || "Desktop or unknown" : "…"],
      ...(details?.engine ? ([["Engine", details.engine]] as Fact[]) : []),
    ]);
    setText(this.userAgent, info.userAgent || "(none reported)");

    setText(this.pageCount, String(info.activePages));
    if (details) this.renderPages(details.pages, nowMs);
    this.renderState();
  }

  private renderState(): void {
    const record = this.record;
    const ended = this.endedReason !== null;
    this.ended.hidden = !ended;
    if (ended) setText(this.ended, `This session has ended (${this.endedReason}).`);
    this.root.classList.toggle("is-ended", ended);
    this.terminateButton.hidden = !record || record.info.sessionScope === "designer";
    this.terminateButton.disabled = ended;
  }

  private renderFacts(list: HTMLElement, facts: Fact[]): Map<string, HTMLElement> {
    const values = new Map<string, HTMLElement>();
    const children: HTMLElement[] = [];
    for (const [label, value, className] of facts) {
      const row = el("div", "fact");
      const dd = el("dd", className, value);
      row.append(el("dt", undefined, label), dd);
      children.push(row);
      values.set(label, dd);
    }
    list.replaceChildren(...children);
    return values;
  }

  private renderPages(pages: PageDetails[], nowMs: number): void {
    this.pagesNote.hidden = pages.length > 0;
    if (pages.length === 0) setText(this.pagesNote, "No open pages: the session ends when its timeout passes.");
    const items = pages.map((page) => {
      const item = el("li", "page");
      const head = el("div", "page-head");
      const state = el("span", page.connected ? "chip chip-ok" : "chip chip-warn", page.connected ? "Connected" : "Reconnecting");
      head.append(el("span", "page-path mono", page.path || "(no path)"), state);
      const meta = el("div", "page-meta");
      meta.append(
        el("span", "mono page-id", page.id),
        el("span", "page-bytes", Number.isFinite(page.bytes) ? formatBytes(page.bytes) : "—"),
      );
      const times = el("dl", "page-times");
      const time = (label: string, ms: number): void => {
        if (!Number.isFinite(ms)) return;
        const row = el("div", "fact");
        row.append(el("dt", undefined, label), el("dd", undefined, formatClock(ms, nowMs)));
        times.append(row);
      };
      time("Opened", page.openedAt);
      time("Connected", page.connectedAt);
      time("Disconnected", page.disconnectedAt);
      item.title = page.path;
      item.append(head, meta, times);
      return item;
    });
    this.pages.replaceChildren(...items);
  }
}
