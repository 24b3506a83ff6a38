import type { AgentMessage, CollectorMessage, HelloMessage, SessionScope, WelcomeMessage } from "@sessionlens/shared";
import { decodeCollectorMessage, encodeMessage } from "@sessionlens/shared/codec";
import { nanoid } from "nanoid";
import WebSocket from "ws";

export interface TestAgentOptions {
  origin?: string;
  headers?: Record<string, string>;
  /** Answer pings (default true); false simulates a half-open connection. */
  autoPong?: boolean;
}

export interface HelloOverrides {
  project?: string;
  scope?: SessionScope | null;
  userAgent?: string;
  pageId?: string;
  path?: string;
  resume?: string | null;
  token?: string | null;
  epoch?: number;
  seq?: number;
  bytes?: number;
}

export const CHROME_UA =
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36";

/**
 * A protocol-speaking test client: one page on one socket. It keeps the page's cumulative
 * counters like a real agent and records every frame the collector sends.
 */
export class TestAgent {
  readonly frames: CollectorMessage[] = [];
  readonly closed: Promise<{ code: number; reason: string }>;
  pageId = nanoid();
  epoch = 1_764_000_000_000;
  seq = 0;
  bytes = 0;
  welcome: WelcomeMessage | null = null;
  #waiters: { test: (frame: CollectorMessage) => boolean; resolve: (frame: CollectorMessage) => void }[] = [];

  private constructor(readonly ws: WebSocket) {
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => resolve({ code, reason: reason.toString() }));
    });
    ws.on("error", () => {});
    ws.on("message", (data: Buffer) => {
      const decoded = decodeCollectorMessage(data);
      if (!decoded.ok) throw new Error(`the collector sent a bad frame: ${decoded.error.message}`);
      this.frames.push(decoded.value);
      for (const waiter of [...this.#waiters]) {
        if (waiter.test(decoded.value)) {
          this.#waiters.splice(this.#waiters.indexOf(waiter), 1);
          waiter.resolve(decoded.value);
        }
      }
    });
  }

  static async connect(wsUrl: string, options: TestAgentOptions = {}): Promise<TestAgent> {
    const ws = new WebSocket(wsUrl, {
      headers: { ...(options.origin ? { origin: options.origin } : {}), ...options.headers },
      autoPong: options.autoPong ?? true,
      perMessageDeflate: false,
    });
    const agent = new TestAgent(ws);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return agent;
  }

  /** Connects, says hello and waits for the welcome. */
  static async join(wsUrl: string, hello: HelloOverrides = {}, options?: TestAgentOptions): Promise<TestAgent> {
    const agent = await TestAgent.connect(wsUrl, options);
    await agent.hello(hello);
    return agent;
  }

  helloMessage(overrides: HelloOverrides = {}): HelloMessage {
    if (overrides.pageId !== undefined) this.pageId = overrides.pageId;
    if (overrides.epoch !== undefined) this.epoch = overrides.epoch;
    if (overrides.bytes !== undefined) this.bytes = overrides.bytes;
    return {
      type: "hello",
      v: 1,
      project: overrides.project ?? "MyProject",
      scope: overrides.scope ?? null,
      userAgent: overrides.userAgent ?? CHROME_UA,
      pageId: this.pageId,
      path: overrides.path ?? "/app/home",
      resume: overrides.resume ?? null,
      token: overrides.token ?? null,
      epoch: this.epoch,
      seq: overrides.seq ?? this.seq++,
      bytes: this.bytes,
    };
  }

  async hello(overrides: HelloOverrides = {}): Promise<WelcomeMessage> {
    const welcome = this.next("welcome");
    this.send(this.helloMessage(overrides));
    this.welcome = (await welcome) as WelcomeMessage;
    return this.welcome;
  }

  send(message: AgentMessage | Record<string, unknown>): void {
    this.ws.send(encodeMessage(message as AgentMessage));
  }

  sendRaw(data: Uint8Array | string): void {
    this.ws.send(data);
  }

  /** Adds bytes and sends a heartbeat with the new cumulative counters. */
  heartbeat(addBytes = 0): void {
    this.bytes += addBytes;
    this.send({ type: "heartbeat", epoch: this.epoch, seq: this.seq++, bytes: this.bytes });
  }

  report(path: string, addBytes = 0): void {
    this.bytes += addBytes;
    this.send({ type: "report", epoch: this.epoch, seq: this.seq++, bytes: this.bytes, path });
  }

  token(token: string | null): void {
    this.send({ type: "token", token });
  }

  bye(): void {
    this.send({ type: "bye", epoch: this.epoch, seq: this.seq++, bytes: this.bytes });
  }

  /** The next frame of `type` (counting only frames that arrive from now on). */
  next(type: CollectorMessage["type"]): Promise<CollectorMessage> {
    return this.waitFor((frame) => frame.type === type);
  }

  waitFor(test: (frame: CollectorMessage) => boolean): Promise<CollectorMessage> {
    return new Promise((resolve) => this.#waiters.push({ test, resolve }));
  }

  /** A received frame of `type`, or the next one. */
  async seen(type: CollectorMessage["type"]): Promise<CollectorMessage> {
    return this.frames.find((frame) => frame.type === type) ?? this.next(type);
  }

  /** Closes cleanly (1000 by default) and waits for the close. */
  async close(code = 1000): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.close(code);
    await this.closed;
  }

  /** Drops the TCP connection without a close frame (a network cut). */
  async drop(): Promise<void> {
    if (this.ws.readyState === WebSocket.CLOSED) return;
    this.ws.terminate();
    await this.closed;
  }
}
