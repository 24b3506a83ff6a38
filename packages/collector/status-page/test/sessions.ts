import type { SessionInfo } from "../src/session.js";

/** A session object as the API sends it, with overrides. */
export function session(overrides: Partial<SessionInfo> & { id: string }): SessionInfo {
  return {
    userAgent: "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36",
    username: "Unauthenticated",
    authorized: false,
    project: "Demo",
    uptime: 1000,
    clientAddress: "127.0.0.1",
    lastComm: 100,
    sessionScope: "browser",
    activePages: 1,
    recentBytesSent: 0,
    totalBytesSent: 0,
    pageIds: ["page-0001"],
    ...overrides,
  };
}
