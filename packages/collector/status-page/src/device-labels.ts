/**
 * Row labels ("Chrome 131 · Windows") from the collector's parse of each user
 * agent: the page parses no user agent itself, so a row and its details panel
 * never disagree. The list objects carry only the raw string; the details
 * endpoint (`GET api/v1/sessions/:id`) carries the parse. Sessions of one fleet
 * share a few dozen user agents, so the page asks for the details of one
 * session per distinct user agent, a few at a time, and keeps the label by
 * user agent. Until it arrives (or when it cannot), a row shows the start of
 * the raw string.
 */
import type { ApiClient } from "./auth.js";

export interface DeviceLabel {
  /** "Chrome 131"; "" when unknown (or not yet known). */
  browser: string;
  /** "Windows", "Mac OS", "iOS"; "" when unknown. */
  os: string;
  /** What the table shows. */
  label: string;
}

/** How much of a user agent the table shows while (or when) no parse is known. */
export const RAW_LABEL_CHARS = 48;

/** The label shown before the collector's parse has arrived, or when it knows nothing. */
export function rawLabel(userAgent: string): DeviceLabel {
  const raw = userAgent.trim();
  const label = raw === "" ? "Unknown device" : raw.length > RAW_LABEL_CHARS ? `${raw.slice(0, RAW_LABEL_CHARS - 1)}…` : raw;
  return { browser: "", os: "", label };
}

/** A label from the collector's `device` object (`{browser: {name, version}, os: {name, version}, …}`). */
export function labelFromParse(userAgent: string, device: unknown): DeviceLabel {
  const part = (key: string): { name: string; version: string } => {
    const value = typeof device === "object" && device !== null ? (device as Record<string, unknown>)[key] : undefined;
    const fields = typeof value === "object" && value !== null ? (value as Record<string, unknown>) : {};
    return {
      name: typeof fields["name"] === "string" ? fields["name"] : "",
      version: typeof fields["version"] === "string" ? fields["version"] : "",
    };
  };
  const browserPart = part("browser");
  const major = browserPart.version.split(".")[0] ?? "";
  const browser = browserPart.name ? [browserPart.name, major].filter(Boolean).join(" ") : "";
  const os = part("os").name;
  if (!browser && !os) return rawLabel(userAgent);
  return { browser, os, label: browser && os ? `${browser} · ${os}` : browser || os };
}

export interface DeviceLabelsOptions {
  api: ApiClient;
  /** Told when a user agent's label changed, so rows showing it are redrawn. */
  onLabel: (userAgent: string) => void;
  /** Details requests in flight at once (default 2). */
  concurrency?: number;
  /** User agents remembered; the memory starts over when full (default 2000). */
  maxEntries?: number;
  /** Lookups waiting at most; beyond it rows keep their raw label (default 500). */
  maxQueued?: number;
}

interface Entry {
  label: DeviceLabel;
  /** A lookup is queued or running (or done): not asked for again. */
  requested: boolean;
}

export class DeviceLabels {
  private readonly entries = new Map<string, Entry>();
  private readonly queue: { userAgent: string; sessionId: string }[] = [];
  private running = 0;

  constructor(private readonly options: DeviceLabelsOptions) {}

  /** The label for `userAgent` now; the first time, it asks the collector through `sessionId`'s details. */
  label(userAgent: string, sessionId: string): DeviceLabel {
    let entry = this.entries.get(userAgent);
    if (!entry) {
      if (this.entries.size >= (this.options.maxEntries ?? 2000)) this.entries.clear();
      entry = { label: rawLabel(userAgent), requested: false };
      this.entries.set(userAgent, entry);
    }
    if (!entry.requested && this.queue.length < (this.options.maxQueued ?? 500)) {
      entry.requested = true;
      this.queue.push({ userAgent, sessionId });
      this.pump();
    }
    return entry.label;
  }

  /** A parse the page got anyway (the details panel): no request needed for it. */
  learn(userAgent: string, label: DeviceLabel): void {
    const entry = this.entries.get(userAgent);
    if (entry && entry.label.label === label.label) {
      entry.requested = true;
      return;
    }
    this.entries.set(userAgent, { label, requested: true });
    this.options.onLabel(userAgent);
  }

  private pump(): void {
    while (this.running < (this.options.concurrency ?? 2) && this.queue.length > 0) {
      const next = this.queue.shift()!;
      this.running++;
      void this.lookUp(next.userAgent, next.sessionId).finally(() => {
        this.running--;
        this.pump();
      });
    }
  }

  private async lookUp(userAgent: string, sessionId: string): Promise<void> {
    try {
      // send(), not request(): a background label never opens the token form.
      const { response } = await this.options.api.send(`api/v1/sessions/${encodeURIComponent(sessionId)}`);
      if (!response.ok) {
        await response.body?.cancel().catch(() => undefined);
        return this.forget(userAgent);
      }
      const body: unknown = await response.json();
      const device = typeof body === "object" && body !== null ? (body as Record<string, unknown>)["device"] : undefined;
      this.learn(userAgent, labelFromParse(userAgent, device));
    } catch {
      this.forget(userAgent);
    }
  }

  /** The lookup failed (session gone, no token yet): the next session with this user agent asks again. */
  private forget(userAgent: string): void {
    const entry = this.entries.get(userAgent);
    if (entry) entry.requested = false;
  }
}
