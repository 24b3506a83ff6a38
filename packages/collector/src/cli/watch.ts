/**
 * `sessionlens sessions --watch`: the session list kept live from the event stream (the client's
 * `watchSessions`, read with the shared SSE parser and backoff). On a terminal the table is redrawn
 * in place; otherwise (a pipe, a file, CI) every change is one plain line, or one JSON line with
 * `--json`. Runs until Ctrl-C (exit 0), or until the collector refuses the watch (exit 1).
 */
import type { SessionFilter, SessionInfo } from "@sessionlens/shared";
import { SessionLensHttpError } from "@sessionlens/shared/client";
import type { SessionChange, SessionLensClient } from "../client.js";
import { describeError } from "./client.js";
import { EXIT_ERROR, EXIT_OK, type CliIo } from "./io.js";
import { formatTable, printable } from "./table.js";

/** A terminal's table is redrawn at most this often (changes in between are coalesced). */
export const REDRAW_MS = 250;
/** …and at least this often, so uptimes and last-comm times move. */
export const TICK_MS = 1000;

export interface WatchCommand {
  client: SessionLensClient;
  origin: string;
  filter: SessionFilter;
  json: boolean;
  io: CliIo;
}

interface Received {
  info: SessionInfo;
  /** When it arrived: uptime and last comm are shown advanced from then. */
  atMs: number;
}

export async function watchSessions({ client, origin, filter, json, io }: WatchCommand): Promise<number> {
  const tty = io.stdout.isTTY === true && !json;
  const sessions = new Map<string, Received>();
  let status = "connecting…";
  /** Why the last connection failed, for the title line. */
  let problem = "";
  let redrawTimer: ReturnType<typeof setTimeout> | undefined;
  let lastDrawMs = 0;

  const draw = (): void => {
    clearTimeout(redrawTimer);
    redrawTimer = undefined;
    lastDrawMs = Date.now();
    const nowMs = lastDrawMs;
    const list = Array.from(sessions.values(), ({ info, atMs }) => ({
      ...info,
      uptime: info.uptime + (nowMs - atMs),
      lastComm: info.lastComm + (nowMs - atMs),
    }));
    const title = `sessionlens sessions --watch · ${origin}${describeFilter(filter)} · ${status} · ${new Date(nowMs).toLocaleTimeString()} · Ctrl-C to quit`;
    // Home, clear the screen, draw: one write, so the terminal never shows half a table.
    io.stdout.write(`\u001b[H\u001b[2J${printable(title)}\n\n${formatTable(list)}`);
  };
  const scheduleDraw = (): void => {
    if (!tty || redrawTimer !== undefined) return;
    redrawTimer = setTimeout(draw, Math.max(0, lastDrawMs + REDRAW_MS - Date.now()));
  };

  const line = (text: string): void => void io.stdout.write(`${new Date().toISOString()} ${text}\n`);

  const onChange = (_list: SessionInfo[], change: SessionChange): void => {
    const atMs = Date.now();
    if (change.type === "snapshot") {
      sessions.clear();
      for (const info of change.sessions) sessions.set(info.id, { info, atMs });
      status = "live";
      if (json) io.stdout.write(`${JSON.stringify(change)}\n`);
      else if (!tty) {
        line(`snapshot ${change.sessions.length} session${change.sessions.length === 1 ? "" : "s"}`);
        for (const info of change.sessions) line(`session ${describeSession(info)}`);
      }
    } else if (change.type === "upsert") {
      const known = sessions.has(change.session.id);
      sessions.set(change.session.id, { info: change.session, atMs });
      if (json) io.stdout.write(`${JSON.stringify(change)}\n`);
      else if (!tty) line(`${known ? "update" : "join"} ${describeSession(change.session)}`);
    } else {
      sessions.delete(change.id);
      if (json) io.stdout.write(`${JSON.stringify(change)}\n`);
      else if (!tty) line(`leave ${printable(change.id)} reason=${printable(change.reason)}`);
    }
    scheduleDraw();
  };

  return new Promise<number>((resolveExit) => {
    let finished = false;
    const finish = (code: number): void => {
      if (finished) return;
      finished = true;
      watch.close();
      clearTimeout(redrawTimer);
      clearInterval(ticker);
      io.signal?.removeEventListener("abort", stop);
      process.off("SIGINT", stop);
      process.off("SIGTERM", stop);
      if (tty) io.stdout.write("\n");
      resolveExit(code);
    };
    const stop = (): void => finish(EXIT_OK);

    const watch = client.watchSessions(filter, onChange, {
      onError: (error) => {
        // 401 and 404 end the watch (the client stops retrying): say so and exit 1.
        if (error instanceof SessionLensHttpError && (error.status === 401 || error.status === 404)) {
          io.stderr.write(`sessionlens sessions: ${describeError(error, origin)}\n`);
          finish(EXIT_ERROR);
          return;
        }
        problem = describeError(error, origin);
        status = `disconnected (${problem})`;
        if (!tty) io.stderr.write(`sessionlens sessions: ${describeError(error, origin)}\n`);
        scheduleDraw();
      },
      onRetry: (delayMs) => {
        status = `disconnected${problem ? ` (${problem})` : ""}; retrying in ${(delayMs / 1000).toFixed(1)} s`;
        problem = "";
        if (!tty) io.stderr.write(`sessionlens sessions: reconnecting in ${(delayMs / 1000).toFixed(1)} s\n`);
        scheduleDraw();
      },
    });
    const ticker = setInterval(() => {
      if (tty) draw();
    }, TICK_MS);
    if (tty) draw();

    if (io.signal) {
      if (io.signal.aborted) stop();
      else io.signal.addEventListener("abort", stop, { once: true });
    } else {
      process.on("SIGINT", stop);
      process.on("SIGTERM", stop);
    }
  });
}

function describeFilter(filter: SessionFilter): string {
  const parts: string[] = [];
  if (filter.usernameFilter) parts.push(`username ${filter.usernameFilter}`);
  if (filter.projectFilter) parts.push(`project ${filter.projectFilter}`);
  return parts.length > 0 ? ` · ${parts.join(", ")}` : "";
}

/** `<id> username=… project=… scope=… pages=… sentBytes=… address=…`, agent-reported text made printable. */
export function describeSession(info: SessionInfo): string {
  const field = (name: string, value: string): string => {
    const text = printable(value);
    return `${name}=${text === "" || /\s|"/.test(text) ? JSON.stringify(text) : text}`;
  };
  return [
    printable(info.id),
    field("username", info.username),
    field("authorized", info.authorized ? "yes" : "no"),
    field("project", info.project),
    field("scope", info.sessionScope),
    field("pages", String(info.activePages)),
    field("sentBytes", String(info.totalBytesSent)),
    field("address", info.clientAddress),
  ].join(" ");
}
