import type { SessionModel } from "../sessions/model.js";
import type { RedisConnection } from "../store/redis-connection.js";
import type { ClusterView } from "./view.js";

/** A command for the nodes holding a session's pages, as sent on the commands channel. */
type ClusterCommand =
  | { from: string; op: "closeSession"; id: string; message: string }
  | { from: string; op: "closePage"; id: string; pageId: string; message: string }
  | { from: string; op: "message"; id: string; type: string; payload: unknown; pageId?: string };

export interface ClusterCommandsOptions {
  model: SessionModel;
  view: ClusterView;
  connection: RedisConnection;
  /** The commands channel. */
  channel: string;
  nodeId: string;
  log: (level: "warn" | "error" | "info", message: string, details?: Record<string, unknown>) => void;
}

/**
 * Commands (close a session, close a page, deliver a message) from any node reach the pages
 * wherever their sockets are: this node acts on the pages it holds and publishes the command on
 * Redis for the others (the socket.io redis adapter's broadcast). A command is accepted when the
 * cluster view knows the session (or page); app payloads cross nodes as JSON.
 */
export class ClusterCommands {
  readonly #o: ClusterCommandsOptions;

  constructor(options: ClusterCommandsOptions) {
    this.#o = options;
  }

  async start(): Promise<void> {
    await this.#o.connection.subscribe(this.#o.channel, (message) => this.#heard(message));
  }

  async closeSession(id: string, message = ""): Promise<boolean> {
    const view = this.#o.view.index.get(id);
    const elsewhere = view?.remote?.record != null;
    const local = this.#o.model.closeSession(id, message);
    if (elsewhere) await this.#publish({ from: this.#o.nodeId, op: "closeSession", id, message });
    return view !== undefined || local;
  }

  async closePage(id: string, pageId: string, message = ""): Promise<boolean> {
    const known = this.#o.view.index.get(id)?.pages.has(pageId) === true;
    const local = this.#o.model.closePage(id, pageId, message);
    if (!local && known) await this.#publish({ from: this.#o.nodeId, op: "closePage", id, pageId, message });
    return known || local;
  }

  /**
   * Delivers to this node's pages of the session and asks the others to deliver to theirs. Returns
   * how many sockets of this node got it (the others' are not counted), or null when the cluster
   * does not know the session or page. Throws `CommandError` on a bad payload.
   */
  async sendMessage(id: string, type: string, payload: unknown, pageId?: string): Promise<number | null> {
    const view = this.#o.view.index.get(id);
    const known = view !== undefined && (pageId === undefined || view.pages.has(pageId));
    if (!known) return this.#o.model.sendMessage(id, type, payload, pageId);
    this.#o.model.prepareMessage(type, payload);
    const delivered = this.#o.model.sendMessage(id, type, payload, pageId) ?? 0;
    const local = pageId !== undefined && this.#o.model.index.get(id)?.pages.has(pageId) === true;
    if (!local && view.remote?.record != null) await this.#publish({ from: this.#o.nodeId, op: "message", id, type, payload: payload ?? null, ...(pageId === undefined ? {} : { pageId }) });
    return delivered;
  }

  async #publish(command: ClusterCommand): Promise<void> {
    try {
      await this.#o.connection.publish(this.#o.channel, JSON.stringify(command));
    } catch (error) {
      this.#o.log("warn", "a command could not be sent to the other nodes (Redis unreachable)", { op: command.op, sessionId: command.id, err: error });
    }
  }

  #heard(raw: string): void {
    let command: ClusterCommand;
    try {
      command = JSON.parse(raw) as ClusterCommand;
    } catch {
      return;
    }
    if (command.from === this.#o.nodeId || typeof command.id !== "string") return;
    const model = this.#o.model;
    try {
      if (command.op === "closeSession") model.closeSession(command.id, command.message);
      else if (command.op === "closePage") model.closePage(command.id, command.pageId, command.message);
      else if (command.op === "message") model.sendMessage(command.id, command.type, command.payload, command.pageId);
    } catch (error) {
      this.#o.log("warn", "a command from another node could not be applied", { op: command.op, sessionId: command.id, err: error });
    }
  }
}
