/**
 * `@sessionlens/agent` as snippets see it when the doc tests run them: the real `startAgent`,
 * with every agent a snippet starts recorded (so the test can wait for its welcome and stop it).
 */
import * as real from "@sessionlens/agent";
import type { Agent, AgentOptions } from "@sessionlens/agent";

export * from "@sessionlens/agent";

export const started: { agent: Agent; connected: Promise<string> }[] = [];

export function startAgent(options: AgentOptions): Agent {
  const agent = real.startAgent(options);
  started.push({ agent, connected: new Promise((resolve) => agent.on("connect", resolve)) });
  return agent;
}
