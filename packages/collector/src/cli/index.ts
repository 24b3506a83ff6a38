import { resolve } from "node:path";
import { pino } from "pino";
import { DEFAULTS, parseDuration, type CollectorOptions } from "../options.js";
import { createCollector } from "../server.js";
import { describeFlags, listFlag, parseCommand, stringFlag, UsageError, type FlagSpecs } from "./args.js";
import { CliError, clientFor, describeError } from "./client.js";
import { defaultIo, EXIT_ERROR, EXIT_OK, EXIT_USAGE, type CliIo } from "./io.js";
import { formatTable } from "./table.js";
import { watchSessions } from "./watch.js";

const DEFAULT_URL = `http://${DEFAULTS.host}:${DEFAULTS.port}`;

const SERVE_FLAGS: FlagSpecs = {
  host: { type: "string", help: "interface to listen on", placeholder: "HOST", default: DEFAULTS.host },
  port: { type: "string", help: "port to listen on (0 picks one)", placeholder: "PORT", default: String(DEFAULTS.port) },
  store: { type: "string", help: "where sessions live: memory (this node, durable in --data-dir) or redis (shared by several collectors)", placeholder: "memory|redis", default: "memory" },
  "redis-url": { type: "string", help: "Redis address for --store redis (redis://, rediss://, or redis+cluster:// for a Redis Cluster)", placeholder: "URL" },
  "redis-prefix": { type: "string", help: "prefix of every Redis key and channel", placeholder: "P", default: "sessionlens:" },
  "redis-cluster": { type: "boolean", help: "--redis-url names a node of a Redis Cluster" },
  "node-id": { type: "string", help: "this collector's name in a cluster (default: host name and port)", placeholder: "ID" },
  "identity-secret": { type: "string", help: "HS256 secret shared with the gateway to verify identity tokens", placeholder: "S" },
  "api-token": { type: "string", help: "require Authorization: Bearer <T> on every /api/ call", placeholder: "T" },
  "allowed-origins": { type: "string", help: "origins allowed to connect agents, comma-separated (default: any)", placeholder: "a,b" },
  "trust-proxy": { type: "string", help: "proxies trusted for X-Forwarded-For, comma-separated CIDRs or loopback", placeholder: "CIDRs" },
  "allowed-hosts": {
    type: "string",
    help: "Host header values served, comma-separated, * for any (default: loopback names while bound to loopback, else any)",
    placeholder: "a,b",
  },
  "max-connections": { type: "string", help: "TCP connections (HTTP and agents) held at most", placeholder: "N", default: String(DEFAULTS.maxConnections) },
  "session-timeout": { type: "string", help: "a session with no pages ends after", placeholder: "DURATION", default: "60s" },
  "page-grace": { type: "string", help: "a dropped page leaves after", placeholder: "DURATION", default: "15s" },
  secret: { type: "string", help: "signs resume credentials (share it across a cluster; default: kept in --data-dir)", placeholder: "S" },
  "data-dir": { type: "string", help: "where the secret and the session snapshot live", placeholder: "DIR", default: DEFAULTS.dataDir },
  "log-level": { type: "string", help: "fatal, error, warn, info, debug or silent", placeholder: "LEVEL", default: "info" },
};

const CLIENT_FLAGS: FlagSpecs = {
  url: { type: "string", help: "the collector's address", placeholder: "URL", default: DEFAULT_URL },
  token: { type: "string", help: "the collector's API token (falls back to SESSIONLENS_API_TOKEN)", placeholder: "T" },
};

const SESSIONS_FLAGS: FlagSpecs = {
  username: { type: "string", help: "username filter (exact, * matches any run)", placeholder: "U" },
  project: { type: "string", help: "project filter (exact, * matches any run)", placeholder: "P" },
  json: { type: "boolean", help: "print the HTTP answer's JSON array (with --watch: one JSON line per change)" },
  watch: { type: "boolean", help: "keep the list live from the event stream until Ctrl-C (a table on a terminal, one line per change otherwise)" },
  ...CLIENT_FLAGS,
};

const CLOSE_FLAGS: FlagSpecs = {
  message: { type: "string", help: "shown to the closed session's pages", placeholder: "M" },
  ...CLIENT_FLAGS,
};

/** Every command's flags: the help, the parser and the docs check (docs-tests/) read these. */
export const COMMAND_FLAGS: Readonly<Record<"serve" | "sessions" | "close", FlagSpecs>> = {
  serve: SERVE_FLAGS,
  sessions: SESSIONS_FLAGS,
  close: CLOSE_FLAGS,
};

const USAGE = `Usage:
  sessionlens serve    [flags]             run the collector
  sessionlens sessions [flags]             list sessions (like getSessionInfo); --watch keeps it live
  sessionlens close    <sessionId> [flags] close a session
  sessionlens <command> --help             flags of a command

Exit status: 0 success, 1 error, 2 bad usage.
`;

