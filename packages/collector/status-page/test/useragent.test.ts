import { describe, expect, it } from "vitest";
import { createUserAgentCache, describeUserAgent, RAW_LABEL_CHARS } from "../src/useragent.js";

const UA = {
  chromeWindows:
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  edge: "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36 Edg/126.0.2592.68",
  firefoxLinux: "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
  safariMac:
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15",
  safariIphone:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
  iosWebView: "Mozilla/5.0 (iPad; CPU OS 16_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  chromeIos:
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1",
  androidWebView:
    "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240605.024; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/126.0.6478.71 Mobile Safari/537.36",
  samsung:
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/25.0 Chrome/121.0.0.0 Mobile Safari/537.36",
  chromeOs:
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
  headless:
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36",
  ie11: "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
};

describe("describeUserAgent", () => {
  it.each([
    ["chromeWindows", "Chrome 126 · Windows"],
    ["edge", "Edge 126 · Windows"],
    ["firefoxLinux", "Firefox 127 · Linux"],
    ["safariMac", "Safari 17.4 · macOS"],
    ["safariIphone", "Safari 17.5 · iOS 17"],
    ["iosWebView", "iOS WebView · iPadOS 16"],
    ["chromeIos", "Chrome 126 · iOS 17"],
    ["androidWebView", "Android WebView · Android 14"],
    ["samsung", "Samsung Internet 25 · Android 13"],
    ["chromeOs", "Chrome 126 · ChromeOS"],
    ["headless", "Headless Chrome 131 · Linux"],
    ["ie11", "Internet Explorer 11 · Windows"],
  ] as const)("labels %s as %s", (name, label) => {
    expect(describeUserAgent(UA[name]).label).toBe(label);
  });

  it("names tools by their product token", () => {
    expect(describeUserAgent("curl/8.5.0").label).toBe("curl 8");
    expect(describeUserAgent("node").label).toBe("node");
  });

  it("shows the start of an unrecognised user agent as it is (the page renders it as text)", () => {
    const xss = "<img src=x onerror=alert(1)>";
    expect(describeUserAgent(xss)).toEqual({ browser: "", os: "", label: xss });
    const long = `<${"x".repeat(200)}>`;
    const { label } = describeUserAgent(long);
    expect(label).toHaveLength(RAW_LABEL_CHARS);
    expect(label.endsWith("…")).toBe(true);
    expect(describeUserAgent("   ").label).toBe("Unknown device");
  });

  it("caches by string and stays bounded", () => {
    const describe = createUserAgentCache(2);
    const first = describe(UA.edge);
    expect(describe(UA.edge)).toBe(first);
    describe("a/1");
    describe("b/1"); // over the cap: starts over
    expect(describe(UA.edge)).not.toBe(first);
    expect(describe(UA.edge)).toEqual(first);
  });
});
