import { describe, expect, it } from "vitest";
import { greetingFor, parseEncodedName, parseName, parseNameList } from "../src/names";
import { echoOracle } from "./support/echo-oracle";

// The contract's numbers (README, "Names"), stated here rather than read from src/:
// a test that imports the limit it checks passes whatever the limit becomes.
const MAX_NAME_LENGTH = 64;
const MAX_NAME_CODE_POINTS = 256;

describe("greetingFor", () => {
  it.each([
    ["Sherlock", "Hello Sherlock!"],
    ["sam", "Hello sam!"],
    ["Po", "Greetings Po!"],
    ["Émile", "Greetings Émile!"],
    ["Ṡam", "Greetings Ṡam!"], // only a plain S or s says Hello
    ["S", "Hello S!"],
  ])("%s -> %s", (name, greeting) => expect(greetingFor(name)).toBe(greeting));

  it("greets canonically equivalent spellings alike (precomposed and decomposed accents)", () => {
    for (const [composed, decomposed] of [
      ["Šam", "S\u030Cam"],
      ["şule", "s\u0327ule"],
      ["Ṩo", "S\u0323\u0307o"],
    ] as const) {
      expect(composed.normalize("NFD")).toBe(decomposed.normalize("NFD"));
      expect(greetingFor(composed).split(" ")[0]).toBe("Greetings");
      expect(greetingFor(decomposed).split(" ")[0]).toBe("Greetings");
    }
  });
});

describe("parseName", () => {
  it.each(["Sherlock", "Po", "Mary Jane", "O'Brien", "Jean-Luc", "J. R. R.", "Zoë", "Ångström", "李小龍", "R2-D2", "नमस्ते"])(
    "accepts %j",
    (name) => expect(parseName(name)).toEqual({ ok: true, name }),
  );

  it("trims surrounding spaces", () => expect(parseName("  Po ")).toEqual({ ok: true, name: "Po" }));

  it("counts characters, not UTF-16 units", () => {
    expect(parseName("李".repeat(MAX_NAME_LENGTH)).ok).toBe(true);
    expect(parseName("𠀀".repeat(MAX_NAME_LENGTH)).ok).toBe(true);
    const tooLong = parseName("a".repeat(MAX_NAME_LENGTH + 1));
    expect(tooLong).toMatchObject({ ok: false, error: expect.stringContaining("65 characters long; the limit is 64") });
  });

  it.each([
    ["", "empty name"],
    ["   ", "empty name"],
    ["..", "needs at least one letter or digit"],
    ["'-.", "needs at least one letter or digit"],
    ["a/b", "may only hold"],
    ["a\u0000b", "may only hold"],
    ["a\r\nb", "may only hold"],
    ["Po😀", "may only hold"],
    ["\u200fPo", "may only hold"], // RTL mark
    ["\ud800", "may only hold"], // lone surrogate
    ["%E0%A4%A", "may only hold"],
    ["a@b", "may only hold"],
  ])("refuses %j with a reason", (input, reason) => {
    const result = parseName(input);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain(reason);
  });

  it("counts an accented letter once however it is spelled, and bounds the code points", () => {
    const composed = "Š".repeat(MAX_NAME_LENGTH);
    expect(parseName(composed).ok).toBe(true);
    expect(parseName(composed.normalize("NFD")).ok).toBe(true);
    expect(parseName(`${composed}a`.normalize("NFD"))).toMatchObject({ ok: false, error: expect.stringContaining("65 characters long") });
    expect(parseName("한".repeat(MAX_NAME_LENGTH).normalize("NFD")).ok).toBe(true);
    // A letter buried under marks is still bounded.
    expect(parseName(`a${"\u0301".repeat(MAX_NAME_CODE_POINTS)}`).ok).toBe(false);
  });

  it("bounds a name at 256 code points, however few characters they make, and says so", () => {
    // 64 characters, each a letter with three marks: exactly 256 code points.
    const atLimit = "a\u0301\u0302\u0303".repeat(MAX_NAME_LENGTH);
    expect([...atLimit]).toHaveLength(256);
    expect(parseName(atLimit)).toEqual({ ok: true, name: atLimit });
    // One more mark: still 64 characters, now 257 code points.
    const over = `${atLimit}\u0304`;
    expect(parseName(over)).toEqual({
      ok: false,
      error: `name "${"a\u0301\u0302\u0303".repeat(20)}…" is 257 code points long; the limit is 256`,
    });
    // Fewer characters, more marks: the code point limit is what refuses it.
    expect(parseName(`a${"\u0301".repeat(300)}`)).toEqual({
      ok: false,
      error: `name "a${"\u0301".repeat(79)}…" is 301 code points long; the limit is 256`,
    });
  });

  it("quotes the offending input, escaped and shortened", () => {
    const result = parseName(`${"x".repeat(100)}/`);
    expect(result).toMatchObject({ ok: false, error: expect.stringMatching(/^name "x{80}…" is 101 characters long/) });
    expect(parseName("a\nb")).toMatchObject({ error: expect.stringContaining('"a\\nb"') });
  });
});

