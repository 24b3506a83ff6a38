import { startAgent, type SessionScope } from "@sessionlens/agent";

interface SessionRow {
  id: string;
  username: string;
  authorized: boolean;
  sessionScope: string;
  uptime: number;
  lastComm: number;
  activePages: number;
  recentBytesSent: number;
  totalBytesSent: number;
  clientAddress: string;
  userAgent: string;
  pageIds: string[];
}

const TOKEN_KEY = "sessionlens-demo:token";
const USER_KEY = "sessionlens-demo:username";
const $ = <T extends HTMLElement = HTMLElement>(id: string) => document.getElementById(id) as T;

const config = (await (await fetch("/api/config")).json()) as { project: string; collectorWsUrl: string };
const params = new URLSearchParams(location.search);
const scope = (params.get("scope") ?? undefined) as SessionScope | undefined;
const savedToken = readStorage(TOKEN_KEY);

const agent = startAgent({
  url: config.collectorWsUrl,
  project: config.project,
  ...(scope ? { scope } : {}),
  ...(savedToken ? { token: savedToken } : {}),
});
// For the end-to-end tests and the curious: the running agent.
(window as unknown as { sessionlensAgent: typeof agent }).sessionlensAgent = agent;

$("project").textContent = config.project;
$("filter-project").textContent = JSON.stringify(config.project);
$("page-id").textContent = agent.pageId;
showSignedIn(readStorage(USER_KEY));

agent.on("message", (type, payload) => log(`message "${type}": ${JSON.stringify(payload)}`));
agent.on("close", (reason, message) => {
  log(`agent stopped: ${reason}${message ? ` — ${message}` : ""}`);
  setConnection("stopped", "down");
});

$("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void signIn($<HTMLInputElement>("username").value);
});
$("logout").addEventListener("click", () => {
  agent.clearToken();
  removeStorage(TOKEN_KEY);
  removeStorage(USER_KEY);
  showSignedIn(null);
});
$("order-form").addEventListener("submit", (event) => {
  event.preventDefault();
  void sendOrder(Number($<HTMLInputElement>("order-bytes").value));
});

async function signIn(username: string): Promise<void> {
  const response = await fetch("/api/login", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ username }),
  });
  const body = (await response.json()) as { username?: string; token?: string; error?: { message: string } };
  if (!response.ok || !body.token || !body.username) {
    log(`sign-in refused: ${body.error?.message ?? response.status}`);
    return;
  }
  agent.setToken(body.token);
  writeStorage(TOKEN_KEY, body.token);
  writeStorage(USER_KEY, body.username);
  showSignedIn(body.username);
}

async function sendOrder(size: number): Promise<void> {
  const bytes = Math.max(1, Math.min(1_000_000, Math.floor(size) || 1));
  const response = await fetch("/api/orders", { method: "POST", body: "x".repeat(bytes) });
  const body = (await response.json()) as { received?: number };
  $("order-result").textContent = `The gateway received ${body.received ?? "?"} bytes.`;
}

async function refreshSessions(): Promise<void> {
  $("session-id").textContent = agent.sessionId ?? "connecting…";
  if (agent.sessionId) setConnection("reporting", "up");
  try {
    const response = await fetch("/api/sessions");
    if (!response.ok) throw new Error(((await response.json()) as { error?: { message: string } }).error?.message);
    renderSessions((await response.json()) as SessionRow[]);
    $("sessions-error").hidden = true;
  } catch (error) {
    $("sessions-error").textContent = `Could not read sessions: ${String(error)}`;
    $("sessions-error").hidden = false;
  }
}

function renderSessions(sessions: SessionRow[]): void {
  const body = $("sessions").querySelector("tbody")!;
  body.replaceChildren(
    ...sessions.map((session) => {
      const row = document.createElement("tr");
      row.dataset["sessionId"] = session.id;
      if (session.id === agent.sessionId) row.className = "me";
      const cells = [
        session.id,
        session.username,
        session.authorized ? "yes" : "no",
        session.sessionScope,
        duration(session.uptime),
        duration(session.lastComm),
        String(session.activePages),
        String(session.recentBytesSent),
        String(session.totalBytesSent),
        session.clientAddress,
        session.userAgent,
      ];
      cells.forEach((text, index) => {
        const cell = document.createElement("td");
        cell.textContent = text; // agents' strings are never parsed as HTML
        if (index === cells.length - 1) {
          cell.className = "ua";
          cell.title = text;
        }
        row.append(cell);
      });
      return row;
    }),
  );
}

function duration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m ${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h ${minutes % 60}m`;
}

function showSignedIn(username: string | null): void {
  $("signed-in").textContent = username ?? "nobody";
}

function setConnection(text: string, state: "up" | "down"): void {
  const pill = $("connection");
  pill.textContent = text;
  pill.className = `pill ${state}`;
}

function log(text: string): void {
  const list = $("messages");
  if (list.querySelector(".muted")) list.replaceChildren();
  const item = document.createElement("li");
  item.textContent = `${new Date().toLocaleTimeString()} ${text}`;
  list.prepend(item);
}

function readStorage(key: string): string | null {
  try {
    return localStorage.getItem(key);
  } catch {
    return null;
  }
}
function writeStorage(key: string, value: string): void {
  try {
    localStorage.setItem(key, value);
  } catch {
    // storage disabled: the login lasts as long as the page
  }
}
function removeStorage(key: string): void {
  try {
    localStorage.removeItem(key);
  } catch {
    // nothing stored
  }
}

void refreshSessions();
setInterval(() => void refreshSessions(), 2000);
