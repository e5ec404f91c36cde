// The one rule for putting anything we were sent (a name, a Host, a greeter's
// body or header, an environment value) into an answer: a reader sees exactly
// what came in, and nothing in it can hide text, reorder it, break a line or
// steer a terminal. The rule is stated by Unicode general category, not by a
// list of characters: a list always misses one (U+061C, say).
import { inRanges } from "./ranges";
import { ESCAPED_IN_ECHOES } from "./unicode-tables";

/** How much of any input an answer quotes: enough to recognise it, too little to flood an answer or a log. */
export const ECHO_LIMIT = 80;

/** JSON's own short escapes; everything else JSON or the category rule escapes is \uXXXX. */
const SHORT_ESCAPES: Readonly<Record<string, string>> = {
  '"': '\\"',
  "\\": "\\\\",
  "\b": "\\b",
  "\f": "\\f",
  "\n": "\\n",
  "\r": "\\r",
  "\t": "\\t",
};

/** Whether the echo rule escapes this code point (general category Cc, Cf, Co, Cs, Cn, Zl or Zp). */
export function isEscapedInEchoes(codePoint: number): boolean {
  return inRanges(codePoint, ESCAPED_IN_ECHOES);
}

const hex4 = (unit: number) => `\\u${unit.toString(16).padStart(4, "0")}`;

/**
 * The first ECHO_LIMIT code points of `input` (then "…" if there were more), as the
 * inside of a JSON string, with every character of general category Cc, Cf, Co, Cs,
 * Cn, Zl or Zp escaped as \uXXXX (an astral one as its two UTF-16 escapes), so
 * `JSON.parse('"' + safeText(s) + '"')` gives back the shortened input.
 */
export function safeText(input: string): string {
  let out = "";
  let count = 0;
  // Code point by code point, stopping past the limit: a 64 KiB body costs 81 steps.
  for (const char of input) {
    if (count === ECHO_LIMIT) return `${out}…`;
    count++;
    const short = SHORT_ESCAPES[char];
    if (short !== undefined) out += short;
    else if (isEscapedInEchoes(char.codePointAt(0)!)) {
      for (let i = 0; i < char.length; i++) out += hex4(char.charCodeAt(i));
    } else out += char;
  }
  return out;
}

/** `safeText` in double quotes: a JSON string literal, for echoes that sit inside a sentence. */
export function quote(input: string): string {
  return `"${safeText(input)}"`;
}
