import { afterEach } from "vitest";
import type { CollectorOptions } from "@sessionlens/collector";
import { TestAgent, type HelloOverrides, type TestAgentOptions } from "./agent.js";
import { startCollector, type ManualClock, type TestCollector } from "./collector.js";

/**
 * A describe block's collector and the agents its tests connect. It reads like the running
 * collector itself (`t.url`, `t.collector`, `t.clock`), and after each test it drops every agent
 * it connected and closes every collector it started.
 */
export interface CollectorFixture extends TestCollector {
  /** Starts a collector (see `startCollector`); it becomes the one `t` stands for. */
  start(options?: CollectorOptions, clock?: ManualClock): Promise<TestCollector>;
  /** Connects an agent to the current collector, says hello and waits for the welcome. */
  join(hello?: HelloOverrides, options?: TestAgentOptions): Promise<TestAgent>;
  /** Connects an agent to the current collector without saying hello. */
  connect(options?: TestAgentOptions): Promise<TestAgent>;
  /** The agents connected in this test, in order. */
  readonly agents: readonly TestAgent[];
}

/** Call in a describe block: `const t = useCollector();` then `await t.start()` in each test. */
export function useCollector(): CollectorFixture {
  let current: TestCollector | undefined;
  const started: TestCollector[] = [];
  const agents: TestAgent[] = [];
  const running = (): TestCollector => {
    if (current === undefined) throw new Error("no collector: call start() first");
    return current;
  };
  const track = (agent: TestAgent) => (agents.push(agent), agent);

  afterEach(async () => {
    await Promise.all(agents.splice(0).map((agent) => agent.drop()));
    await Promise.all(started.splice(0).map((collector) => collector.close()));
    current = undefined;
  });

  return {
    async start(options, clock) {
      current = await startCollector(options, clock);
      started.push(current);
      return current;
    },
    join: async (hello, options) => track(await TestAgent.join(running().wsUrl, hello, options)),
    connect: async (options) => track(await TestAgent.connect(running().wsUrl, options)),
    get agents() {
      return agents;
    },
    get collector() {
      return running().collector;
    },
    get clock() {
      return running().clock;
    },
    get url() {
      return running().url;
    },
    get wsUrl() {
      return running().wsUrl;
    },
    close: () => running().close(),
  };
}
