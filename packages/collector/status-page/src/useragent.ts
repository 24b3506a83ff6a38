/**
 * A short device label ("Chrome 126 · Windows") from a raw user agent, cheap
 * enough to run for every row of a 10,000-session snapshot. The list objects
 * carry only the raw string; the details panel shows the collector's full parse.
 */

export interface DeviceLabel {
  /** "Chrome 126", "Safari 17.4", "Android WebView"; "" when unknown. */
  browser: string;
  /** "Windows", "macOS", "iOS 17", "Android 14"; "" when unknown. */
  os: string;
  /** What the table shows: browser and OS, or the start of the raw string when neither is known. */
  label: string;
}

/** How much of an unrecognised user agent the table shows. */
export const RAW_LABEL_CHARS = 48;

type Rule = [pattern: RegExp, name: string];

// Order matters: Chromium-based browsers also say Chrome and Safari.
const BROWSERS: Rule[] = [
  [/\bEdg(?:e|A|iOS)?\/(\d+)/, "Edge"],
  [/\bOPR\/(\d+)/, "Opera"],
  [/\bOPiOS\/(\d+)/, "Opera"],
  [/\bSamsungBrowser\/(\d+)/, "Samsung Internet"],
  [/\bYaBrowser\/(\d+)/, "Yandex"],
  [/\bVivaldi\/(\d+)/, "Vivaldi"],
  [/\bFxiOS\/(\d+)/, "Firefox"],
  [/\bFirefox\/(\d+)/, "Firefox"],
  [/\bCriOS\/(\d+)/, "Chrome"],
  [/\bHeadlessChrome\/(\d+)/, "Headless Chrome"],
];
const CHROME = /\bChrom(e|ium)\/(\d+)/;
const SAFARI = /\bVersion\/(\d+(?:\.\d+)?)(?:[.\d]*)(?: Mobile\/\w+)? Safari\//;
const ANDROID_WEBVIEW = /; wv\)/;
const APPLE_MOBILE = /\((iPhone|iPad|iPod)[;)]/;
const APPLE_WEBKIT = /AppleWebKit\//;
const IE = /\b(?:MSIE (\d+)|Trident\/.*\brv:(\d+))/;
const PRODUCT = /^([A-Za-z][\w.-]{0,31})\/(\d+)/;

function browserOf(ua: string): string {
  for (const [pattern, name] of BROWSERS) {
    const match = pattern.exec(ua);
    if (match) return `${name} ${match[1]}`;
  }
  if (ANDROID_WEBVIEW.test(ua)) return "Android WebView";
  const chrome = CHROME.exec(ua);
  if (chrome) return `${chrome[1] === "ium" ? "Chromium" : "Chrome"} ${chrome[2]}`;
  const safari = SAFARI.exec(ua);
  if (safari) return `Safari ${safari[1]}`;
  if (APPLE_WEBKIT.test(ua) && APPLE_MOBILE.test(ua) && !ua.includes("Safari/")) return "iOS WebView";
  const ie = IE.exec(ua);
  if (ie) return `Internet Explorer ${ie[1] ?? ie[2]}`;
  // Tools and test clients: "curl/8.5.0", "node/20"; Mozilla/5.0 alone says nothing.
  const product = PRODUCT.exec(ua);
  if (product && product[1] !== "Mozilla") return `${product[1]} ${product[2]}`;
  return "";
}

function osOf(ua: string): string {
  const apple = APPLE_MOBILE.exec(ua);
  if (apple) {
    const version = /\bOS (\d+)[_.]/.exec(ua);
    const name = apple[1] === "iPad" ? "iPadOS" : "iOS";
    return version ? `${name} ${version[1]}` : name;
  }
  const android = /\bAndroid (\d+(?:\.\d+)?)/.exec(ua);
  if (android) return `Android ${android[1]}`;
  if (/\bAndroid\b/.test(ua)) return "Android";
  if (/\bWindows Phone\b/.test(ua)) return "Windows Phone";
  if (/\bWindows\b/.test(ua)) return "Windows";
  if (/\bCrOS\b/.test(ua)) return "ChromeOS";
  if (/\bMac OS X\b|\bMacintosh\b/.test(ua)) return "macOS";
  if (/\bLinux\b|\bX11\b/.test(ua)) return "Linux";
  return "";
}

export function describeUserAgent(userAgent: string): DeviceLabel {
  const browser = browserOf(userAgent);
  const os = osOf(userAgent);
  let label: string;
  if (browser && os) label = `${browser} · ${os}`;
  else if (browser || os) label = browser || os;
  else {
    const raw = userAgent.trim();
    label = raw === "" ? "Unknown device" : raw.length > RAW_LABEL_CHARS ? `${raw.slice(0, RAW_LABEL_CHARS - 1)}…` : raw;
  }
  return { browser, os, label };
}

/**
 * `describeUserAgent` with a bounded memo: thousands of sessions share a few
 * dozen user agents.
 */
export function createUserAgentCache(maxEntries = 2000): (userAgent: string) => DeviceLabel {
  const cache = new Map<string, DeviceLabel>();
  return (userAgent) => {
    let label = cache.get(userAgent);
    if (!label) {
      if (cache.size >= maxEntries) cache.clear();
      label = describeUserAgent(userAgent);
      cache.set(userAgent, label);
    }
    return label;
  };
}
