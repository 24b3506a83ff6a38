import { describe, expect, it } from "vitest";
import { detectScope, isScope } from "@sessionlens/shared";

// Real user agent strings, one per kind of client we must tell apart.
const TABLE: [string, string, "browser" | "ios" | "android"][] = [
  ["desktop Chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36", "browser"],
  ["desktop Firefox", "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "browser"],
  ["desktop Safari", "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "browser"],
  ["desktop Edge", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "browser"],
  ["Linux Chromium", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36", "browser"],
  ["iPhone Safari", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "browser"],
  ["iPhone Chrome (CriOS)", "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) CriOS/126.0.6478.54 Mobile/15E148 Safari/604.1", "browser"],
  ["iPhone WKWebView app", "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "ios"],
  ["iPad WKWebView app", "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148", "ios"],
  ["iPad Safari (mobile mode)", "Mozilla/5.0 (iPad; CPU OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4 Mobile/15E148 Safari/604.1", "browser"],
  ["Android Chrome", "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.81 Mobile Safari/537.36", "browser"],
  ["Android WebView", "Mozilla/5.0 (Linux; Android 14; Pixel 8 Build/AP2A.240805.005; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/131.0.6778.81 Mobile Safari/537.36", "android"],
  ["Android WebView, old", "Mozilla/5.0 (Linux; Android 9; SM-G960F Build/PPR1.180610.011; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/74.0.3729.157 Mobile Safari/537.36", "android"],
  ["Samsung Internet", "Mozilla/5.0 (Linux; Android 14; SAMSUNG SM-S921B) AppleWebKit/537.36 (KHTML, like Gecko) SamsungBrowser/26.0 Chrome/122.0.0.0 Mobile Safari/537.36", "browser"],
  ["Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "browser"],
  ["Googlebot smartphone", "Mozilla/5.0 (Linux; Android 6.0.1; Nexus 5X Build/MMB29P) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.6778.69 Mobile Safari/537.36 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "browser"],
  ["curl", "curl/8.5.0", "browser"],
  ["empty", "", "browser"],
];

describe("detectScope", () => {
  it.each(TABLE)("%s", (_name, userAgent, expected) => {
    expect(detectScope(userAgent)).toBe(expected);
  });

  it("tells an iPad desktop-mode WebView from a Mac by touch support", () => {
    const desktopModeWebView =
      "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko)";
    expect(detectScope(desktopModeWebView, null, { maxTouchPoints: 5 })).toBe("ios");
    expect(detectScope(desktopModeWebView, null, { maxTouchPoints: 0 })).toBe("browser");
    expect(detectScope(desktopModeWebView)).toBe("browser");
    // iPad Safari in desktop mode keeps its Safari token: a browser.
    const desktopModeSafari = `${desktopModeWebView} Version/17.4 Safari/605.1.15`;
    expect(detectScope(desktopModeSafari, null, { maxTouchPoints: 5 })).toBe("browser");
  });

  it("lets the explicit scope win, and designer only when explicit", () => {
    expect(detectScope(TABLE[0]![1], "designer")).toBe("designer");
    expect(detectScope(TABLE[11]![1], "browser")).toBe("browser");
    expect(detectScope(TABLE[0]![1], "ios")).toBe("ios");
    for (const [, userAgent] of TABLE) expect(detectScope(userAgent)).not.toBe("designer");
  });

  it("ignores an invalid explicit scope", () => {
    expect(detectScope(TABLE[11]![1], "tv" as never)).toBe("android");
    expect(isScope("tv")).toBe(false);
    expect(isScope("designer")).toBe(true);
  });
});