/** Runs the `sessionlens` command; resolves with the exit code. */
export async function main(argv: string[], io: CliIo = defaultIo()): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case "serve":
        return await serve(rest, io);
      case "sessions":
        return await sessions(rest, io);
      case "close":
        return await close(rest, io);
      case "help":
      case "--help":
      case "-h":
        io.stdout.write(USAGE);
        return EXIT_OK;
      case "--version":
      case "-v":
        io.stdout.write("sessionlens 0.1.0\n");
        return EXIT_OK;
      case undefined:
        io.stderr.write(`sessionlens: a command is required\n\n${USAGE}`);
        return EXIT_USAGE;
      default:
        io.stderr.write(`sessionlens: unknown command "${command}"\n\n${USAGE}`);
        return EXIT_USAGE;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.stderr.write(`sessionlens ${command}: ${error.message}\nRun "sessionlens ${command} --help" for its flags.\n`);
      return EXIT_USAGE;
    }
    if (error instanceof CliError) {
      io.stderr.write(`sessionlens ${command}: ${error.message}\n`);
      return EXIT_ERROR;
    }
    io.stderr.write(`sessionlens ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return EXIT_ERROR;
  }
}

function help(io: CliIo, synopsis: string, specs: FlagSpecs): number {
  io.stdout.write(`Usage: ${synopsis}\n\nFlags (each also read from the environment variable in brackets):\n${describeFlags(specs)}\n`);
  return EXIT_OK;
}

async function serve(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(argv, SERVE_FLAGS, io.env, 0);
  if (values["help"]) return help(io, "sessionlens serve [flags]", SERVE_FLAGS);

  const store = stringFlag(values, "store") ?? "memory";
  if (store !== "memory" && store !== "redis") throw new UsageError(`--store must be memory or redis, not "${store}"`);
  const redisUrl = stringFlag(values, "redis-url");
  let redis: CollectorOptions["redis"];
  if (store === "redis") {
    if (redisUrl === undefined) throw new UsageError("--store redis needs --redis-url (e.g. redis://127.0.0.1:6379)");
    if (!/^(redis|rediss|redis\+cluster):\/\/./.test(redisUrl)) throw new UsageError(`--redis-url must be a redis://, rediss:// or redis+cluster:// URL, not "${redisUrl}"`);
    redis = { url: redisUrl, prefix: stringFlag(values, "redis-prefix"), cluster: values["redis-cluster"] === true, nodeId: stringFlag(values, "node-id") };
  } else {
    for (const flag of ["redis-url", "node-id"]) if (stringFlag(values, flag) !== undefined) throw new UsageError(`--${flag} needs --store redis`);
    if (values["redis-cluster"] === true) throw new UsageError("--redis-cluster needs --store redis");
  }
  const portText = stringFlag(values, "port")!;
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port > 65_535) throw new UsageError(`--port must be 0 to 65535, not "${portText}"`);
  const level = stringFlag(values, "log-level")!;
  if (!["fatal", "error", "warn", "info", "debug", "trace", "silent"].includes(level)) {
    throw new UsageError(`--log-level must be fatal, error, warn, info, debug or silent, not "${level}"`);
  }
  const options: CollectorOptions = {
    host: stringFlag(values, "host"),
    port,
    dataDir: resolve(io.cwd ?? process.cwd(), stringFlag(values, "data-dir")!),
    secret: stringFlag(values, "secret"),
    identitySecret: stringFlag(values, "identity-secret"),
    apiToken: stringFlag(values, "api-token"),
    allowedOrigins: listFlag(values, "allowed-origins"),
    trustProxy: listFlag(values, "trust-proxy"),
    allowedHosts: listFlag(values, "allowed-hosts"),
    maxConnections: positiveInteger(values, "max-connections"),
    sessionTimeoutMs: duration(values, "session-timeout"),
    pageGraceMs: duration(values, "page-grace"),
    redis,
    // Structured JSON lines: info and debug on stdout, warn and above on stderr (each line on one
    // of them, never both); secrets are never logged.
    logger: pino(
      { name: "sessionlens", level, redact: ["req.headers.authorization", "apiToken", "secret", "identitySecret"] },
      pino.multistream(
        [
          { level: "trace", stream: { write: (line: string) => io.stdout.write(line) } },
          { level: "warn", stream: { write: (line: string) => io.stderr.write(line) } },
        ],
        { dedupe: true },
      ),
    ),
  };
  if (options.allowedOrigins!.length > 0) {
    for (const origin of options.allowedOrigins!) {
      if (!/^[a-z][a-z0-9+.-]*:\/\/[^/]+$/i.test(origin.replace(/\/$/, ""))) {
        throw new UsageError(`--allowed-origins: "${origin}" is not an origin like https://app.example.com`);
      }
    }
  }
  const collector = createCollector(options);
  // Signal handlers go in before listening: a Ctrl-C right after the "listening" line still stops
  // gracefully instead of killing the process.
  let signals = 0;
  let resolveStop = (): void => {};
  const stopRequested = new Promise<void>((resolve) => (resolveStop = resolve));
  const onSignal = (): void => {
    // A second signal means "now": skip the graceful part (the handlers stay until the end).
    if (++signals > 1) process.exit(EXIT_ERROR);
    resolveStop();
  };
  if (io.signal) {
    if (io.signal.aborted) resolveStop();
    else io.signal.addEventListener("abort", () => resolveStop(), { once: true });
  } else {
    process.on("SIGINT", onSignal);
    process.on("SIGTERM", onSignal);
  }
  try {
    await collector.listen();
  } catch (error) {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === "EADDRINUSE" ? `port ${port} on ${options.host} is already in use` : error instanceof Error ? error.message : String(error);
    io.stderr.write(`sessionlens serve: cannot start: ${why}\n`);
    return EXIT_ERROR;
  }

  await stopRequested;
  try {
    options.logger!.info("shutting down: agents are told to reconnect, the final snapshot is written");
    await collector.close();
    options.logger!.info("stopped");
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
  return EXIT_OK;
}

