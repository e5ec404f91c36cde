// Lookups in the generated Unicode tables (src/unicode-tables.ts), which stand in
// for /\p{..}/u: StarlingMonkey has no Unicode property escapes.

/** Binary search in a flattened, sorted list of inclusive ranges. */
export function inRanges(codePoint: number, ranges: readonly number[]): boolean {
  let low = 0;
  let high = ranges.length / 2 - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (codePoint < ranges[2 * mid]!) high = mid - 1;
    else if (codePoint > ranges[2 * mid + 1]!) low = mid + 1;
    else return true;
  }
  return false;
}
