/**
 * Deadlines in coarse buckets: scheduling, moving and cancelling are O(1) and one sweep fires
 * everything due, so 100k sessions cost one interval, not 100k timers. Items fire at most one
 * bucket late; nothing fires early.
 */
export class DeadlineWheel<T> {
  readonly #resolutionMs: number;
  readonly #buckets = new Map<number, Set<T>>();
  readonly #bucketOf = new Map<T, number>();

  constructor(resolutionMs: number) {
    this.#resolutionMs = resolutionMs;
  }

  get size(): number {
    return this.#bucketOf.size;
  }

  /** Schedules `item` at `atMs`, replacing any earlier schedule of it. */
  schedule(item: T, atMs: number): void {
    const key = Math.ceil(atMs / this.#resolutionMs);
    const current = this.#bucketOf.get(item);
    if (current === key) return;
    if (current !== undefined) this.#buckets.get(current)?.delete(item);
    let bucket = this.#buckets.get(key);
    if (bucket === undefined) this.#buckets.set(key, (bucket = new Set()));
    bucket.add(item);
    this.#bucketOf.set(item, key);
  }

  cancel(item: T): void {
    const key = this.#bucketOf.get(item);
    if (key === undefined) return;
    this.#bucketOf.delete(item);
    const bucket = this.#buckets.get(key);
    if (bucket === undefined) return;
    bucket.delete(item);
    if (bucket.size === 0) this.#buckets.delete(key);
  }

  /** Removes and returns every item due at `nowMs`. */
  takeDue(nowMs: number): T[] {
    const nowKey = Math.floor(nowMs / this.#resolutionMs);
    const due: T[] = [];
    // Buckets are few (deadlines within a minute or so, at a coarse resolution): scan them all.
    for (const [key, bucket] of this.#buckets) {
      if (key > nowKey) continue;
      this.#buckets.delete(key);
      for (const item of bucket) {
        this.#bucketOf.delete(item);
        due.push(item);
      }
    }
    return due;
  }

  clear(): void {
    this.#buckets.clear();
    this.#bucketOf.clear();
  }
}
