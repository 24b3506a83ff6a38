import { describe, expect, it, vi } from "vitest";
import { ApiClient, TokenStore } from "../src/auth.js";
import { DeviceLabels, labelFromParse, RAW_LABEL_CHARS, rawLabel } from "../src/device-labels.js";
import { TableModel } from "../src/table-model.js";
import { session } from "./sessions.js";

const CHROME = { browser: { name: "Chrome", version: "131.0.0.0" }, os: { name: "Windows", version: "10" } };

describe("labelFromParse (the collector's parse, never the page's)", () => {
  it("shows browser and major version, then the OS name", () => {
    expect(labelFromParse("ua", CHROME)).toEqual({ browser: "Chrome 131", os: "Windows", label: "Chrome 131 · Windows" });
    expect(labelFromParse("ua", { browser: { name: "curl", version: null }, os: {} }).label).toBe("curl");
    expect(labelFromParse("ua", { os: { name: "Android", version: "14" } }).label).toBe("Android");
  });

  it("falls back to the raw string, cut and never interpreted, when the collector knows nothing", () => {
    const xss = "<img src=x onerror=alert(1)>";
    expect(labelFromParse(xss, { browser: { name: null }, os: { name: null } })).toEqual({ browser: "", os: "", label: xss });
    expect(labelFromParse(xss, "not an object").label).toBe(xss);
    const long = "x".repeat(100);
    expect(rawLabel(long).label).toHaveLength(RAW_LABEL_CHARS);
    expect(rawLabel("   ").label).toBe("Unknown device");
  });
});

function collector(parses: Record<string, unknown>) {
  const requested: string[] = [];
  const release: (() => void)[] = [];
  const fetch = vi.fn(async (input: RequestInfo | URL) => {
    const id = decodeURIComponent(String(input).split("/").at(-1)!);
    requested.push(id);
    await new Promise<void>((resolve) => release.push(resolve));
    if (!(id in parses)) return new Response(JSON.stringify({ error: { code: "not_found", message: "no such session" } }), { status: 404 });
    return Response.json({ id, device: parses[id] });
  });
  const api = new ApiClient({
    baseUrl: "http://collector.test/",
    tokens: new TokenStore(null),
    fetch: fetch as typeof globalThis.fetch,
    askForToken: async () => {
      throw new Error("a background label must never ask for a token");
    },
  });
  const releaseAll = async (): Promise<void> => {
    while (release.length > 0) {
      release.splice(0).forEach((resolve) => resolve());
      await vi.waitFor(() => undefined);
      await new Promise((resolve) => setTimeout(resolve, 0));
    }
  };
  return { api, requested, releaseAll };
}

describe("DeviceLabels", () => {
  it("asks the details of one session per distinct user agent, two at a time, and tells when a label arrives", async () => {
    const { api, requested, releaseAll } = collector({ a1: CHROME, b1: { browser: { name: "Firefox", version: "128.0" }, os: { name: "Linux" } }, c1: CHROME });
    const changed: string[] = [];
    const labels = new DeviceLabels({ api, onLabel: (ua) => changed.push(ua) });
    expect(labels.label("UA-A", "a1").label).toBe("UA-A"); // raw until the collector answers
    labels.label("UA-A", "a2");
    labels.label("UA-B", "b1");
    labels.label("UA-C", "c1");
    await vi.waitFor(() => expect(requested).toEqual(["a1", "b1"]));
    await releaseAll();
    expect(requested).toEqual(["a1", "b1", "c1"]);
    expect(changed.sort()).toEqual(["UA-A", "UA-B", "UA-C"]);
    expect(labels.label("UA-A", "a9").label).toBe("Chrome 131 · Windows");
    expect(labels.label("UA-B", "b9").label).toBe("Firefox 128 · Linux");
    expect(requested).toHaveLength(3);
  });

  it("asks again through another session when the first one was gone", async () => {
    const { api, requested, releaseAll } = collector({ a2: CHROME });
    const labels = new DeviceLabels({ api, onLabel: () => undefined });
    labels.label("UA-A", "a1");
    await vi.waitFor(() => expect(requested).toEqual(["a1"]));
    await releaseAll();
    labels.label("UA-A", "a2");
    await vi.waitFor(() => expect(requested).toEqual(["a1", "a2"]));
    await releaseAll();
    expect(labels.label("UA-A", "a3").label).toBe("Chrome 131 · Windows");
  });

  it("relabels the table's rows, and their order when sorted by device", async () => {
    const { api, releaseAll } = collector({ z: CHROME });
    const labels: DeviceLabels = new DeviceLabels({ api, onLabel: (ua) => model.relabel(ua) });
    const model = new TableModel({ key: "device", direction: "asc" }, (ua, id) => labels.label(ua, id));
    model.reset([session({ id: "z", userAgent: "zzz-agent" }), session({ id: "m", userAgent: "mmm-agent" })], 0);
    expect([model.at(0)!.info.id, model.at(1)!.info.id]).toEqual(["m", "z"]);
    await releaseAll();
    expect(model.get("z")!.device.label).toBe("Chrome 131 · Windows");
    expect([model.at(0)!.info.id, model.at(1)!.info.id]).toEqual(["z", "m"]);
  });
});
