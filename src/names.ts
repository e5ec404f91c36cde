// The naming rules both roles share: what a name is, and how it is greeted.
import { quote } from "./echo";
import { inRanges } from "./ranges";
import { LETTERS_AND_DIGITS, MARKS } from "./unicode-tables";

export const MAX_NAME_LENGTH = 64;
/** However a name spells its accents, it is never longer than this in code points. */
export const MAX_NAME_CODE_POINTS = 4 * MAX_NAME_LENGTH;

const PUNCTUATION = new Set([" ", "'", ".", "-"]);

// StarlingMonkey has no /\p{...}/u, hence the generated tables (see scripts/gen-unicode-tables.ts).
export const isLetterOrDigit = (char: string) => inRanges(char.codePointAt(0)!, LETTERS_AND_DIGITS);

/** Letters, marks, decimal digits, space, apostrophe, hyphen, period. */
export const isNameChar = (char: string) =>
  PUNCTUATION.has(char) || isLetterOrDigit(char) || inRanges(char.codePointAt(0)!, MARKS);

/** Hangul vowel and trailing jamo: they join the preceding syllable start, as a mark does. */
const isConjoiningJamo = (codePoint: number) =>
  (codePoint >= 0x1160 && codePoint <= 0x11ff) || (codePoint >= 0xd7b0 && codePoint <= 0xd7ff);

const isMark = (char: string) => inRanges(char.codePointAt(0)!, MARKS);

/**
 * A "character" as a reader counts it: a base with the marks (or Hangul jamo)
 * that join it. Counting these, not code points, makes the precomposed and the
 * decomposed spelling of a name (canonically equivalent: `Š` and `S` + U+030C)
 * equally long. StarlingMonkey has no String.prototype.normalize to make them equal.
 */
function countBaseCharacters(chars: readonly string[]): number {
  return chars.filter((char) => !isMark(char) && !isConjoiningJamo(char.codePointAt(0)!)).length;
}

export type NameResult = { ok: true; name: string } | { ok: false; error: string };

/**
 * Validates one percent-decoded name. The reason quotes the input (shortened
 * and escaped) so a caller can see which item was refused.
 */
export function parseName(decoded: string): NameResult {
  const name = decoded.trim();
  const chars = [...name];
  if (chars.length === 0) return { ok: false, error: `empty name ${quote(decoded)}` };
  const length = countBaseCharacters(chars);
  if (length > MAX_NAME_LENGTH) {
    return { ok: false, error: `name ${quote(name)} is ${length} characters long; the limit is ${MAX_NAME_LENGTH}` };
  }
  if (chars.length > MAX_NAME_CODE_POINTS) {
    return { ok: false, error: `name ${quote(name)} is ${chars.length} code points long; the limit is ${MAX_NAME_CODE_POINTS}` };
  }
  if (!chars.every(isNameChar)) {
    return {
      ok: false,
      error: `name ${quote(name)} may only hold letters, digits, spaces, apostrophes, hyphens and periods`,
    };
  }
  if (!chars.some(isLetterOrDigit)) {
    return { ok: false, error: `name ${quote(name)} needs at least one letter or digit` };
  }
  return { ok: true, name };
}

/** One path segment, percent-decoded as UTF-8; a broken encoding is a 400, not an exception. */
export function decodeSegment(raw: string): { ok: true; value: string } | { ok: false; error: string } {
  try {
    return { ok: true, value: decodeURIComponent(raw) };
  } catch {
    return { ok: false, error: `name ${quote(raw)} is not valid percent-encoded UTF-8` };
  }
}

/** A raw path segment holding one name: decoded, then validated. */
export function parseEncodedName(raw: string): NameResult {
  const decoded = decodeSegment(raw);
  return decoded.ok ? parseName(decoded.value) : decoded;
}

export type NameListResult = { ok: true; names: string[] } | { ok: false; error: string };

/**
 * A raw (still percent-encoded) comma-separated list of 1 to `max` names. It is
 * split on literal commas first and each item decoded after, so an encoded
 * comma (%2C) stays inside its item, where the name rules refuse it.
 */
export function parseNameList(raw: string, max: number): NameListResult {
  const items = raw.split(",");
  if (items.length > max) {
    return { ok: false, error: `${items.length} names given; at most ${max} are allowed` };
  }
  const names: string[] = [];
  for (const [index, item] of items.entries()) {
    const decoded = decodeSegment(item);
    if (!decoded.ok) return decoded;
    if (decoded.value.trim() === "") return { ok: false, error: `name #${index + 1} of the list is empty` };
    const parsed = parseName(decoded.value);
    if (!parsed.ok) return parsed;
    names.push(parsed.name);
  }
  return { ok: true, names };
}

/**
 * "Hello" for a name whose first character is a plain S or s: the letter alone,
 * not S with an accent, whichever way the accent is spelled (Š or S + U+030C).
 */
export function greetingFor(name: string): string {
  const [first, second] = [...name];
  const plainS = (first === "S" || first === "s") && (second === undefined || !isMark(second));
  return plainS ? `Hello ${name}!` : `Greetings ${name}!`;
}
