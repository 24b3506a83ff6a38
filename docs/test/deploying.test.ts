/**
 * docs/deploying.md's configuration, exercised: the files in docs/deploy/ are the guide's snippets
 * verbatim; the systemd unit passes `systemd-analyze verify` and its command line starts a
 * collector; nginx (`nginx -t`, then running) and Caddy (`caddy validate`, then running) proxy a
 * real collector: health, the status page, the event stream, an agent's WebSocket, and the client
 * address through X-Forwarded-For with --trust-proxy. A missing tool skips its part with the reason
 * locally and fails with CI=true (.ci/run installs nginx and caddy).
 */
import { execFile, spawn, type ChildProcess } from "node:child_process";
import { createRequire } from "node:module";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { request as httpRequest, type IncomingMessage } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent, type Agent } from "@sessionlens/agent";
import { createCollector, type Collector } from "@sessionlens/collector";

const run = promisify(execFile);
// docs/ is no package of its own: borrow the agent's devDependency, as the docs' other tests do.
type NodeWebSocketClass = new (url: string | URL, protocols: string | string[] | undefined, options: Record<string, unknown>) => WebSocket;
const NodeWebSocket = createRequire(join(import.meta.dirname, "..", "..", "packages", "agent", "package.json"))("ws").WebSocket as NodeWebSocketClass;
const ROOT = join(import.meta.dirname, "..", "..");
const DEPLOY = join(ROOT, "docs", "deploy");
const GUIDE = readFileSync(join(ROOT, "docs", "deploying.md"), "utf8");
const BIN = join(ROOT, "packages", "collector", "bin", "sessionlens.js");
/** The proxy listens here, and test clients connect from another loopback address, so the collector can tell them apart. */
const PROXY_HOST = "127.0.0.2";
const CLIENT_ADDRESS = "127.0.0.3";
const SPOOFED = "203.0.113.9";
const ORIGIN = "https://app.example.com";

function deployFile(name: string): string {
  return readFileSync(join(DEPLOY, name), "utf8");
}

/** True when `tool` is on the PATH; else skips (why) locally, throws under CI=true. */
function toolAvailable(tool: string, why: string): boolean {
  for (const dir of (process.env["PATH"] ?? "").split(":")) if (dir && existsSync(join(dir, tool))) return true;
  for (const dir of ["/usr/sbin", "/sbin"]) if (existsSync(join(dir, tool))) return true;
  if (process.env["CI"] === "true") throw new Error(`${tool} is not installed; .ci/run installs it (${why})`);
  console.warn(`[skip] ${why}: ${tool} is not installed (apt-get install -y ${tool})`);
  return false;
}

function toolPath(tool: string): string {
  for (const dir of [...(process.env["PATH"] ?? "").split(":"), "/usr/sbin", "/sbin"]) if (dir && existsSync(join(dir, tool))) return join(dir, tool);
  return tool;
}

function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

interface Answer {
  status: number;
  headers: IncomingMessage["headers"];
  body: string;
}

/** One request from CLIENT_ADDRESS (TLS without verification: the test's own self-signed cert). */
function get(url: string, headers: Record<string, string> = {}, untilText?: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const send = target.protocol === "https:" ? httpsRequest : httpRequest;
    const req = send(target, { localAddress: CLIENT_ADDRESS, headers, rejectUnauthorized: false, servername: "sessions.example.com" }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => {
        body += chunk;
        // A stream never ends by itself: stop once the awaited text has arrived.
        if (untilText !== undefined && body.includes(untilText)) {
          resolve({ status: res.statusCode!, headers: res.headers, body });
          req.destroy();
        }
      });
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body }));
    });
    req.setTimeout(10_000, () => req.destroy(new Error(`no answer from ${url}`)));
    req.on("error", reject);
    req.end();
  });
}

async function waitForAnswer(url: string): Promise<void> {
  const deadline = Date.now() + 15_000;
  for (;;) {
    try {
      await get(url);
      return;
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }
}

/** An agent (the real one, in Node) through the proxy, from CLIENT_ADDRESS, with a forged X-Forwarded-For. */
function agentThrough(wsUrl: string): Agent {
  class ProxiedWebSocket extends NodeWebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, {
        localAddress: CLIENT_ADDRESS,
        rejectUnauthorized: false,
        servername: "sessions.example.com",
        headers: { origin: ORIGIN, "x-forwarded-for": SPOOFED },
      });
    }
  }
  return startAgent({ url: wsUrl, project: "Proxied", WebSocket: ProxiedWebSocket as unknown as typeof globalThis.WebSocket });
}

function codeBlocks(markdown: string): string[] {
  return [...markdown.matchAll(/^```[a-z]*\n([\s\S]*?)^```$/gm)].map((match) => match[1]!);
}

