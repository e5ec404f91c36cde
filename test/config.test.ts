import { describe, expect, it } from "vitest";
import { DEFAULTS, parseConfig } from "../src/config";

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
