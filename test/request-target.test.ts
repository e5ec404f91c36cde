// The route comes from the request target's path alone; Host only decorates the URL.
import { describe, expect, it } from "vitest";
import { requestUrl } from "../src/request-target";
import { echoOracle } from "./support/echo-oracle";

describe("requestUrl", () => {
  it.each([
    ["/Sherlock", "pod:8080", "http://pod:8080/Sherlock"],
    ["/split/a,b?x=1", "10.0.0.7", "http://10.0.0.7/split/a,b?x=1"],
    ["/Po", "[::1]:8080", "http://[::1]:8080/Po"],
    ["/Po", undefined, "http://localhost/Po"],
    ["/Po", "", "http://localhost/Po"],
    ["/a%2Fb", "h", "http://h/a%2Fb"],
    ["/a#b", "h", "http://h/a%23b"],
    ["//evil.example/x", "h", "http://h//evil.example/x"],
  ])("%s with Host %s -> %s", (target, host, url) => {
    expect(requestUrl(target, host, "http")).toEqual({ ok: true, url });
  });

  it("takes only the path of an absolute-form target, ignoring its authority and the Host", () => {
    expect(requestUrl("http://evil.example/Aang", "pod", "http")).toEqual({ ok: true, url: "http://localhost/Aang" });
    expect(requestUrl("http://evil.example", "pod", "http")).toEqual({ ok: true, url: "http://localhost/" });
    expect(requestUrl("HTTPS://evil.example:1/split/a?b", "pod", "http")).toEqual({ ok: true, url: "http://localhost/split/a?b" });
  });

  it.each(["[::1", "x/split/Evil#", "a b", "user@host", "host:port", "h:123456", "\u0000", "h\u202e\u061c", "\u001b[2J", `${"h".repeat(300)}/`])(
    "refuses the malformed Host %j, quoting it by the echo rule",
    (host) => {
      expect(requestUrl("/healthz", host, "http")).toEqual({ ok: false, error: `malformed Host header ${echoOracle(host)}` });
    },
  );

  it.each(["*", "Sherlock", "evil.example/x", `\u202e${"x".repeat(200)}`])("refuses the target %j that is not a path, quoting it by the echo rule", (target) => {
    expect(requestUrl(target, "pod", "http")).toEqual({ ok: false, error: `request target ${echoOracle(target)} is not a path; send /<path>` });
  });
});
