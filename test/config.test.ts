import { describe, expect, it } from "vitest";
import { DEFAULTS, parseConfig } from "../src/config";
import { echoOracle } from "./support/echo-oracle";

const NAME_RULE = "a pod or host name: 1 to 253 printable ASCII characters, no spaces";

describe("parseConfig", () => {
  it("applies the defaults", () => {
    expect(parseConfig({ ROLE: "splitter", HOSTNAME: "h1" })).toEqual({
      ok: true,
      config: { role: "splitter", instanceName: "h1", ...DEFAULTS },
    });
    expect(DEFAULTS).toEqual({ greeterUrl: "http://name-greeter-pod-service:70", greeterTimeoutMs: 2000, maxNames: 16 });
  });

  it("prefers POD_NAME to HOSTNAME for the instance name", () => {
    expect(parseConfig({ ROLE: "greeter", POD_NAME: "p", HOSTNAME: "h" })).toMatchObject({ config: { instanceName: "p" } });
    expect(parseConfig({ ROLE: "greeter" })).toMatchObject({ config: { instanceName: "unknown" } });
  });

  it("reads every variable", () => {
    const parsed = parseConfig({
      ROLE: "splitter",
      GREETER_URL: "http://127.0.0.1:9000/base/",
      GREETER_TIMEOUT_MS: "150",
      MAX_NAMES: "3",
    });
    expect(parsed).toMatchObject({
      config: { greeterUrl: "http://127.0.0.1:9000/base", greeterTimeoutMs: 150, maxNames: 3 },
    });
  });

  it.each([
    [{}, 'ROLE must be "greeter" or "splitter", got ""'],
    [{ ROLE: "Greeter" }, 'ROLE must be "greeter" or "splitter", got "Greeter"'],
    [{ ROLE: "greeter", GREETER_TIMEOUT_MS: "abc" }, 'GREETER_TIMEOUT_MS must be a whole number of milliseconds from 1 to 60000, got "abc"'],
    [{ ROLE: "greeter", GREETER_TIMEOUT_MS: "0" }, "GREETER_TIMEOUT_MS"],
    [{ ROLE: "greeter", GREETER_TIMEOUT_MS: "1.5" }, "GREETER_TIMEOUT_MS"],
    [{ ROLE: "splitter", MAX_NAMES: "-1" }, 'MAX_NAMES must be a whole number from 1 to 256, got "-1"'],
    [{ ROLE: "splitter", MAX_NAMES: "100000" }, "MAX_NAMES"],
    [{ ROLE: "splitter", GREETER_URL: "name-greeter-pod-service:70" }, "GREETER_URL must be an http:// or https:// URL"],
    [{ ROLE: "splitter", GREETER_URL: "ftp://x" }, "GREETER_URL"],
    [{ ROLE: "splitter", GREETER_URL: "http://x/?q=1" }, "GREETER_URL"],
  ])("refuses %j, naming the variable", (env, error) => {
    const parsed = parseConfig(env);
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toContain(error);
  });
});

describe("env values in errors", () => {
  it.each([
    ["ROLE", { ROLE: "\u001b[2Jgreeter\u202e" }, (v: string) => `ROLE must be "greeter" or "splitter", got ${echoOracle(v)}`],
    ["ROLE", { ROLE: `x${"\u061c".repeat(200)}` }, (v: string) => `ROLE must be "greeter" or "splitter", got ${echoOracle(v)}`],
    ["GREETER_URL", { ROLE: "splitter", GREETER_URL: "\u009b\u2028" }, (v: string) => `GREETER_URL must be an http:// or https:// URL, got ${echoOracle(v)}`],
    ["MAX_NAMES", { ROLE: "splitter", MAX_NAMES: "1\u200b" }, (v: string) => `MAX_NAMES must be a whole number from 1 to 256, got ${echoOracle(v)}`],
    [
      "GREETER_TIMEOUT_MS",
      { ROLE: "splitter", GREETER_TIMEOUT_MS: "9".repeat(100) },
      (v: string) => `GREETER_TIMEOUT_MS must be a whole number of milliseconds from 1 to 60000, got ${echoOracle(v)}`,
    ],
  ] as const)("a bad %s is echoed by the rule: 80 characters, controls and bidi escaped", (variable, env, error) => {
    const value = (env as Record<string, string>)[variable]!;
    expect(parseConfig(env)).toEqual({ ok: false, error: error(value), instanceName: "unknown" });
    expect(echoOracle(value)).not.toBe(JSON.stringify(value));
  });
});

describe("POD_NAME and HOSTNAME", () => {
  it.each([
    ["a control character", "pod\u0001"],
    ["an escape sequence", "\u001b[31mpod"],
    ["a bidi control", "pod\u202e"],
    ["a space inside", "my pod"],
    ["more than 253 characters", "p".repeat(254)],
    ["a character that is not ASCII", "pöd"],
  ])("a POD_NAME holding %s is a config error naming it, whatever HOSTNAME says", (_what, value) => {
    expect(parseConfig({ ROLE: "greeter", POD_NAME: value, HOSTNAME: "h" })).toEqual({
      ok: false,
      error: `POD_NAME must be ${NAME_RULE}, got ${echoOracle(value)}`,
      instanceName: "unknown",
    });
  });

  it("a bad HOSTNAME is an error only when it is the name used (no POD_NAME)", () => {
    expect(parseConfig({ ROLE: "greeter", HOSTNAME: "h\u0000" })).toEqual({
      ok: false,
      error: `HOSTNAME must be ${NAME_RULE}, got "h\\u0000"`,
      instanceName: "unknown",
    });
    expect(parseConfig({ ROLE: "greeter", POD_NAME: "p", HOSTNAME: "h\u0000" })).toMatchObject({ ok: true, config: { instanceName: "p" } });
  });

  it("accepts names up to 253 printable ASCII characters, trimmed", () => {
    expect(parseConfig({ ROLE: "greeter", POD_NAME: "p".repeat(253) })).toMatchObject({ ok: true, config: { instanceName: "p".repeat(253) } });
    expect(parseConfig({ ROLE: "greeter", POD_NAME: " name-greeter-pod-7f9c_x.y:1 " })).toMatchObject({
      config: { instanceName: "name-greeter-pod-7f9c_x.y:1" },
    });
  });
});
