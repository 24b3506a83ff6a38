import { decodeAgentMessage, encodeMessage } from "@sessionlens/shared/codec";
import type { AgentMessage, CollectorMessage } from "@sessionlens/shared";

/**
 * A WebSocket the test plays the collector for. Frames the agent sends are decoded with the
 * collector's msgpackr codec and validated, so every frame in every test is also a protocol check.
 */
export class FakeSocket {
  static instances: FakeSocket[] = [];
  static reset(): void {
    FakeSocket.instances = [];
  }
  static get last(): FakeSocket {
    const socket = FakeSocket.instances.at(-1);
    if (!socket) throw new Error("no socket was opened");
    return socket;
  }

  readyState = 0;
  bufferedAmount = 0;
  binaryType = "blob";
  onopen: (() => void) | null = null;
  onmessage: ((event: { data: unknown }) => void) | null = null;
  onclose: ((event: { code: number; reason: string }) => void) | null = null;
  onerror: (() => void) | null = null;
  readonly frames: AgentMessage[] = [];
  readonly frameBytes: number[] = [];
  closedWith: number | undefined | null = null;

  constructor(readonly url: string) {
    FakeSocket.instances.push(this);
  }

  send(data: Uint8Array): void {
    if (this.readyState !== 1) throw new Error(`send in readyState ${this.readyState}`);
    const decoded = decodeAgentMessage(data);
    if (!decoded.ok) throw new Error(`agent sent an invalid frame: ${decoded.error.message}`);
    this.frames.push(decoded.value);
    this.frameBytes.push(data.byteLength);
  }

  close(code?: number): void {
    if (this.closedWith === null) this.closedWith = code;
    this.readyState = 3;
  }

  // ---- the collector's side

  accept(): void {
    this.readyState = 1;
    this.onopen?.();
  }

  deliver(message: CollectorMessage): void {
    const bytes = encodeMessage(message);
    this.onmessage?.({ data: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) });
  }

  welcome(overrides: Partial<Extract<CollectorMessage, { type: "welcome" }>> = {}): void {
    this.deliver({
      type: "welcome",
      v: 1,
      sessionId: "session-1",
      resume: "resume-1",
      heartbeatMs: 10_000,
      idleTimeoutMs: 25_000,
      authorized: false,
      ...overrides,
    });
  }

  /** The collector (or the network) ends the connection. */
  drop(code = 1006, reason = ""): void {
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  types(): string[] {
    return this.frames.map((frame) => frame.type);
  }
}
