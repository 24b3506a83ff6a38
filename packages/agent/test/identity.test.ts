import { describe, expect, it, vi } from "vitest";
import { createIdentity } from "../src/identity.js";
import { FakeEnvironment, flush } from "./testUtils/fakeEnvironment.js";

function setup(initial: Parameters<typeof createIdentity>[0]) {
  const sent: (string | null)[] = [];
  const env = new FakeEnvironment();
  const identity = createIdentity(initial, (token) => sent.push(token), env, 10_000);
  return { identity, sent, env };
}

describe("identity", () => {
  it("a string token is current at once; only changes are announced", () => {
    const { identity, sent } = setup("jwt-1");
    expect(identity.token()).toBe("jwt-1");
    identity.set("jwt-1");
    identity.set("jwt-2");
    identity.set(null);
    identity.set(null);
    expect(sent).toEqual(["jwt-1", "jwt-2", null]);
  });

  it("a token function's answer becomes current; ready() waits for it", async () => {
    let resolve!: (token: string) => void;
    const { identity } = setup(() => new Promise<string>((r) => (resolve = r)));
    let ready = false;
    void identity.ready().then(() => (ready = true));
    await flush();
    expect(ready).toBe(false);
    resolve("jwt-async");
    await flush();
    expect(ready).toBe(true);
    expect(identity.token()).toBe("jwt-async");
  });

  it("an answer of a replaced token function is dropped (logout while the login was in flight)", async () => {
    let resolve!: (token: string) => void;
    const { identity, sent } = setup(() => new Promise<string>((r) => (resolve = r)));
    await flush(); // the function has been called
    identity.set(null);
    resolve("late");
    await flush();
    expect(identity.token()).toBeNull();
    expect(sent).toEqual([]);
  });

  it("expired() calls the function again, once at a time; a string token stays as it is", async () => {
    const fn = vi.fn(async () => "fresh");
    const { identity } = setup(fn);
    await flush();
    identity.expired();
    identity.expired();
    await flush();
    expect(fn).toHaveBeenCalledTimes(2);
    const fixed = setup("jwt");
    fixed.identity.expired();
    expect(fixed.identity.token()).toBe("jwt");
  });

  it("ready() gives up after waitMs on a function that never answers", async () => {
    const { identity, env } = setup(() => new Promise<string>(() => undefined));
    let ready = false;
    void identity.ready().then(() => (ready = true));
    await env.advance(9_999);
    expect(ready).toBe(false);
    await env.advance(1);
    expect(ready).toBe(true);
  });

  it("treats empty and non-string answers as no token", async () => {
    const { identity } = setup(async () => "" as string);
    await flush();
    expect(identity.token()).toBeNull();
    identity.set((() => 42) as unknown as () => string);
    await flush();
    expect(identity.token()).toBeNull();
  });
});
