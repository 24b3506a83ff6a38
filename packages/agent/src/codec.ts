import { decode, encode } from "@msgpack/msgpack";
import { validateCollectorMessage, type AgentMessage, type CollectorMessage } from "@sessionlens/shared";

/**
 * The agent's msgpack codec. The collector uses msgpackr; the agent uses @msgpack/msgpack, which
 * writes and reads the same plain msgpack, is half the size and never compiles code (strict CSP).
 */
export function encodeFrame(message: AgentMessage): Uint8Array {
  return encode(message);
}

/** Decodes and validates one collector frame; null for anything else (text frames included). */
export function decodeFrame(data: unknown): CollectorMessage | null {
  if (!(data instanceof ArrayBuffer) && !ArrayBuffer.isView(data)) return null;
  try {
    const result = validateCollectorMessage(decode(data));
    return result.ok ? result.value : null;
  } catch {
    return null;
  }
}
