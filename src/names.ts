// The naming rules both roles share: what a name is, and how it is greeted.
import { LETTERS_AND_DIGITS, MARKS } from "./unicode-tables";

export const MAX_NAME_LENGTH = 64;

const PUNCTUATION = new Set([" ", "'", ".", "-"]);

/** Binary search in a flattened, sorted list of inclusive ranges. */
function inRanges(codePoint: number, ranges: readonly number[]): boolean {
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

// StarlingMonkey has no /\p{...}/u, hence the generated tables (see scripts/gen-unicode-tables.ts).
export const isLetterOrDigit = (char: string) => inRanges(char.codePointAt(0)!, LETTERS_AND_DIGITS);

/** Letters, marks, decimal digits, space, apostrophe, hyphen, period. */
export const isNameChar = (char: string) =>
  PUNCTUATION.has(char) || isLetterOrDigit(char) || inRanges(char.codePointAt(0)!, MARKS);

export type NameResult = { ok: true; name: string } | { ok: false; reason: string };

/**
 * Validates one already percent-decoded name. The reason quotes the input
 * (shortened and escaped) so a caller can see which item was refused.
 */
export function parseName(decoded: string): NameResult {
  const name = decoded.trim();
  const chars = [...name];
  const length = chars.length;
  if (length === 0) return { ok: false, reason: `empty name ${quote(decoded)}` };
  if (length > MAX_NAME_LENGTH) {
    return { ok: false, reason: `name ${quote(name)} is ${length} characters long; the limit is ${MAX_NAME_LENGTH}` };
  }
  if (!chars.every(isNameChar)) {
    return {
      ok: false,
      reason: `name ${quote(name)} may only hold letters, digits, spaces, apostrophes, hyphens and periods`,
    };
  }
  if (!chars.some(isLetterOrDigit)) {
    return { ok: false, reason: `name ${quote(name)} needs at least one letter or digit` };
  }
  return { ok: true, name };
}

export type NameListResult = { ok: true; names: string[] } | { ok: false; reason: string };

/** A comma-separated list of names (already percent-decoded), 1 to `max` items. */
export function parseNameList(decoded: string, max: number): NameListResult {
  const items = decoded.split(",");
  if (items.length > max) {
    return { ok: false, reason: `${items.length} names given; at most ${max} are allowed` };
  }
  const names: string[] = [];
  for (const [index, item] of items.entries()) {
    if (item.trim() === "") return { ok: false, reason: `name #${index + 1} of the list is empty` };
    const parsed = parseName(item);
    if (!parsed.ok) return parsed;
    names.push(parsed.name);
  }
  return { ok: true, names };
}

export function greetingFor(name: string): string {
  return name.startsWith("S") || name.startsWith("s") ? `Hello ${name}!` : `Greetings ${name}!`;
}

/** JSON-quoted and cut to a readable length: safe to echo into any error body. */
export function quote(input: string, limit = 80): string {
  const chars = [...input];
  return JSON.stringify(chars.length > limit ? `${chars.slice(0, limit).join("")}…` : input);
}
