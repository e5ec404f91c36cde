// The README's echo rule, written apart from src/ with Node's own \p{..}: "an error
// body quotes at most 80 characters of any input, JSON-escaped, and every character
// of general category Cc, Cf, Co, Cs, Cn, Zl or Zp escaped" (an astral one as its two
// UTF-16 escapes, as JSON writes them). Tests compare whole reasons against it.

export const ESCAPED_CATEGORIES = ["Cc", "Cf", "Co", "Cs", "Cn", "Zl", "Zp"] as const;

const ESCAPED = new RegExp(`[${ESCAPED_CATEGORIES.map((c) => `\\p{${c}}`).join("")}]`, "gu");

const escapeUnits = (char: string) =>
  Array.from({ length: char.length }, (_, i) => `\\u${char.charCodeAt(i).toString(16).padStart(4, "0")}`).join("");

/** The input as an answer quotes it: a JSON string literal. */
export function echoOracle(input: string): string {
  const chars = [...input];
  const cut = chars.length > 80 ? `${chars.slice(0, 80).join("")}…` : input;
  // JSON.stringify already escapes C0 and lone surrogates; the category rule adds the rest.
  return JSON.stringify(cut).replace(ESCAPED, escapeUnits);
}

/** The same, without the quotes: for echoes the README does not quote (a greeter's error text). */
export const echoOracleText = (input: string) => echoOracle(input).slice(1, -1);

/** What a hostile peer or client puts in text: reordering, invisible, terminal-steering. */
export const HOSTILE_TEXTS = [
  "\u202e", // RLO
  "\u2066", // LRI
  "\u2069", // PDI
  "\u061c", // ALM
  "\u200b", // zero-width space
  "\u200d", // zero-width joiner
  "\ufeff", // BOM
  "\u001b[2J\u001b[H", // ANSI: clear the screen
  "\u001b]0;pwned\u0007", // ANSI: set the terminal title
  "\u009b31m", // C1 CSI
  "\u2028",
  "\r\nX-Injected: 1",
  "\u0000",
];
