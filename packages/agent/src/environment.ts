/**
 * What the agent takes from its surroundings. Injected (`startAgent(options, environment)`) so tests
 * can fake time, randomness and the page; the default reads the real globals.
 */
export interface Environment {
  /** Wall-clock time in milliseconds. */
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
  /** A number in [0, 1): the backoff jitter. */
  random(): number;
  /**
   * The page's global object, or undefined outside a page (Node, workers): then the agent keeps its
   * session in memory, listens to no page events and wraps no request APIs.
   */
  window: PageWindow | undefined;
}

/** The parts of `window` the agent uses. */
export type PageWindow = Window & typeof globalThis;

export function defaultEnvironment(): Environment {
  return {
    now: () => Date.now(),
    setTimeout: (callback, ms) => setTimeout(callback, ms),
    clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>),
    random: () => Math.random(),
    window: typeof window !== "undefined" && typeof document !== "undefined" ? window : undefined,
  };
}
