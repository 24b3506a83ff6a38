import { connect, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { eventually } from "../helpers/collector.js";
import { useCollector } from "../helpers/fixture.js";

describe("event stream: a slow consumer", () => {
  const t = useCollector();
  let socket: Socket | undefined;
  afterEach(() => {
    socket?.destroy();
  });

  it("is dropped once its unsent output passes the bound; everyone else carries on", async () => {
    await t.start({ sseCoalesceMs: 10, sseMaxBufferBytes: 64 * 1024, maxMessagesPerWindow: 10_000, maxConnectionsPerIp: 1_000 });
    for (let i = 0; i < 40; i++) await t.join({ path: `/${"p".repeat(1_000)}` });
    // A client that asks for the stream and then never reads.
    const { port } = new URL(t.url);
    socket = connect(Number(port), "127.0.0.1");
    await new Promise((resolve) => socket!.once("connect", resolve));
    socket.write("GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n");
    socket.pause();
    await eventually(async () => expect(await (await fetch(`${t.url}/metrics`)).text()).toMatch(/^sessionlens_sse_subscribers 1$/m));

    let round = 0;
    const churn = setInterval(() => {
      round++;
      for (const agent of t.agents) agent.report(`/${round}${"q".repeat(1_000)}`, 1);
    }, 20);
    try {
      await eventually(async () => {
        const metrics = await (await fetch(`${t.url}/metrics`)).text();
        expect(metrics).toMatch(/^sessionlens_sse_dropped_total 1$/m);
        expect(metrics).toMatch(/^sessionlens_sse_subscribers 0$/m);
      }, { timeoutMs: 30_000 });
    } finally {
      clearInterval(churn);
    }
    // The collector still answers and the sessions are intact.
    expect(await t.collector.getSessionInfo()).toHaveLength(40);
  }, 60_000);
});
