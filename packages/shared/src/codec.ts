import { Packr } from "msgpackr";
import type { AgentMessage, CollectorMessage } from "./protocol.js";
import { fail, validateAgentMessage, validateCollectorMessage, type Validated } from "./validate.js";

/**
 * The one msgpackr setup of SessionLens, shared by the collector, test clients
 * and load generators. Plain msgpack only: no records (they compile code with
 * `new Function` and make frames depend on earlier ones), no structured clone,
 * no extension types, so every frame decodes on its own with any msgpack
 * library (the browser agent decodes with @msgpack/msgpack).
 */
const packr = new Packr({
  useRecords: false,
  structuredClone: false,
  moreTypes: false,
  bundleStrings: false,
  mapsAsObjects: true,
  variableMapSize: true,
  int64AsType: "number",
});

/** Encodes one frame. */
export function encodeMessage(message: AgentMessage | CollectorMessage): Uint8Array {
  return packr.pack(message);
}

/** Decodes one frame to an unvalidated value, or a `bad_encoding` / `too_deep` error. */
export function decodeFrame(bytes: Uint8Array): Validated<unknown> {
  if (bytes.length === 0) return fail("bad_encoding", "empty frame");
  try {
    return { ok: true, value: packr.unpack(bytes) as unknown };
  } catch (error) {
    if (error instanceof RangeError && /call stack/i.test(error.message)) {
      return fail("too_deep", "frame nests too deeply");
    }
    return fail("bad_encoding", `frame is not valid msgpack: ${error instanceof Error ? error.message : String(error)}`);
  }
}

/** Decodes and validates a frame an agent sent. */
export function decodeAgentMessage(bytes: Uint8Array): Validated<AgentMessage> {
  const decoded = decodeFrame(bytes);
  return decoded.ok ? validateAgentMessage(decoded.value) : decoded;
}

/** Decodes and validates a frame a collector sent. */
export function decodeCollectorMessage(bytes: Uint8Array): Validated<CollectorMessage> {
  const decoded = decodeFrame(bytes);
  return decoded.ok ? validateCollectorMessage(decoded.value) : decoded;
}
