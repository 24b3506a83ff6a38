import { EventEmitter } from "node:events";
import type { Server } from "node:http";
import type { Socket } from "node:net";
import { describe, expect, it } from "vitest";
import { ConnectionGuard } from "../../src/http/guards.js";

/** Just what the guard touches of a socket: its address, `destroy()` and its events. */
class FakeSocket extends EventEmitter {
  destroyed = false;
  constructor(readonly remoteAddress: string) {
    super();
  }
  destroy(): void {
    this.destroyed = true;
    this.emit("close");
  }
}

function guarded(maxPerAddress: number) {
  const server = new EventEmitter();
  let refused = 0;
  const guard = new ConnectionGuard({ maxPerAddress, trustProxy: [], keyOf: (address) => address, onRefused: () => refused++ });
  guard.attach(server as unknown as Server);
  const connect = (address: string): FakeSocket => {
    const socket = new FakeSocket(address);
    server.emit("connection", socket);
    return socket;
  };
  return { guard, connect, refused: () => refused };
}

describe("ConnectionGuard", () => {
  it("counts HTTP connections per address, refuses past the cap, and releases on close", () => {
    const { guard, connect, refused } = guarded(2);
    const a = connect("10.0.0.1");
    connect("10.0.0.1");
    const third = connect("10.0.0.1");
    expect(third.destroyed).toBe(true);
    expect(refused()).toBe(1);
    expect(connect("10.0.0.2").destroyed).toBe(false);
    expect(guard.size).toBe(3);
    a.destroy();
    expect(guard.size).toBe(2);
    expect(connect("10.0.0.1").destroyed).toBe(false);
  });

  it("an upgraded socket stops counting and keeps no listener of the guard (no per-agent-socket cost)", () => {
    const { guard, connect } = guarded(1);
    const agentSocket = connect("10.0.0.1");
    expect(agentSocket.listenerCount("close")).toBe(1);
    guard.upgraded(agentSocket as unknown as Socket);
    expect(guard.size).toBe(0);
    expect(agentSocket.listenerCount("close")).toBe(0);
    // Its address may open another HTTP connection; the agent socket's close changes nothing.
    const next = connect("10.0.0.1");
    expect(next.destroyed).toBe(false);
    agentSocket.destroy();
    expect(guard.size).toBe(1);
  });
});
