/**
 * JSON text written straight into a Buffer, for the two places that write many small values: the
 * session list answers (query/json.ts) and the durable counters file (store/snapshot.ts). Numbers
 * and plain strings are written byte by byte, with no string made for them; anything unusual falls
 * back to `JSON.stringify`, so the text is always what `JSON.stringify` writes.
 */

/** Most bytes a number takes as JSON text (`-1.7976931348623157e+308`). */
export const MAX_NUMBER_BYTES = 24;

/** Whether `value` is written digit by digit: an integer from 0 to `Number.MAX_SAFE_INTEGER`. */
function isCount(value: number): boolean {
  return value >= 0 && value <= Number.MAX_SAFE_INTEGER && Math.floor(value) === value;
}

/** A number as JSON writes it (`null` for what JSON cannot hold). */
function numberText(value: number): string {
  return Number.isFinite(value) ? String(value) : "null";
}

/** Decimal digits of a non-negative integer below 2^31. */
function smallDigits(value: number): number {
  // Compared, not divided: at most four comparisons, no loop.
  if (value < 100_000) return value < 100 ? (value < 10 ? 1 : 2) : value < 1_000 ? 3 : value < 10_000 ? 4 : 5;
  return value < 10_000_000 ? (value < 1_000_000 ? 6 : 7) : value < 100_000_000 ? 8 : value < 1_000_000_000 ? 9 : 10;
}

/** Bytes of `value` as JSON text. */
export function numberBytes(value: number): number {
  if (!isCount(value)) return numberText(value).length;
  if (value <= 0x7fffffff) return smallDigits(value);
  const high = Math.floor(value / 1e9);
  return smallDigits(high) + 9;
}

/** Writes the digits of `value` (below 2^31) right-aligned in `length` bytes from `pos`, zero-padded. */
function writeSmall(out: Buffer, pos: number, length: number, value: number): void {
  let v = value | 0;
  for (let at = pos + length - 1; at >= pos; at--) {
    const quotient = (v / 10) | 0;
    out[at] = 48 + v - quotient * 10;
    v = quotient;
  }
}

/**
 * Writes `value` as JSON text in its `numberBytes(value)` bytes from `pos`; returns the position
 * after it. The caller makes sure they fit.
 */
export function writeNumber(out: Buffer, pos: number, value: number, length = numberBytes(value)): number {
  if (!isCount(value)) return pos + out.write(numberText(value), pos, "latin1");
  if (value <= 0x7fffffff) {
    writeSmall(out, pos, length, value);
    return pos + length;
  }
  // Up to 2^53: the digits above the last nine, then those nine, zero-padded.
  const high = Math.floor(value / 1e9);
  writeSmall(out, pos, length - 9, high);
  writeSmall(out, pos + length - 9, 9, value - high * 1e9);
  return pos + length;
}

/** Most bytes `value` takes as a JSON string (six per UTF-16 unit, `\u001f`, plus the quotes). */
export function maxStringBytes(value: string): number {
  return value.length * 6 + 2;
}

/**
 * Writes `value` as a JSON string (quoted, escaped as `JSON.stringify` does) from `pos`; returns
 * the position after it. Printable ASCII without quotes or backslashes (ids, as they nearly always
 * are) is copied byte by byte; anything else goes through `JSON.stringify`.
 */
export function writeString(out: Buffer, pos: number, value: string): number {
  const length = value.length;
  for (let i = 0; i < length; i++) {
    const code = value.charCodeAt(i);
    if (code < 0x20 || code > 0x7e || code === 0x22 || code === 0x5c) return pos + out.write(JSON.stringify(value), pos, "utf8");
  }
  out[pos++] = 0x22;
  for (let i = 0; i < length; i++) out[pos++] = value.charCodeAt(i);
  out[pos++] = 0x22;
  return pos;
}