describe("docs/deploying.md", () => {
  let work: string;
  let collector: Collector;
  let collectorPort: number;
  const children: ChildProcess[] = [];
  const agents: Agent[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), "sessionlens-deploy-"));
    chmodSync(work, 0o755);
    collector = createCollector({
      port: 0,
      dataDir: null,
      trustProxy: ["127.0.0.1"],
      allowedOrigins: [ORIGIN],
    });
    collectorPort = (await collector.listen()).port;
  });

  afterAll(async () => {
    for (const agent of agents) agent.stop();
    for (const child of children) child.kill("SIGTERM");
    await collector?.close();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function expectProxiedClient(sessionsBefore: number): Promise<void> {
    await expect.poll(async () => (await collector.getSessionInfo(undefined, "Proxied")).length, { timeout: 10_000 }).toBe(sessionsBefore + 1);
    const addresses = (await collector.getSessionInfo(undefined, "Proxied")).map((session) => session.clientAddress);
    // The proxy's own address is trusted; the forged header's left part is not.
    expect(addresses.at(-1)).toBe(CLIENT_ADDRESS);
    expect(addresses).not.toContain(SPOOFED);
  }

  it("holds every file of docs/deploy/ verbatim, and links the figures it quotes", () => {
    const blocks = codeBlocks(GUIDE);
    for (const name of ["sessionlens.service", "sessionlens.env", "nginx.conf", "Caddyfile"]) {
      expect(blocks, `docs/deploying.md quotes docs/deploy/${name}`).toContain(deployFile(name));
    }
    expect(GUIDE).toContain("](../bench/RESULTS.md)");
    expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain("](docs/deploying.md)");
  });

  it("the systemd unit verifies, and its command line with the env file runs a collector that stops cleanly", async () => {
    if (!toolAvailable("systemd-analyze", "systemd unit check")) return;
    const unitText = deployFile("sessionlens.service");
    const execStart = /^ExecStart=(.*)$/m.exec(unitText)![1]!.split(/\s+/);
    expect(execStart.slice(0, 2)).toEqual(["/usr/bin/node", "/opt/sessionlens/node_modules/@sessionlens/collector/bin/sessionlens.js"]);
    const envFile = join(work, "sessionlens.env");
    writeFileSync(envFile, deployFile("sessionlens.env"));
    // The same unit, pointed at this checkout: verify checks that the executable exists.
    const unit = join(work, "sessionlens.service");
    writeFileSync(
      unit,
      unitText
        .replace(`ExecStart=${execStart[0]} ${execStart[1]}`, `ExecStart=${process.execPath} ${BIN}`)
        .replace("EnvironmentFile=/etc/sessionlens/sessionlens.env", `EnvironmentFile=${envFile}`),
    );
    const verified = await run("systemd-analyze", ["verify", unit]).catch((error: { stdout: string; stderr: string; code: number }) => error);
    expect(`${verified.stdout}${verified.stderr}`.trim()).toBe("");

    // ExecStart's arguments, with the port and data dir of a test.
    const args = execStart.slice(2);
    args[args.indexOf("--port") + 1] = "0";
    args[args.indexOf("--data-dir") + 1] = join(work, "state");
    const env: Record<string, string> = { PATH: process.env["PATH"] ?? "" };
    for (const line of deployFile("sessionlens.env").split("\n")) {
      const match = /^([A-Z_]+)=(.*)$/.exec(line);
      if (match) env[match[1]!] = match[2]!;
    }
    const child = spawn(process.execPath, [BIN, ...args], { env, stdio: ["ignore", "pipe", "pipe"] });
    children.push(child);
    let output = "";
    child.stdout!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr!.on("data", (chunk: Buffer) => (output += chunk.toString()));
    await expect.poll(() => /"url":"(http:[^"]+)"/.exec(output)?.[1], { timeout: 15_000 }).toBeDefined();
    const url = /"url":"(http:[^"]+)"/.exec(output)![1]!;
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
    // The env file's API token is in force.
    expect((await fetch(`${url}/api/v1/sessions`)).status).toBe(401);
    expect((await fetch(`${url}/api/v1/sessions`, { headers: { authorization: `Bearer ${env["SESSIONLENS_API_TOKEN"]}` } })).status).toBe(200);
    expect(output).not.toContain(env["SESSIONLENS_API_TOKEN"]!);
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(join(work, "state", "secret"))).toBe(true);
  }, 60_000);

  it("nginx: the config passes nginx -t and proxies health, the page, the event stream and agents", async () => {
    if (!toolAvailable("nginx", "nginx config check")) return;
    if (!toolAvailable("openssl", "nginx TLS certificate for the test")) return;
    const dir = join(work, "nginx");
    for (const sub of ["", "logs", "temp"]) mkdirSync(join(dir, sub), { recursive: true, mode: 0o777 });
    chmodSync(join(dir, "temp"), 0o777);
    await run("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=sessions.example.com", "-keyout", join(dir, "privkey.pem"), "-out", join(dir, "fullchain.pem")]);
    const [httpPort, httpsPort] = [await freePort(PROXY_HOST), await freePort(PROXY_HOST)];
    const site = deployFile("nginx.conf")
      .replace("listen 80;", `listen ${PROXY_HOST}:${httpPort};`)
      .replace("listen 443 ssl http2;", `listen ${PROXY_HOST}:${httpsPort} ssl http2;`)
      .replace("server 127.0.0.1:8787;", `server 127.0.0.1:${collectorPort};`)
      .replace("/etc/ssl/sessionlens/fullchain.pem", join(dir, "fullchain.pem"))
      .replace("/etc/ssl/sessionlens/privkey.pem", join(dir, "privkey.pem"));
    expect(site).not.toContain(":8787;\n}");
    const temp = (name: string) => `${name}_temp_path ${join(dir, "temp", name)};`;
    writeFileSync(
      join(dir, "nginx.conf"),
      [
        "daemon off;",
        "worker_processes 1;",
        `pid ${join(dir, "nginx.pid")};`,
        `error_log ${join(dir, "logs", "error.log")} warn;`,
        "events { worker_connections 256; }",
        "http {",
        "  access_log off;",
        `  ${temp("client_body")} ${temp("proxy")} ${temp("fastcgi")} ${temp("uwsgi")} ${temp("scgi")}`,
        site,
        "}",
        "",
      ].join("\n"),
    );
    const nginx = toolPath("nginx");
    const checked = await run(nginx, ["-t", "-p", dir, "-c", join(dir, "nginx.conf")]).catch((error: { stderr: string }) => error);
    expect(checked.stderr).toContain("syntax is ok");
    expect(checked.stderr).toContain("test is successful");

    const child = spawn(nginx, ["-p", dir, "-c", join(dir, "nginx.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    children.push(child);
    const base = `https://${PROXY_HOST}:${httpsPort}`;
    await waitForAnswer(`${base}/healthz`);

    expect((await get(`http://${PROXY_HOST}:${httpPort}/healthz`)).status).toBe(301);
    const health = await get(`${base}/healthz`);
    expect(health.status).toBe(200);
    expect(health.headers["strict-transport-security"]).toBe("max-age=31536000");
    const page = await get(`${base}/`);
    expect(page.status).toBe(200);
    expect(page.headers["content-security-policy"]).toContain("script-src 'self'");
    expect((await get(`${base}/metrics`)).status).toBe(404);
    const events = await get(`${base}/api/v1/events`, { accept: "text/event-stream" }, "event: snapshot");
    expect(events.status).toBe(200);
    expect(events.body).toContain("event: snapshot");

    const before = (await collector.getSessionInfo(undefined, "Proxied")).length;
    const agent = agentThrough(`wss://${PROXY_HOST}:${httpsPort}/ws`);
    agents.push(agent);
    await expectProxiedClient(before);
  }, 60_000);

  it("Caddy: the Caddyfile validates and proxies health, the page, the event stream and agents", async () => {
    if (!toolAvailable("caddy", "Caddyfile check")) return;
    const dir = join(work, "caddy");
    mkdirSync(dir, { recursive: true });
    const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
    const original = join(dir, "Caddyfile.original");
    writeFileSync(original, deployFile("Caddyfile"));
    const validated = await run("caddy", ["validate", "--adapter", "caddyfile", "--config", original], { env }).catch((error: { stdout: string; stderr: string }) => error);
    expect(`${validated.stdout}${validated.stderr}`).toContain("Valid configuration");

    // The same site on plain HTTP at a test port (no certificate authority to ask here).
    const port = await freePort(PROXY_HOST);
    const caddyfile = join(dir, "Caddyfile");
    writeFileSync(
      caddyfile,
      "{\n\tadmin off\n\tauto_https off\n}\n" +
        deployFile("Caddyfile").replace("sessions.example.com {", `http://${PROXY_HOST}:${port} {`).replace("reverse_proxy 127.0.0.1:8787", `reverse_proxy 127.0.0.1:${collectorPort}`),
    );
    const child = spawn("caddy", ["run", "--adapter", "caddyfile", "--config", caddyfile], { env, stdio: ["ignore", "ignore", "ignore"] });
    children.push(child);
    const base = `http://${PROXY_HOST}:${port}`;
    await waitForAnswer(`${base}/healthz`);
    expect((await get(`${base}/healthz`)).status).toBe(200);
    expect((await get(`${base}/`)).status).toBe(200);
    expect((await get(`${base}/metrics`)).status).toBe(404);
    const events = await get(`${base}/api/v1/events`, { accept: "text/event-stream" }, "event: snapshot");
    expect(events.body).toContain("event: snapshot");

    const before = (await collector.getSessionInfo(undefined, "Proxied")).length;
    const agent = agentThrough(`ws://${PROXY_HOST}:${port}/ws`);
    agents.push(agent);
    await expectProxiedClient(before);
  }, 60_000);
});
