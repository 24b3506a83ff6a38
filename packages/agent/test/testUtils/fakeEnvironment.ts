import type { Environment, PageWindow } from "@sessionlens/agent";

/** Lets promise callbacks and queued microtasks of fakes run. */
export async function flush(): Promise<void> {
  for (let i = 0; i < 20; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

interface Timer {
  id: number;
  at: number;
  callback: () => void;
}

/**
 * A clock with timers that only move when told (`advance`), and a settable random number, so
 * backoff, jitter, heartbeats and idle detection are tested without waiting.
 */
export class FakeEnvironment implements Environment {
  time = 1_764_000_000_000;
  randomValue = 0.5;
  window: PageWindow | undefined;
  private timers: Timer[] = [];
  private nextId = 1;

  constructor(window?: unknown) {
    this.window = window as PageWindow | undefined;
  }

  now = (): number => this.time;
  random = (): number => this.randomValue;
  setTimeout = (callback: () => void, ms: number): unknown => {
    const timer = { id: this.nextId++, at: this.time + Math.max(0, ms || 0), callback };
    this.timers.push(timer);
    return timer.id;
  };
  clearTimeout = (handle: unknown): void => {
    this.timers = this.timers.filter((timer) => timer.id !== handle);
  };

  /** Delays of the pending timers, soonest first. */
  pending(): number[] {
    return this.timers.map((timer) => timer.at - this.time).sort((a, b) => a - b);
  }

  /** Moves time forward by `ms`, running each timer that comes due (and the promises it starts). */
  async advance(ms: number): Promise<void> {
    const target = this.time + ms;
    await flush();
    for (;;) {
      const due = this.timers.filter((timer) => timer.at <= target).sort((a, b) => a.at - b.at || a.id - b.id)[0];
      if (!due) break;
      this.timers = this.timers.filter((timer) => timer !== due);
      this.time = due.at;
      due.callback();
      await flush();
    }
    this.time = target;
  }
}
