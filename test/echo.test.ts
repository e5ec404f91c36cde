// The one echo rule (README, "Every response"): at most 80 characters of any input,
// JSON-escaped, and every character of general category Cc, Cf, Co, Cs, Cn, Zl or
// Zp escaped. The oracle is that sentence, written with Node's own \p{..}; src/
// must say the same for any input, and code points of each category are drawn
// on purpose, since random strings seldom hit a control or a bidi mark.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { quote, safeText } from "../src/echo";
import { echoOracle, ESCAPED_CATEGORIES, HOSTILE_TEXTS } from "./support/echo-oracle";

/** Every code point of each category, from Node's ICU: a generator per category. */
const byCategory = Object.fromEntries(
  ESCAPED_CATEGORIES.map((category) => {
    const pattern = new RegExp(`^\\p{${category}}$`, "u");
    const points: number[] = [];
    for (let cp = 0; cp < 0x110000; cp++) if (pattern.test(String.fromCodePoint(cp))) points.push(cp);
    return [category, points];
  }),
) as Record<(typeof ESCAPED_CATEGORIES)[number], number[]>;

const codePointOf = (category: (typeof ESCAPED_CATEGORIES)[number]) =>
  fc.nat({ max: byCategory[category].length - 1 }).map((i) => String.fromCodePoint(byCategory[category][i]!));

const anyEscaped = fc.oneof(...ESCAPED_CATEGORIES.map(codePointOf));
/** Text with escaped characters mixed into ordinary and odd text, of any length around the limit. */
const hostileText = fc
  .array(fc.oneof(anyEscaped, fc.string({ unit: "grapheme", maxLength: 8 }), fc.string({ unit: "binary", maxLength: 8 }), fc.constantFrom(...HOSTILE_TEXTS)), {
    maxLength: 60,
  })
  .map((parts) => parts.join(""));

/** Any raw (unescaped) character the rule forbids in an answer. */
const RAW_FORBIDDEN = new RegExp(`[${ESCAPED_CATEGORIES.map((c) => `\\p{${c}}`).join("")}]`, "u");

describe("safeText / quote", () => {
  it.each(ESCAPED_CATEGORIES)("escapes every character of category %s (property)", (category) => {
    fc.assert(
      fc.property(codePointOf(category), fc.string({ maxLength: 5 }), (char, around) => {
        const input = `${around}${char}${around}`;
        const quoted = quote(input);
        expect(quoted).toBe(echoOracle(input));
        expect(RAW_FORBIDDEN.test(quoted), JSON.stringify(quoted)).toBe(false);
        expect(JSON.parse(quoted)).toBe(input);
      }),
      { numRuns: 300 },
    );
  });

  it("says exactly what the README's rule says, for any text (property)", () => {
    fc.assert(
      fc.property(hostileText, (input) => {
        const quoted = quote(input);
        expect(quoted).toBe(echoOracle(input));
        expect(quoted).toBe(`"${safeText(input)}"`);
        expect(RAW_FORBIDDEN.test(quoted)).toBe(false);
        // What a reader gets back is the input's first 80 characters, nothing else.
        const chars = [...input];
        expect(JSON.parse(quoted)).toBe(chars.length > 80 ? `${chars.slice(0, 80).join("")}…` : input);
      }),
      { numRuns: 1000 },
    );
  });

  it("keeps 80 characters, counting code points, not UTF-16 units", () => {
    expect(quote("x".repeat(80))).toBe(`"${"x".repeat(80)}"`);
    expect(quote("x".repeat(81))).toBe(`"${"x".repeat(80)}…"`);
    expect(quote("𠀀".repeat(81))).toBe(`"${"𠀀".repeat(80)}…"`);
    // An escaped character counts as one character of the input, however long its escape.
    expect(quote("\u0001".repeat(81))).toBe(`"${"\\u0001".repeat(80)}…"`);
  });

  it.each([
    ["RLO", "\u202eevil", '"\\u202eevil"'],
    ["LRI ... PDI", "\u2066a\u2069", '"\\u2066a\\u2069"'],
    ["ALM (U+061C, a bidi control a list of characters missed)", "a\u061cb", '"a\\u061cb"'],
    ["zero-width space and joiner", "a\u200bb\u200d", '"a\\u200bb\\u200d"'],
    ["BOM", "\ufeffx", '"\\ufeffx"'],
    ["ANSI escape", "\u001b[31mred\u001b[0m", '"\\u001b[31mred\\u001b[0m"'],
    ["C1 CSI", "\u009b2J", '"\\u009b2J"'],
    ["DEL", "\u007f", '"\\u007f"'],
    ["line and paragraph separators", "a\u2028b\u2029", '"a\\u2028b\\u2029"'],
    ["a lone surrogate", "\ud800x", '"\\ud800x"'],
    ["an astral tag character (Cf) as its two escapes", "\u{e0001}", '"\\udb40\\udc01"'],
    ["private use", "\ue000\u{f0000}", '"\\ue000\\udb80\\udc00"'],
    ["unassigned", "\u0378\u{10ffff}", '"\\u0378\\udbff\\udfff"'],
    ["quotes and backslashes, JSON's way", 'a"b\\c\n\t', '"a\\"b\\\\c\\n\\t"'],
    ["letters, marks and emoji, as they are", "Šam S\u030Cam 李 😀", '"Šam S\u030Cam 李 😀"'],
  ])("%s", (_what, input, expected) => {
    expect(quote(input)).toBe(expected);
    expect(quote(input)).toBe(echoOracle(input));
  });

  it("reads no further than it quotes: of a 10 MB input, 81 characters are looked at", () => {
    const huge = "\u202e".repeat(10_000_000);
    // Count the characters taken from the input's iterator (a clock would measure the machine too).
    const original = String.prototype[Symbol.iterator];
    let taken = 0;
    String.prototype[Symbol.iterator] = function (this: string) {
      const inner = original.call(this);
      return {
        next: () => {
          taken++;
          return inner.next();
        },
        [Symbol.iterator]() {
          return this;
        },
      } as StringIterator<string>;
    };
    let quoted: string;
    try {
      quoted = quote(huge);
    } finally {
      String.prototype[Symbol.iterator] = original;
    }
    expect(quoted).toBe(`"${"\\u202e".repeat(80)}…"`);
    expect(taken).toBeLessThanOrEqual(81);
  });
});
