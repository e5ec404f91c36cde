import { describe, expect, it } from "vitest";
import { greetingFor, MAX_NAME_LENGTH, parseName, parseNameList } from "../src/names";

describe("greetingFor", () => {
  it.each([
    ["Sherlock", "Hello Sherlock!"],
    ["sam", "Hello sam!"],
    ["Po", "Greetings Po!"],
    ["Émile", "Greetings Émile!"],
    ["Ṡam", "Greetings Ṡam!"], // only a plain S or s says Hello
  ])("%s -> %s", (name, greeting) => expect(greetingFor(name)).toBe(greeting));
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
    expect(tooLong).toMatchObject({ ok: false, reason: expect.stringContaining("65 characters long; the limit is 64") });
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
    if (!result.ok) expect(result.reason).toContain(reason);
  });

  it("quotes the offending input, escaped and shortened", () => {
    const result = parseName(`${"x".repeat(100)}/`);
    expect(result).toMatchObject({ ok: false, reason: expect.stringMatching(/^name "x{80}…" is 101 characters long/) });
    expect(parseName("a\nb")).toMatchObject({ reason: expect.stringContaining('"a\\nb"') });
  });
});

describe("parseNameList", () => {
  it("keeps request order", () =>
    expect(parseNameList("Sherlock,Po, Sam ", 16)).toEqual({ ok: true, names: ["Sherlock", "Po", "Sam"] }));

  it.each([
    ["Sherlock,,Po", "name #2 of the list is empty"],
    [",Po", "name #1 of the list is empty"],
    ["Po,", "name #2 of the list is empty"],
    ["Po,a/b", 'name "a/b" may only hold'],
  ])("refuses %j", (input, reason) => expect(parseNameList(input, 16)).toEqual({ ok: false, reason: expect.stringContaining(reason) }));

  it("enforces the maximum count", () => {
    expect(parseNameList(Array(16).fill("Po").join(","), 16).ok).toBe(true);
    expect(parseNameList(Array(17).fill("Po").join(","), 16)).toEqual({
      ok: false,
      reason: "17 names given; at most 16 are allowed",
    });
    expect(parseNameList(",".repeat(10_000), 16)).toMatchObject({ ok: false, reason: expect.stringContaining("10001 names") });
  });
});
