/**
 * Redis for the store suites: 127.0.0.1:6379 unless SESSIONLENS_TEST_REDIS_URL
 * says otherwise. Locally a suite skips with a clear message when nothing
 * answers; with CI=true it fails instead.
 */
import { Socket } from "node:net";

export const TEST_REDIS_URL = process.env["SESSIONLENS_TEST_REDIS_URL"] ?? "redis://127.0.0.1:6379";

export async function redisAvailable(): Promise<boolean> {
  const url = new URL(TEST_REDIS_URL);
  const answered = await new Promise<boolean>((resolve) => {
    const socket = new Socket();
    socket.setTimeout(1000);
    socket.once("connect", () => (socket.destroy(), resolve(true)));
    socket.once("timeout", () => (socket.destroy(), resolve(false)));
    socket.once("error", () => resolve(false));
    socket.connect(Number(url.port || 6379), url.hostname);
  });
  if (answered) return true;
  if (process.env["CI"] === "true") throw new Error(`Redis does not answer at ${TEST_REDIS_URL}; CI must start it`);
  console.warn(`[skip] Redis tests: nothing answers at ${TEST_REDIS_URL}`);
  return false;
}
