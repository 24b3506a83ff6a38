/**
 * Wires the page: event stream -> coalesced changes -> model -> one animation
 * frame of DOM work. Filters are applied locally (see README: same matcher as
 * the collector), so typing never reconnects the stream.
 */
import { decodeHttpError, type SseEvent } from "@sessionlens/shared/client";
import { ApiClient, TokenCancelled, TokenStore } from "./auth.js";
import { COLUMNS, SCOPE_LABELS } from "./columns.js";
import { EventStream, type StreamState } from "./event-stream.js";
import { DetailsPanel } from "./details.js";
import { DeviceLabels } from "./device-labels.js";
import { ConfirmDialog, TokenDialog, Toasts } from "./dialogs.js";
import { byId, el, setText } from "./dom.js";
import { formatCount } from "./format.js";
import { PendingChanges, TableModel, type Filters, type SortKey } from "./table-model.js";
import { readRemoved, readSessionInfo, readSessionList, SCOPES, type SessionScope } from "./session.js";
import { VirtualTable } from "./table.js";

const FILTER_DEBOUNCE_MS = 120;
const TICK_MS = 1000;

function sessionStorageOrNull(): Storage | null {
  try {
    return window.sessionStorage;
  } catch {
    return null;
  }
}

export function startStatusPage(): void {
  const tokens = new TokenStore(sessionStorageOrNull());
  const tokenDialog = new TokenDialog(tokens);
  const confirmDialog = new ConfirmDialog();
  const toasts = new Toasts();
  const api = new ApiClient({ baseUrl: document.baseURI, tokens, askForToken: (reason) => tokenDialog.ask(reason) });

  // Row labels come from the collector's user-agent parse (details endpoint), one lookup per distinct user agent.
  const relabeled = new Set<string>();
  const deviceLabels = new DeviceLabels({
    api,
    onLabel: (userAgent) => {
      relabeled.add(userAgent);
      requestFrame();
    },
  });
  const model = new TableModel(undefined, (userAgent, sessionId) => deviceLabels.label(userAgent, sessionId));
  const pending = new PendingChanges();
  let haveSnapshot = false;
  let connection: StreamState = { kind: "connecting", attempt: 0 };

  // --- elements -----------------------------------------------------------
  const viewport = byId("viewport", HTMLElement);
  const tableRoot = byId("table", HTMLElement);
  const userInput = byId("filter-user", HTMLInputElement);
  const projectInput = byId("filter-project", HTMLInputElement);
  const clearFilters = byId("clear-filters", HTMLButtonElement);
  const connectionRoot = byId("connection", HTMLElement);
  const connectionText = byId("connection-text", HTMLElement);
  const connectionAction = byId("connection-action", HTMLButtonElement);
  const forgetToken = byId("forget-token", HTMLButtonElement);
  const statSessions = byId("stat-sessions", HTMLElement);
  const statPages = byId("stat-pages", HTMLElement);
  const showing = byId("showing", HTMLElement);
  const empty = byId("empty", HTMLElement);
  const emptyTitle = byId("empty-title", HTMLElement);
  const emptyText = byId("empty-text", HTMLElement);
  const emptyAction = byId("empty-action", HTMLButtonElement);
  const scopeCounts = buildScopeList(byId("scopes", HTMLElement));

  // --- table and details ----------------------------------------------------
  const table = new VirtualTable({ viewport, head: byId("thead", HTMLElement), body: byId("tbody", HTMLElement) }, model, {
    open: (id) => openDetails(id),
    terminate: (id) => void terminate(id),
    sort: (key) => sortBy(key),
  });
  const details = new DetailsPanel(api, {
    learned: (userAgent, label) => deviceLabels.learn(userAgent, label),
    terminate: (id) => void terminate(id),
    closed: () => {
      table.setSelected(null);
      viewport.focus({ preventScroll: true });
    },
  });
  table.showSort(model.sort.key, model.sort.direction);

  function openDetails(id: string): void {
    const record = model.get(id);
    if (!record) return;
    table.setSelected(id);
    details.open(record, Date.now());
  }

  function sortBy(key: SortKey): void {
    const column = COLUMNS.find((c) => c.key === key)!;
    const { key: current, direction } = model.sort;
    const next = current === key ? (direction === "asc" ? "desc" : "asc") : column.firstDirection;
    model.setSort({ key, direction: next });
    table.showSort(key, next);
    requestWindow();
  }

  // --- frame scheduling: all DOM work happens in one animation frame --------
  let frameRequested = false;
  let windowDirty = true;
  const dirtyRows = new Set<string>();

  function requestFrame(): void {
    if (frameRequested) return;
    frameRequested = true;
    requestAnimationFrame(frame);
  }

  function requestWindow(): void {
    windowDirty = true;
    requestFrame();
  }

  function frame(): void {
    frameRequested = false;
    const nowMs = Date.now();
    applyPending(nowMs);
    if (windowDirty) {
      windowDirty = false;
      dirtyRows.clear();
      table.renderWindow(nowMs);
    } else {
      for (const id of dirtyRows) table.refresh(id, nowMs);
      dirtyRows.clear();
    }
    renderSummary();
  }

  function applyPending(nowMs: number): void {
    for (const userAgent of relabeled) {
      if (!model.relabel(userAgent)) continue;
      windowDirty = true;
      const open = details.openId === null ? undefined : model.get(details.openId);
      if (open?.info.userAgent === userAgent) details.update(open, nowMs);
    }
    relabeled.clear();
    if (pending.empty) return;
    if (pending.snapshot) {
      model.reset(pending.snapshot, pending.snapshotAt);
      haveSnapshot = true;
      windowDirty = true;
      const openId = details.openId;
      if (openId) {
        const record = model.get(openId);
        if (record) details.update(record, nowMs);
        else details.markEnded(openId, "ended while disconnected");
      }
    }
    for (const [id, change] of pending.changes) {
      if ("removed" in change) {
        if (model.remove(id).reordered) windowDirty = true;
        details.markEnded(id, change.removed);
        continue;
      }
      const result = model.upsert(change.info, change.at);
      if (result.reordered) windowDirty = true;
      else if (result.shown) dirtyRows.add(id);
      if (details.openId === id) details.update(model.get(id)!, nowMs);
    }
    // After the events: a touch only ever moves a time forward, so its order does not matter.
    for (const [id, lastCommAt] of pending.touches) {
      const result = model.touch(id, lastCommAt);
      if (result.reordered) windowDirty = true;
      else if (result.shown) dirtyRows.add(id);
      if (result.shown && details.openId === id) details.update(model.get(id)!, nowMs);
    }
    pending.clear();
  }

  // --- header, totals, empty state --------------------------------------------
  function renderSummary(): void {
    const { all, shown } = model;
    setText(statSessions, haveSnapshot ? formatCount(all.sessions) : "—");
    setText(statPages, haveSnapshot ? formatCount(all.pages) : "—");
    const filtered = model.filters.usernameFilter !== "" || model.filters.projectFilter !== "";
    for (const scope of SCOPES) {
      const { value, item } = scopeCounts[scope];
      setText(value, formatCount(shown.byScope[scope]));
      item.classList.toggle("is-zero", shown.byScope[scope] === 0);
    }
    tableRoot.setAttribute("aria-rowcount", String(model.shownCount + 1));
    if (!haveSnapshot) setText(showing, "Waiting for the first snapshot…");
    else if (filtered) setText(showing, `Showing ${formatCount(shown.sessions)} of ${formatCount(all.sessions)} sessions (${formatCount(shown.pages)} pages)`);
    else setText(showing, `${formatCount(all.sessions)} sessions · ${formatCount(all.pages)} pages`);

    let title = "";
    let text = "";
    let action = false;
    if (!haveSnapshot) {
      title = connection.kind === "unauthorized" ? "An API token is required" : "Connecting to the collector…";
      text = connection.kind === "unauthorized" ? "Enter the collector's API token to see its sessions." : "";
    } else if (all.sessions === 0) {
      title = "No sessions right now";
      text = "Sessions appear here the moment an agent connects.";
    } else if (model.shownCount === 0) {
      title = "No sessions match these filters";
      text = "Filters are exact and case-sensitive; use * for any run of characters (adm* or *@example.com).";
      action = true;
    }
    empty.hidden = title === "";
    setText(emptyTitle, title);
    setText(emptyText, text);
    emptyAction.hidden = !action;
  }

  // --- connection ---------------------------------------------------------------
  let countdownTimer: ReturnType<typeof setInterval> | undefined;

  function renderConnection(): void {
    clearInterval(countdownTimer);
    connectionRoot.dataset["state"] = connection.kind;
    connectionAction.hidden = true;
    connectionRoot.title = "";
    switch (connection.kind) {
      case "connecting":
        setText(connectionText, connection.attempt === 0 && !haveSnapshot ? "Connecting…" : "Reconnecting…");
        break;
      case "live":
        setText(connectionText, "Live");
        connectionRoot.title = "Receiving changes from the collector as they happen";
        break;
      case "waiting": {
        const { retryAtMs, error } = connection;
        const update = (): void => {
          const seconds = Math.max(0, Math.ceil((retryAtMs - Date.now()) / 1000));
          setText(connectionText, `Disconnected · retrying in ${seconds}s`);
        };
        update();
        countdownTimer = setInterval(update, 1000);
        connectionRoot.title = error;
        setText(connectionAction, "Retry now");
        connectionAction.hidden = false;
        break;
      }
      case "unauthorized":
        setText(connectionText, "Token required");
        setText(connectionAction, "Enter token");
        connectionAction.hidden = false;
        break;
      case "stopped":
        setText(connectionText, "Stopped");
        break;
    }
    tableRoot.classList.toggle("is-stale", haveSnapshot && connection.kind !== "live");
    forgetToken.hidden = tokens.get() === null;
    renderSummary();
  }

  const stream = new EventStream({
    api,
    onEvent: (event) => onStreamEvent(event),
    onState: (state) => {
      connection = state;
      renderConnection();
    },
  });

  function onStreamEvent(event: SseEvent): void {
    let data: unknown;
    try {
      data = JSON.parse(event.data);
    } catch {
      return; // not ours to show; the next snapshot corrects anything missed
    }
    const nowMs = Date.now();
    switch (event.type) {
      case "snapshot":
        pending.setSnapshot(readSessionList(data), nowMs);
        break;
      case "upsert": {
        const info = readSessionInfo(data);
        if (info) pending.upsert(info, nowMs);
        break;
      }
      case "remove": {
        const removed = readRemoved(data);
        if (removed) pending.remove(removed.id, removed.reason);
        break;
      }
      default:
        return;
    }
    requestFrame();
  }

  // --- last-comm refresh ----------------------------------------------------------
  // The stream sends a session when something about it changes; a heartbeat that changes nothing
  // else is not sent, so "Last comm" would only grow. A periodic list read moves it forward (never
  // adds or removes sessions: the stream does that). Less often for big lists.
  let refreshTimer: ReturnType<typeof setTimeout> | undefined;
  const refreshIntervalMs = (): number => (model.size <= 500 ? 10_000 : model.size <= 5_000 ? 30_000 : 60_000);
  function scheduleLastCommRefresh(): void {
    clearTimeout(refreshTimer);
    refreshTimer = setTimeout(() => void refreshLastComm(), refreshIntervalMs());
  }
  async function refreshLastComm(): Promise<void> {
    try {
      if (connection.kind !== "live" || document.hidden || model.size === 0) return;
      // send(), not request(): a 401 here must not open the token form; the stream handles that.
      const { response } = await api.send("api/v1/sessions");
      if (!response.ok) {
        await response.body?.cancel();
        return;
      }
      const list = readSessionList(await response.json());
      const nowMs = Date.now();
      for (const info of list) pending.touch(info.id, nowMs - info.lastComm);
      requestFrame();
    } catch {
      // the stream's state already shows connection trouble
    } finally {
      scheduleLastCommRefresh();
    }
  }
  scheduleLastCommRefresh();

  connectionAction.addEventListener("click", () => {
    if (connection.kind === "unauthorized") {
      tokenDialog.ask("required").then(
        () => stream.restart(),
        () => undefined,
      );
    } else stream.retryNow();
  });
  forgetToken.addEventListener("click", () => {
    tokens.clear();
    stream.restart();
  });
  tokens.onChange(() => {
    forgetToken.hidden = tokens.get() === null;
  });
  window.addEventListener("online", () => stream.retryNow());

  // --- terminate ----------------------------------------------------------------
  async function terminate(id: string): Promise<void> {
    const record = model.get(id);
    if (!record || record.info.sessionScope === "designer") return;
    const { username, project, activePages } = record.info;
    const pages = activePages === 1 ? "its page" : `its ${activePages} pages`;
    const ok = await confirmDialog.ask({
      title: "Terminate this session?",
      body: `${username} · ${project} · ${record.device.label}. The collector closes the session and tells ${pages} to stop.`,
      confirm: "Terminate",
    });
    if (!ok) return;
    try {
      const response = await api.request(`api/v1/sessions/${encodeURIComponent(id)}`, { method: "DELETE" });
      if (response.status === 204 || response.status === 404) {
        // Gone either way; the stream's `remove` will say the same.
        pending.remove(id, "closed");
        requestFrame();
        toasts.show(response.status === 204 ? `Terminated the session of ${username}.` : "That session had already ended.", "success");
      } else {
        toasts.show(`Could not terminate: ${(await decodeHttpError(response)).message}`, "error", 6000);
      }
    } catch (error) {
      toasts.show(error instanceof TokenCancelled ? "Not terminated: an API token is required." : "Could not reach the collector.", "error", 6000);
    }
  }

  // --- filters ----------------------------------------------------------------------
  const params = new URLSearchParams(location.search);
  userInput.value = params.get("usernameFilter") ?? "";
  projectInput.value = params.get("projectFilter") ?? "";
  let filterTimer: ReturnType<typeof setTimeout> | undefined;

  function applyFilters(): void {
    clearTimeout(filterTimer);
    const filters: Filters = { usernameFilter: userInput.value, projectFilter: projectInput.value };
    if (filters.usernameFilter === model.filters.usernameFilter && filters.projectFilter === model.filters.projectFilter) return;
    model.setFilters(filters);
    clearFilters.hidden = filters.usernameFilter === "" && filters.projectFilter === "";
    // Filters in the address (never the token) make a filtered view linkable.
    const url = new URL(location.href);
    for (const [key, value] of Object.entries(filters)) {
      if (value) url.searchParams.set(key, value);
      else url.searchParams.delete(key);
    }
    history.replaceState(null, "", url);
    viewport.scrollTop = 0;
    requestWindow();
  }

  for (const input of [userInput, projectInput]) {
    input.addEventListener("input", () => {
      clearTimeout(filterTimer);
      filterTimer = setTimeout(applyFilters, FILTER_DEBOUNCE_MS);
    });
    input.addEventListener("keydown", (event) => {
      if (event.key === "Enter") applyFilters();
    });
  }
  byId("filters", HTMLFormElement).addEventListener("submit", (event) => {
    event.preventDefault();
    applyFilters();
  });
  const resetFilters = (): void => {
    userInput.value = "";
    projectInput.value = "";
    applyFilters();
    userInput.focus();
  };
  clearFilters.addEventListener("click", resetFilters);
  emptyAction.addEventListener("click", resetFilters);
  applyFilters();

  // --- scrolling, resizing, ticking, keyboard ------------------------------------
  viewport.addEventListener("scroll", requestWindow, { passive: true });
  new ResizeObserver(requestWindow).observe(viewport);
  setInterval(() => {
    requestAnimationFrame(() => {
      const nowMs = Date.now();
      table.tick(nowMs);
      details.tick(nowMs);
    });
  }, TICK_MS);
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape" && details.openId && !document.querySelector("dialog[open]")) details.close();
    if (event.key === "/" && document.activeElement?.tagName !== "INPUT") {
      event.preventDefault();
      userInput.focus();
    }
  });

  renderConnection();
  requestWindow();
  stream.start();
}

function buildScopeList(list: HTMLElement): Record<SessionScope, { item: HTMLElement; value: HTMLElement }> {
  const entries = {} as Record<SessionScope, { item: HTMLElement; value: HTMLElement }>;
  for (const scope of SCOPES) {
    const item = el("li", `scope-total scope-total-${scope}`);
    const value = el("span", "scope-total-value", "0");
    item.append(el("span", "scope-total-dot"), el("span", "scope-total-label", SCOPE_LABELS[scope]), value);
    list.append(item);
    entries[scope] = { item, value };
  }
  return entries;
}
