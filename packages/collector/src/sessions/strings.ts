/**
 * Strings decoded from a frame are often slices of one string made from the whole frame, and
 * strings built with `+=` are chains of pieces; keeping either keeps far more memory alive than
 * the value itself. Whatever the model keeps for the life of a page goes through these.
 */
export function detach(value: string): string {
  // A JSON round trip yields a fresh, flat string for any value (lone surrogates included).
  return value.length === 0 ? "" : (JSON.parse(JSON.stringify(value)) as string);
}

/** Shares one detached copy per distinct value (projects, paths, addresses); bounded against floods. */
export class Interner {
  readonly #values = new Map<string, string>();

  constructor(private readonly maxEntries = 10_000) {}

  intern(value: string): string {
    let canonical = this.#values.get(value);
    if (canonical === undefined) {
      // Crude but bounded: when full, start over (the working set refills at once).
      if (this.#values.size >= this.maxEntries) this.#values.clear();
      canonical = detach(value);
      this.#values.set(canonical, canonical);
    }
    return canonical;
  }
}
