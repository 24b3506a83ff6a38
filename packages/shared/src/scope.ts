import { SCOPES, type SessionScope } from "./protocol.js";

/**
 * Decides a session's scope: the explicit option wins (`designer` is only ever
 * explicit); else an Android WebView (`; wv)` in the user agent) is `android`,
 * an iOS/iPadOS WebView (AppleWebKit on iPhone/iPad/iPod without a `Safari/`
 * token) is `ios`, and everything else, mobile browsers included, is `browser`.
 */
export function detectScope(userAgent: string, explicit?: SessionScope | null, hints?: ScopeHints): SessionScope {
  if (explicit != null && isScope(explicit)) return explicit;
  if (ANDROID_WEBVIEW.test(userAgent)) return "android";
  if (!APPLE_WEBKIT.test(userAgent) || SAFARI_TOKEN.test(userAgent)) return "browser";
  if (IOS_DEVICE.test(userAgent)) return "ios";
  // iPadOS WebViews in desktop mode claim to be a Mac; only touch support tells them apart.
  if (MAC.test(userAgent) && (hints?.maxTouchPoints ?? 0) > 1) return "ios";
  return "browser";
}

/** What a browser can tell beyond its user agent string. */
export interface ScopeHints {
  /** `navigator.maxTouchPoints`: above 1 on an iPad that reports a Mac user agent. */
  maxTouchPoints?: number;
}

export function isScope(value: unknown): value is SessionScope {
  return typeof value === "string" && (SCOPES as readonly string[]).includes(value);
}

const ANDROID_WEBVIEW = /; wv\)/;
const IOS_DEVICE = /\((?:iPhone|iPad|iPod)[;)]/;
const APPLE_WEBKIT = /AppleWebKit\//;
const SAFARI_TOKEN = /Safari\//;
const MAC = /\(Macintosh;/;