describe("names in reasons", () => {
  it("are quoted by the README's one echo rule: U+061C, NUL, RLO and U+2028 alike", () => {
    for (const name of ["a\u061cb", "a\u0000b", "\u202eevil", "a\u2028b", "a\u{e0001}b"]) {
      const result = parseName(name);
      expect(result).toEqual({ ok: false, error: `name ${echoOracle(name)} may only hold letters, digits, spaces, apostrophes, hyphens and periods` });
    }
    expect(parseName("a\u061cb")).toMatchObject({ error: expect.stringMatching(/^name "a\\u061cb" /) });
  });
});

describe("parseEncodedName", () => {
  it("decodes percent-encoding once", () => {
    expect(parseEncodedName("%C3%89mile")).toEqual({ ok: true, name: "Émile" });
    expect(parseEncodedName("%2541")).toMatchObject({ ok: false, error: expect.stringContaining('"%41"') });
  });
  it.each(["%E0%A4%A", "%ED%A0%80", "%", "%zz"])("refuses the broken encoding %j with a reason", (raw) =>
    expect(parseEncodedName(raw)).toEqual({ ok: false, error: `name ${JSON.stringify(raw)} is not valid percent-encoded UTF-8` }),
  );
});

describe("parseNameList", () => {
  it("splits on literal commas before decoding: an encoded comma stays inside its name", () => {
    expect(parseNameList("a%2Cb", 16)).toMatchObject({ ok: false, error: expect.stringContaining('name "a,b" may only hold') });
    expect(parseNameList("Sherlock,%C3%89mile", 16)).toEqual({ ok: true, names: ["Sherlock", "Émile"] });
  });

  it("keeps request order", () =>
    expect(parseNameList("Sherlock,Po, Sam ", 16)).toEqual({ ok: true, names: ["Sherlock", "Po", "Sam"] }));

  it.each([
    ["Sherlock,,Po", "name #2 of the list is empty"],
    [",Po", "name #1 of the list is empty"],
    ["Po,", "name #2 of the list is empty"],
    ["Po,a/b", 'name "a/b" may only hold'],
  ])("refuses %j", (input, reason) => expect(parseNameList(input, 16)).toEqual({ ok: false, error: expect.stringContaining(reason) }));

  it("enforces the maximum count", () => {
    expect(parseNameList(Array(16).fill("Po").join(","), 16).ok).toBe(true);
    expect(parseNameList(Array(17).fill("Po").join(","), 16)).toEqual({
      ok: false,
      error: "17 names given; at most 16 are allowed",
    });
    expect(parseNameList(",".repeat(10_000), 16)).toMatchObject({ ok: false, error: expect.stringContaining("10001 names") });
  });
});
