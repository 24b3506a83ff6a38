import UAParser from "ua-parser-js";
import { detach } from "./strings.js";

export interface DeviceInfo {
  browser: { name: string | null; version: string | null };
  os: { name: string | null; version: string | null };
  device: { type: string | null; vendor: string | null; model: string | null };
  engine: { name: string | null; version: string | null };
  /** A short human label, e.g. "Chrome 131 on Windows 10". */
  summary: string;
}

interface Entry {
  /** The first instance of this string: sessions share it instead of keeping copies. */
  userAgent: string;
  device: DeviceInfo | null;
}

/**
 * User agents, interned and parsed at most once per distinct string. Browsers of one fleet send a
 * handful of distinct strings, so sessions share one copy; the cache is bounded against floods.
 */
export class UserAgentCache {
  readonly #entries = new Map<string, Entry>();
  readonly #maxEntries: number;

  constructor(maxEntries = 10_000) {
    this.#maxEntries = maxEntries;
  }

  /** The shared instance of `userAgent`. */
  intern(userAgent: string): string {
    return this.#entry(userAgent).userAgent;
  }

  parse(userAgent: string): DeviceInfo {
    const entry = this.#entry(userAgent);
    entry.device ??= parseDevice(userAgent);
    return entry.device;
  }

  #entry(userAgent: string): Entry {
    let entry = this.#entries.get(userAgent);
    if (entry === undefined) {
      // Crude but bounded: when full, start over (the working set refills at once).
      if (this.#entries.size >= this.#maxEntries) this.#entries.clear();
      const copy = detach(userAgent);
      entry = { userAgent: copy, device: null };
      this.#entries.set(copy, entry);
    }
    return entry;
  }
}

function parseDevice(userAgent: string): DeviceInfo {
  const result = new UAParser(userAgent).getResult();
  const browser = { name: result.browser.name ?? null, version: result.browser.version ?? null };
  const os = { name: result.os.name ?? null, version: result.os.version ?? null };
  const device = { type: result.device.type ?? null, vendor: result.device.vendor ?? null, model: result.device.model ?? null };
  const engine = { name: result.engine.name ?? null, version: result.engine.version ?? null };
  const browserLabel = browser.name ? `${browser.name}${result.browser.major ? ` ${result.browser.major}` : ""}` : "Unknown browser";
  const osLabel = os.name ? ` on ${os.name}${os.version ? ` ${os.version}` : ""}` : "";
  const deviceLabel = device.model ? ` (${[device.vendor, device.model].filter(Boolean).join(" ")})` : "";
  return { browser, os, device, engine, summary: `${browserLabel}${osLabel}${deviceLabel}` };
}
