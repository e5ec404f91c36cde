// The helpers that decide whether a suite runs, skips or fails.
import { describe, expect, it } from "vitest";
import { ciFlag, suiteTitle } from "./support/tools";

describe("ciFlag", () => {
  it.each(["true", "TRUE", "True", "1", "yes", "YES", " true "])("CI=%j is CI", (value) => expect(ciFlag(value)).toBe(true));
  it.each([undefined, "", "false", "0", "no", "off", "truthy"])("CI=%j is not", (value) => expect(ciFlag(value)).toBe(false));
});

describe("suiteTitle", () => {
  it("names the reason a suite is skipped in its title", () => {
    expect(suiteTitle("s", { available: false, reason: "wasmtime not found (hint)", paths: {} })).toBe("s [SKIPPED: wasmtime not found (hint)]");
    expect(suiteTitle("s", { available: true, reason: "", paths: {} })).toBe("s");
  });
});
