import { describe, expect, it } from "vitest";
import { readEventStream, SseParseError, SseParser, type SseEvent } from "@sessionlens/shared/client";

function parseAll(chunks: string[]): SseEvent[] {
  const parser = new SseParser();
  return chunks.flatMap((chunk) => parser.push(chunk));
}

function streamOf(chunks: (string | Uint8Array)[]): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  return new ReadableStream({
    start(controller) {
      for (const chunk of chunks) controller.enqueue(typeof chunk === "string" ? encoder.encode(chunk) : chunk);
      controller.close();
    },
  });
}

describe("SseParser", () => {
  it("reads the collector's snapshot, upsert and remove events", () => {
    const events = parseAll([
      'event: snapshot\ndata: [{"id":"a"}]\n\n',
      'event: upsert\ndata: {"id":"b"}\n\n',
      'event: remove\ndata: {"id":"a","reason":"closed"}\n\n',
    ]);
    expect(events.map((e) => [e.type, JSON.parse(e.data)])).toEqual([
      ["snapshot", [{ id: "a" }]],
      ["upsert", { id: "b" }],
      ["remove", { id: "a", reason: "closed" }],
    ]);
  });

  it("ignores heartbeat comments and unknown fields", () => {
    expect(parseAll([": heartbeat\n\n", "foo: bar\n", ":\n", "data: x\n\n"])).toEqual([
      { type: "message", data: "x", lastEventId: "" },
    ]);
  });

  it("accepts CRLF, LF and CR line ends, even a CRLF split across chunks", () => {
    const events = parseAll(["event: a\r", "\ndata: 1\r", "\n\r", "\nevent: b\rdata: 2\r\r", "data: 3\n\n"]);
    expect(events.map((e) => [e.type, e.data])).toEqual([
      ["a", "1"],
      ["b", "2"],
      ["message", "3"],
    ]);
  });

  it("does not treat a lone CR then LF in the next chunk as two blank lines", () => {
    // "data: 1\r" + "\n" + "\n" is one line end then a blank line: one event, not a dispatch plus a stray line.
    expect(parseAll(["data: 1\r", "\n", "\n"]).map((e) => e.data)).toEqual(["1"]);
  });

  it("joins multi-line data with LF and keeps a field value's colons and extra spaces", () => {
    const [event] = parseAll(["data: a: b\ndata:  two spaces\ndata\n\n"]);
    expect(event?.data).toBe("a: b\n two spaces\n");
  });

  it("reassembles a line split anywhere, one character at a time", () => {
    const text = 'event: upsert\ndata: {"id":"x","userAgent":"<img src=x onerror=alert(1)>"}\n\n';
    const events = parseAll(text.split(""));
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.data).userAgent).toBe("<img src=x onerror=alert(1)>");
  });

  it("drops an event with no data and resets the event type after each dispatch", () => {
    expect(parseAll(["event: upsert\n\n", "data: y\n\n"])).toEqual([{ type: "message", data: "y", lastEventId: "" }]);
  });

  it("tracks id and retry fields", () => {
    const parser = new SseParser();
    const events = parser.push("id: 7\nretry: 2500\ndata: z\n\nretry: soon\n");
    expect(events[0]?.lastEventId).toBe("7");
    expect(parser.retryMs).toBe(2500);
  });

  it("refuses an event beyond its size cap instead of buffering without bound", () => {
    const parser = new SseParser(100);
    expect(() => parser.push(`data: ${"x".repeat(200)}\n`)).toThrow(SseParseError);
    expect(() => new SseParser(100).push("x".repeat(200))).toThrow(SseParseError);
  });
});

describe("readEventStream", () => {
  it("decodes UTF-8 split across chunks and reports activity for every chunk", async () => {
    const bytes = new TextEncoder().encode('event: upsert\ndata: {"username":"Zoë 🙂"}\n\n: ping\n\n');
    const chunks = [bytes.slice(0, 30), bytes.slice(30, 33), bytes.slice(33, 40), bytes.slice(40)];
    const events: SseEvent[] = [];
    let activity = 0;
    await readEventStream(streamOf(chunks), (e) => events.push(e), { onActivity: () => activity++ });
    expect(events).toHaveLength(1);
    expect(JSON.parse(events[0]!.data)).toEqual({ username: "Zoë 🙂" });
    expect(activity).toBe(4);
  });

  it("drops an event the stream cut off", async () => {
    const events: SseEvent[] = [];
    await readEventStream(streamOf(["data: complete\n\n", "data: cut off"]), (e) => events.push(e));
    expect(events.map((e) => e.data)).toEqual(["complete"]);
  });

  it("hands the caller its parser, so the server's retry: is seen after the stream", async () => {
    const parser = new SseParser();
    await readEventStream(streamOf(["retry: 2000\n\n", "data: x\n\n"]), () => undefined, { parser });
    expect(parser.retryMs).toBe(2000);
  });

  it("cancels the stream when a handler throws", async () => {
    let cancelled = false;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        controller.enqueue(new TextEncoder().encode("data: 1\n\n"));
      },
      cancel() {
        cancelled = true;
      },
    });
    await expect(
      readEventStream(body, () => {
        throw new Error("boom");
      }),
    ).rejects.toThrow("boom");
    expect(cancelled).toBe(true);
  });
});
