import { createServer, Socket, type AddressInfo } from "node:net";

/**
 * A TCP proxy in front of the collector to play the network: `cut()` breaks every connection (as a
 * lost Wi-Fi does), `stall()` keeps the current ones open but silently drops their traffic from now
 * on (half-dead sockets: no close ever arrives), `refuse(true)` resets new connections.
 */
export interface NetworkProxy {
  port: number;
  /** Connections passed through to the collector. */
  connections: number;
  /** Connections reset while `refuse(true)`. */
  refused: number;
  cut(): void;
  stall(): void;
  refuse(on: boolean): void;
  close(): Promise<void>;
}

export async function startProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<NetworkProxy> {
  const open = new Set<Socket>();
  const stalled = new WeakSet<Socket>();
  let refusing = false;
  const proxy: NetworkProxy = {
    port: 0,
    connections: 0,
    refused: 0,
    cut: () => {
      for (const socket of open) socket.destroy();
      open.clear();
    },
    stall: () => {
      for (const socket of open) stalled.add(socket);
    },
    refuse: (on) => (refusing = on),
    close: () =>
      new Promise((resolve) => {
        proxy.cut();
        server.close(() => resolve());
      }),
  };
  const server = createServer((client) => {
    if (refusing) {
      proxy.refused++;
      client.resetAndDestroy();
      return;
    }
    proxy.connections++;
    const upstream = new Socket();
    upstream.connect(targetPort, targetHost);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(from);
      from.on("data", (chunk) => {
        if (!stalled.has(from)) to.write(chunk);
      });
      from.on("close", () => to.destroy());
      from.on("error", () => to.destroy());
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  proxy.port = (server.address() as AddressInfo).port;
  return proxy;
}