async function sessions(argv: string[], io: CliIo): Promise<number> {
  const { values } = parseCommand(argv, SESSIONS_FLAGS, io.env, 0);
  if (values["help"]) {
    return help(io, "sessionlens sessions [--username U] [--project P] [--json] [--watch] [--url URL] [--token T]", SESSIONS_FLAGS);
  }
  const filter = { usernameFilter: stringFlag(values, "username"), projectFilter: stringFlag(values, "project") };
  const { client, origin } = clientFor(stringFlag(values, "url")!, token(values, io));
  if (values["watch"]) return watchSessions({ client, origin, filter, json: values["json"] === true, io });
  let list;
  try {
    list = await client.getSessionInfo(filter);
  } catch (error) {
    io.stderr.write(`sessionlens sessions: ${describeError(error, origin)}\n`);
    return EXIT_ERROR;
  }
  io.stdout.write(values["json"] ? `${JSON.stringify(list)}\n` : formatTable(list));
  return EXIT_OK;
}

async function close(argv: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseCommand(idsAfterDoubleDash(argv, CLOSE_FLAGS), CLOSE_FLAGS, io.env, 1);
  if (values["help"]) return help(io, "sessionlens close <sessionId> [--message M] [--url URL] [--token T]", CLOSE_FLAGS);
  const id = positionals[0];
  if (id === undefined || id === "") throw new UsageError("the session id is required: sessionlens close <sessionId>");
  const { client, origin } = clientFor(stringFlag(values, "url")!, token(values, io));
  let closed: boolean;
  try {
    closed = await client.closeSession(id, stringFlag(values, "message"));
  } catch (error) {
    io.stderr.write(`sessionlens close: ${describeError(error, origin)}\n`);
    return EXIT_ERROR;
  }
  if (!closed) {
    io.stderr.write(`sessionlens close: no session ${id}\n`);
    return EXIT_ERROR;
  }
  io.stdout.write(`closed session ${id}\n`);
  return EXIT_OK;
}

/**
 * Session ids may start with "-" (nanoid's alphabet has it), which parseArgs would take for a flag:
 * an argument that looks like an id and is no known flag (nor a flag's value) moves after `--`, and
 * a flag's value that starts with "-" is passed as `--flag=value`.
 */
function idsAfterDoubleDash(argv: string[], specs: FlagSpecs): string[] {
  const rest: string[] = [];
  const ids: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === "--") {
      ids.push(...argv.slice(i + 1));
      break;
    }
    const flag = /^--([\w-]+)$/.exec(arg)?.[1];
    const next = argv[i + 1];
    if (flag !== undefined && specs[flag]?.type === "string" && next !== undefined && !/^--[\w-]+(=|$)/.test(next)) {
      // `--message -x`: parseArgs calls a value that starts with "-" ambiguous; `--message=-x` is not.
      rest.push(`${arg}=${next}`);
      i++;
    } else if (/^-[A-Za-z0-9_-]{7,}$/.test(arg) && (flag === undefined || !(flag in specs || flag === "help"))) {
      ids.push(arg);
    } else {
      rest.push(arg);
    }
  }
  return ids.length === 0 ? rest : [...rest, "--", ...ids];
}

function token(values: Record<string, string | boolean | undefined>, io: CliIo): string | undefined {
  return stringFlag(values, "token") ?? (io.env["SESSIONLENS_API_TOKEN"] || undefined);
}

function duration(values: Record<string, string | boolean | undefined>, name: string): number {
  const text = stringFlag(values, name)!;
  try {
    return parseDuration(text);
  } catch (error) {
    throw new UsageError(`--${name}: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** A flag that must be a positive whole number. */
function positiveInteger(values: Record<string, string | boolean | undefined>, name: string): number {
  const text = stringFlag(values, name)!;
  if (!/^\d+$/.test(text) || Number(text) < 1 || !Number.isSafeInteger(Number(text))) {
    throw new UsageError(`--${name} must be a positive whole number, not "${text}"`);
  }
  return Number(text);
}
