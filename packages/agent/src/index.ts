export { startAgent } from "./agent.js";
export type { Agent, AgentEvents, AgentOptions, CloseReason } from "./agent.js";
export type { TokenSource } from "./identity.js";
export type { WebSocketClass } from "./connection.js";
export type { Environment, PageWindow } from "./environment.js";
export { defaultEnvironment } from "./environment.js";
export type { SessionScope } from "@sessionlens/shared";
