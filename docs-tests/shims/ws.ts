/** `ws` for snippets run by the doc tests (the root has no `ws` of its own: the agent's). */
import { WebSocketImpl } from "../harness.js";

export const WebSocket = WebSocketImpl;
