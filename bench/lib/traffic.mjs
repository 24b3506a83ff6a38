// The simulated population: user agents, projects, paths and page ids with a
// realistic skew, deterministic for a given seed so every server under test
// sees the same traffic.
import { randomBytes } from "node:crypto";

export const USER_AGENTS = [
  // desktop browsers (the bulk)
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:132.0) Gecko/20100101 Firefox/132.0",
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
  // mobile browsers
  "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
  "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36",
  // webviews (Perspective mobile app style)
  "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Mobile/15E148",
  "Mozilla/5.0 (Linux; Android 13; SM-T220 Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/130.0.6723.107 Safari/537.36",
];
export const USER_AGENT_WEIGHTS = [30, 12, 8, 5, 8, 12, 10, 8, 7];

export const PATHS = ["/", "/overview", "/alarms", "/trends/line-3", "/production/oee", "/maintenance/work-orders", "/settings"];

/** Small deterministic PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Picks an index with probability proportional to weights. */
export function weightedPicker(weights, random) {
  const cumulative = [];
  let total = 0;
  for (const w of weights) cumulative.push((total += w));
  return () => {
    const x = random() * total;
    let lo = 0;
    let hi = cumulative.length - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cumulative[mid] > x) hi = mid;
      else lo = mid + 1;
    }
    return lo;
  };
}

/** Zipf weights 1/rank^s for `count` items. */
export function zipfWeights(count, s) {
  return Array.from({ length: count }, (_, i) => 1 / Math.pow(i + 1, s));
}

export function projectName(i) {
  return `Project-${String(i).padStart(2, "0")}`;
}

export function userName(i) {
  return `user${String(i).padStart(4, "0")}`;
}

const ALPHABET = "useandom-26T198340PX75pxJACKVERYMINDBUSHWOLF_GQZbfghjklqvwyzrict";
/** A nanoid-shaped id (21 characters of the URL-safe alphabet). */
export function pageId() {
  const bytes = randomBytes(21);
  let id = "";
  for (let i = 0; i < 21; i++) id += ALPHABET[bytes[i] & 63];
  return id;
}

/** Hello fields for connection `i` of a population (same for every server). */
export function makePopulation(seed = 7) {
  const random = rng(seed);
  const pickUa = weightedPicker(USER_AGENT_WEIGHTS, random);
  const pickProject = weightedPicker(zipfWeights(50, 1), random);
  return () => ({
    project: projectName(pickProject()),
    userAgent: USER_AGENTS[pickUa()],
    path: PATHS[Math.floor(random() * PATHS.length)],
    pageId: pageId(),
  });
}
