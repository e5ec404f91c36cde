// The behaviour contract (README "Behaviour contract"), driven through
// app.request() in process: the downstream is an injected fetch where the exact
// answer matters, and a local Node stand-in greeter where real network errors do.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigResult, parseConfig } from "../src/config";
import type { Fetch } from "../src/greeter-client";
import { echoOracleText } from "./support/echo-oracle";
import { routerFor } from "./support/router";
import { contractGreeting, HOSTILE_ERROR_TEXT, startTestGreeter, type TestGreeter } from "./support/greeters";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";

const JSON_ACCEPT = { accept: "application/json" };
/**
 * A deadline long enough that "one deadline + the busy machine's margin" stays below
 * "two deadlines": a bound at it fails when calls queue or names are asked in turn.
 */
const SLOW_DEADLINE_MS = 1_500;
/** Timers may fire a hair early (clock granularity); never a deadline's worth. */
const TIMER_SLACK_MS = 10;

function router(env: Record<string, string>, fetch: Fetch = globalThis.fetch) {
  return routerFor(parseConfig({ POD_NAME: "pod-1", ...env }), fetch);
}
const greeter = router({ ROLE: "greeter" });

/** A greeter by injected fetch: the contract's greeting, as JSON, naming the request id it got. */
const calls: string[] = [];
const greetingFetch: Fetch = async (url, init) => {
  calls.push(url);
  const name = decodeURIComponent(url.split("/").pop()!);
  const requestId = new Headers(init?.headers).get("x-request-id");
  return Response.json({ name, greeting: contractGreeting(name), servedBy: `g-${requestId}` });
};
const refused = () => Promise.reject(new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } }));
const never: Fetch = (_url, init) =>
  new Promise((_resolve, reject) => init?.signal?.addEventListener("abort", () => reject(new DOMException("aborted", "AbortError"))));

describe("both roles", () => {
  it.each(["greeter", "splitter"])("%s: /healthz and /readyz answer ok without calling downstream", async (role) => {
    const app = router({ ROLE: role }, () => Promise.reject(new Error("must not be called")));
    for (const path of ["/healthz", "/readyz"]) {
      const res = await app.request(path);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("ok");
    }
  });

  it.each([
    ["greeter", "GET /<name>", { route: "GET /<name>", label: "Name", example: "Sherlock", prefix: "/", list: false }],
    ["splitter", "GET /split/<name>,<name>,...", { route: "GET /split/<name>,<name>,…", label: "Names", example: "Sherlock,Po", prefix: "/split/", list: true }],
  ])("%s: GET / is the usage naming the role and its routes, in text and JSON (with how the page asks it)", async (role, route, page) => {
    const res = await router({ ROLE: role }).request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const text = await res.text();
    expect(text).toContain(`wasm-pods ${role} (pod-1)`);
    expect(text).toContain(route);
    const asJson = await router({ ROLE: role }).request("/", { headers: JSON_ACCEPT });
    expect(await asJson.json()).toEqual({ role, servedBy: "pod-1", routes: [expect.stringContaining(route)], page });
  });

  it.each(["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])("%s -> 405 with Allow, the reason, and the usual headers", async (method) => {
    const res = await greeter.request("/Sherlock", { method, headers: { "x-request-id": "m-1" } });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(res.headers.get("x-served-by")).toBe("pod-1");
    expect(res.headers.get("x-request-id")).toBe("m-1");
    expect(await res.text()).toBe(`method ${method} is not allowed; use GET, HEAD`);
    const asJson = await greeter.request("/Sherlock", { method, headers: JSON_ACCEPT });
    expect(await asJson.json()).toEqual({ error: `method ${method} is not allowed; use GET, HEAD`, status: 405 });
  });

  it("methods are case-sensitive: the method as sent (a host's `get`) is a 405, not a GET", async () => {
    const res = await greeter.request("/Sherlock", {}, { requestMethod: "get" });
    expect(res.status).toBe(405);
    expect(await res.text()).toBe("method get is not allowed; use GET, HEAD");
    expect((await greeter.request("/Sherlock", {}, { requestMethod: "GET" })).status).toBe(200);
  });

  it("every answer says it depends on Accept (Vary), so a cache never mixes text, JSON and the page", async () => {
    for (const path of ["/", "/Sherlock", "/a/b", "/healthz"]) expect((await greeter.request(path)).headers.get("vary"), path).toBe("Accept");
  });

  it("unknown routes -> 404 naming the path, in text and JSON", async () => {
    const res = await greeter.request("/a/b");
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('no route for "/a/b"; GET / lists the routes');
    expect((await router({ ROLE: "splitter" }).request("/Sherlock")).status).toBe(404);
    const asJson = await greeter.request("/a/b", { headers: JSON_ACCEPT });
    expect(await asJson.json()).toEqual({ error: 'no route for "/a/b"; GET / lists the routes', status: 404 });
  });

  it("X-Request-Id: echoed when it is 1-128 of [A-Za-z0-9_.:-], else the host's REQUEST_ID, else a fresh UUID", async () => {
    const id = async (headers: Record<string, string>, hostRequestId?: string) =>
      (await greeter.request("/Po", { headers }, { hostRequestId })).headers.get("x-request-id");
    expect(await id({ "x-request-id": "abc-123" })).toBe("abc-123");
    expect(await id({ "x-request-id": "a".repeat(128) })).toBe("a".repeat(128));
    expect(await id({ "x-request-id": "a".repeat(129) })).toMatch(/^[0-9a-f-]{36}$/);
    expect(await id({ "x-request-id": "a b<script>" })).toMatch(/^[0-9a-f-]{36}$/);
    expect(await id({}, "host-7")).toBe("host-7");
    expect(await id({ "x-request-id": "a".repeat(129) }, "host-8")).toBe("host-8");
    expect(await id({})).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a bad ROLE answers 500 on every route and method, /healthz included", async () => {
    for (const role of [undefined, "", "proxy"]) {
      const parsed: ConfigResult = parseConfig(role === undefined ? { POD_NAME: "p" } : { ROLE: role, POD_NAME: "p" });
      const app = routerFor(parsed, fetch);
      for (const [path, method] of [["/healthz", "GET"], ["/Po", "GET"], ["/", "POST"]] as const) {
        const res = await app.request(path, { method });
        expect(res.status).toBe(500);
        expect(res.headers.get("x-served-by")).toBe("p");
        expect(await res.text()).toBe(`ROLE must be "greeter" or "splitter", got "${role ?? ""}"`);
      }
    }
  });

  it("a malformed variable answers 500 naming it, in JSON too", async () => {
    const res = await router({ ROLE: "splitter", GREETER_TIMEOUT_MS: "abc" }).request("/split/Po", { headers: JSON_ACCEPT });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({
      error: 'GREETER_TIMEOUT_MS must be a whole number of milliseconds from 1 to 60000, got "abc"',
      status: 500,
    });
  });
});

describe("greeter", () => {
  it.each([
    ["/Sherlock", "Hello Sherlock!"],
    ["/sam", "Hello sam!"],
    ["/Po", "Greetings Po!"],
    ["/%C3%89mile", "Greetings Émile!"],
    ["/Mary%20Jane", "Greetings Mary Jane!"],
    ["/%20Sam%20", "Hello Sam!"],
    ["/S%CC%8Cam", "Greetings S\u030Cam!"],
    ["/%C5%A0am", "Greetings Šam!"],
  ])("GET %s -> %s", async (path, greeting) => {
    const res = await greeter.request(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe(greeting);
  });

  it("answers JSON when asked", async () => {
    const res = await greeter.request("/Sherlock", { headers: JSON_ACCEPT });
    expect(res.headers.get("content-type")).toMatch(/^application\/json/);
    expect(await res.json()).toEqual({ name: "Sherlock", greeting: "Hello Sherlock!", servedBy: "pod-1" });
  });

  it.each([
    ["/..%2F", 'name "../" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
    ["/a%2Fb", 'name "a/b" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
    ["/%00", 'name "\\u0000" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
    ["/Po%F0%9F%98%80", 'name "Po😀" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
    ["/%E0%A4%A", 'name "%E0%A4%A" is not valid percent-encoded UTF-8'],
    ["/...", 'name "..." needs at least one letter or digit'],
    [`/${"a".repeat(65)}`, `name "${"a".repeat(65)}" is 65 characters long; the limit is 64`],
  ])("GET %s -> 400: %s", async (path, reason) => {
    const res = await greeter.request(path);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(reason);
  });

  it("GET /split/... -> 404: two segments are no name, and the greeter never splits", async () => {
    for (const path of ["/split/Sherlock,Po", "/split/Po", "/split/"]) {
      const res = await greeter.request(path, { headers: { "x-request-id": "g-404" } });
      expect(res.status, path).toBe(404);
      expect(await res.text()).toBe(`no route for "${path}"; GET / lists the routes`);
      expect(res.headers.get("x-request-id")).toBe("g-404");
    }
  });

  it("errors are JSON when asked", async () => {
    const res = await greeter.request("/a%2Fb", { headers: JSON_ACCEPT });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: expect.stringContaining('name "a/b"'), status: 400 });
  });
});

describe("splitter, downstream by injected fetch", () => {
  const splitter = router({ ROLE: "splitter", GREETER_URL: "http://greeter.test:70" }, greetingFetch);

  it("joins the greetings in request order (the seed example)", async () => {
    const res = await splitter.request("/split/Sherlock,Po");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
  });

  it("encodes each name into exactly one path segment of GREETER_URL, its path prefix kept", async () => {
    calls.length = 0;
    await splitter.request("/split/Mary%20Jane,O'Brien,%C3%89mile");
    expect(calls).toEqual(["http://greeter.test:70/Mary%20Jane", "http://greeter.test:70/O'Brien", "http://greeter.test:70/%C3%89mile"]);
    calls.length = 0;
    await router({ ROLE: "splitter", GREETER_URL: "https://greeter.test/api/v1/" }, greetingFetch).request("/split/Po");
    expect(calls).toEqual(["https://greeter.test/api/v1/Po"]);
  });

  it("answers JSON with every part, forwarding the request id", async () => {
    const res = await splitter.request("/split/Sherlock,Po", { headers: { ...JSON_ACCEPT, "x-request-id": "r1" } });
    expect(await res.json()).toEqual({
      greeting: "Hello Sherlock! and Greetings Po!",
      parts: [
        { name: "Sherlock", greeting: "Hello Sherlock!", servedBy: "g-r1", ms: expect.any(Number) },
        { name: "Po", greeting: "Greetings Po!", servedBy: "g-r1", ms: expect.any(Number) },
      ],
      servedBy: "pod-1",
    });
  });

  it.each([
    ["/split/Sherlock,,Po", "name #2 of the list is empty"],
    ["/split/", "no names given: use /split/<name>,<name>,... (1 to 16 names)"],
    ["/split", "no names given: use /split/<name>,<name>,... (1 to 16 names)"],
    ["/split/a%2Fb", 'name "a/b" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
    ["/split/a%2Cb", 'name "a,b" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
    [`/split/${Array(17).fill("Po").join(",")}`, "17 names given; at most 16 are allowed"],
  ])("GET %s -> 400 (%s) without calling the greeter", async (path, reason) => {
    calls.length = 0;
    const res = await splitter.request(path);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe(reason);
    expect(calls).toEqual([]);
  });

  it("honours MAX_NAMES, up to its accepted limit of 256", async () => {
    expect(await (await router({ ROLE: "splitter", MAX_NAMES: "2" }, greetingFetch).request("/split/a,b,c")).text()).toBe(
      "3 names given; at most 2 are allowed",
    );
    const wide = router({ ROLE: "splitter", MAX_NAMES: "256" }, greetingFetch);
    const names = Array.from({ length: 256 }, (_, i) => `P${i}`);
    const res = await wide.request(`/split/${names.join(",")}`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(names.map((n) => `Greetings ${n}!`).join(" and "));
    expect(await (await wide.request(`/split/${[...names, "P"].join(",")}`)).text()).toBe("257 names given; at most 256 are allowed");
  });

  it("calls the greeter for every name at once", async () => {
    let inFlight = 0;
    let peak = 0;
    const slowFetch: Fetch = async (url, init) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return greetingFetch(url, init);
    };
    const res = await router({ ROLE: "splitter" }, slowFetch).request("/split/a,b,c,d,e,f,g,h");
    expect(res.status).toBe(200);
    expect(peak).toBe(8);
  });

  it("retries once when the connection fails, and only once", async () => {
    let attempts = 0;
    const flaky: Fetch = async (url, init) => (++attempts === 1 ? refused() : greetingFetch(url, init));
    expect(await (await router({ ROLE: "splitter" }, flaky).request("/split/Po")).text()).toBe("Greetings Po!");
    expect(attempts).toBe(2);

    attempts = 0;
    const down: Fetch = async () => {
      attempts++;
      return refused();
    };
    const res = await router({ ROLE: "splitter" }, down).request("/split/Po");
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('could not greet "Po": the greeter at http://name-greeter-pod-service:70 is unreachable (ECONNREFUSED)');
    expect(attempts).toBe(2);
  });

  it("the retry stays inside the same deadline: refused, then stalled -> 504 at GREETER_TIMEOUT_MS, not later", async () => {
    let attempts = 0;
    const refusedThenStalled: Fetch = (url, init) => (++attempts === 1 ? refused() : never(url, init));
    const started = performance.now();
    const res = await router({ ROLE: "splitter", GREETER_TIMEOUT_MS: String(SLOW_DEADLINE_MS) }, refusedThenStalled).request("/split/Po");
    const elapsed = performance.now() - started;
    expect(res.status).toBe(504);
    expect(attempts).toBe(2);
    expect(elapsed).toBeGreaterThanOrEqual(SLOW_DEADLINE_MS - TIMER_SLACK_MS);
    // One deadline for both tries: a second one would end at twice the deadline, past this bound.
    expect(elapsed).toBeLessThan(SLOW_DEADLINE_MS + BUSY_MACHINE_MARGIN_MS);
  });

  it("never answers a partial 200: one failing part fails the whole request, naming it", async () => {
    const halfBroken: Fetch = async (url, init) => (url.endsWith("/Po") ? new Response("nope", { status: 503 }) : greetingFetch(url, init));
    const res = await router({ ROLE: "splitter" }, halfBroken).request("/split/Sherlock,Po");
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('could not greet "Po": the greeter answered 503: nope');
  });

  it("a timeout mixed with another failure is a 502 naming both, with the usual headers", async () => {
    const mixed: Fetch = (url, init) => (url.endsWith("/Po") ? never(url, init) : Promise.resolve(new Response("down", { status: 503 })));
    const res = await router({ ROLE: "splitter", GREETER_TIMEOUT_MS: "100" }, mixed).request("/split/Sam,Po", {
      headers: { "x-request-id": "mix-1" },
    });
    expect(res.status).toBe(502);
    expect(res.headers.get("x-served-by")).toBe("pod-1");
    expect(res.headers.get("x-request-id")).toBe("mix-1");
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(await res.text()).toBe(
      'could not greet "Sam": the greeter answered 503: down; could not greet "Po": the greeter did not answer within 100 ms',
    );
  });

  it("only timeouts -> 504, with the usual headers and JSON when asked", async () => {
    const started = performance.now();
    const res = await router({ ROLE: "splitter", GREETER_TIMEOUT_MS: "100" }, never).request("/split/Po", {
      headers: { ...JSON_ACCEPT, "x-request-id": "t-1" },
    });
    // Not before the deadline: an early timeout is as wrong as a late one.
    expect(performance.now() - started).toBeGreaterThanOrEqual(100 - TIMER_SLACK_MS);
    expect(res.status).toBe(504);
    expect(res.headers.get("x-served-by")).toBe("pod-1");
    expect(res.headers.get("x-request-id")).toBe("t-1");
    expect(await res.json()).toEqual({ error: 'could not greet "Po": the greeter did not answer within 100 ms', status: 504 });
  });

  /** A greeter by injected fetch whose every call takes `startMs` of this thread to start (a host starved of CPU) and never answers. */
  const slowToStart = (startMs: number, signals: AbortSignal[]): Fetch => (_url, init) => {
    const until = performance.now() + startMs;
    while (performance.now() < until);
    signals.push(init!.signal!);
    return never(_url, init);
  };

  it("one deadline for the whole split: calls started late get what is left of it, and the 504 comes at the deadline, not later", async () => {
    // Four starts of 400 ms each: with a deadline per call the last would end at 1200 + 2000 ms.
    const signals: AbortSignal[] = [];
    const started = performance.now();
    const res = await router({ ROLE: "splitter", GREETER_TIMEOUT_MS: "2000" }, slowToStart(400, signals)).request("/split/A1,A2,A3,A4");
    const elapsed = performance.now() - started;
    expect(res.status).toBe(504);
    expect(signals).toHaveLength(4);
    expect(elapsed).toBeGreaterThanOrEqual(2_000 - TIMER_SLACK_MS);
    expect(elapsed).toBeLessThan(2_000 + BUSY_MACHINE_MARGIN_MS);
  });

  it("a split that cannot start its calls before its deadline is refused: 503, Retry-After, the calls it started ended", async () => {
    // Each start takes 150 ms: the 600 ms deadline passes after at most four of the sixteen.
    const signals: AbortSignal[] = [];
    const started = performance.now();
    const names = Array.from({ length: 16 }, (_, i) => `N${i}`).join(",");
    const res = await router({ ROLE: "splitter", GREETER_TIMEOUT_MS: "600" }, slowToStart(150, signals)).request(`/split/${names}`, { headers: JSON_ACCEPT });
    const elapsed = performance.now() - started;
    expect(res.status).toBe(503);
    expect(res.headers.get("retry-after")).toBe("1");
    expect(res.headers.get("x-served-by")).toBe("pod-1");
    expect(await res.json()).toEqual({
      error: `the splitter is overloaded: it started ${signals.length} of 16 greeter calls before its deadline (GREETER_TIMEOUT_MS, 600 ms) passed; retry later`,
      status: 503,
    });
    expect(signals.length).toBeGreaterThanOrEqual(1);
    expect(signals.length).toBeLessThanOrEqual(4);
    expect(signals.every((signal) => signal.aborted)).toBe(true);
    // Not before the deadline (the calls might still have started), not much after it.
    expect(elapsed).toBeGreaterThanOrEqual(600);
    expect(elapsed).toBeLessThan(600 + 150 + BUSY_MACHINE_MARGIN_MS);
  });

  it("accepts the configuration limits: https, GREETER_TIMEOUT_MS=60000, MAX_NAMES=256", async () => {
    const app = router({ ROLE: "splitter", GREETER_URL: "https://greeter.test", GREETER_TIMEOUT_MS: "60000", MAX_NAMES: "256" }, greetingFetch);
    expect(await (await app.request("/split/Po")).text()).toBe("Greetings Po!");
    expect((await router({ ROLE: "splitter", GREETER_TIMEOUT_MS: "60001" }).request("/split/Po")).status).toBe(500);
    expect((await router({ ROLE: "splitter", MAX_NAMES: "257" }).request("/split/Po")).status).toBe(500);
  });
});

describe("splitter against local stand-in greeters (Node servers, real sockets)", () => {
  const greeters: Partial<Record<"json" | "stall", TestGreeter>> = {};
  beforeAll(async () => {
    greeters.json = await startTestGreeter("json");
    greeters.stall = await startTestGreeter("stall");
  });
  afterAll(() => Promise.all(Object.values(greeters).map((g) => g.close())));

  it("asks for JSON (plain text second), no compression, and forwards X-Request-Id", async () => {
    const app = router({ ROLE: "splitter", GREETER_URL: greeters.json!.url });
    const res = await app.request("/split/Sherlock,Po", { headers: { "x-request-id": "req-42" } });
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
    const seen = greeters.json!.requests.filter((r) => r.requestId === "req-42");
    expect(seen.map((r) => [r.url, r.accept, r.acceptEncoding]).sort()).toEqual([
      ["/Po", "application/json, text/plain;q=0.9", "identity"],
      ["/Sherlock", "application/json, text/plain;q=0.9", "identity"],
    ]);
  });

  it("a refused connection -> 502 naming the name and why (not a 504: nothing waited for the deadline)", async () => {
    // A port that was just listening and is closed now refuses.
    const gone = await startTestGreeter("json");
    await gone.close();
    const app = router({ ROLE: "splitter", GREETER_URL: gone.url, GREETER_TIMEOUT_MS: "10000" });
    const res = await app.request("/split/Sherlock,Po", { headers: JSON_ACCEPT });
    expect(res.status).toBe(502);
    const { error } = (await res.json()) as { error: string };
    expect(error).toContain(`could not greet "Sherlock": the greeter at ${gone.url} is unreachable (ECONNREFUSED)`);
    expect(error).toContain('could not greet "Po"');
  });

  it("a stalled greeter -> 504 once GREETER_TIMEOUT_MS has passed, both names in one deadline", async () => {
    const app = router({ ROLE: "splitter", GREETER_URL: greeters.stall!.url, GREETER_TIMEOUT_MS: String(SLOW_DEADLINE_MS) });
    const started = performance.now();
    const res = await app.request("/split/Sherlock,Po");
    const elapsed = performance.now() - started;
    expect(res.status).toBe(504);
    expect(elapsed).toBeGreaterThanOrEqual(SLOW_DEADLINE_MS - TIMER_SLACK_MS);
    // Names asked one after the other would take two deadlines, past this bound.
    expect(elapsed).toBeLessThan(SLOW_DEADLINE_MS + BUSY_MACHINE_MARGIN_MS);
    expect(await res.text()).toBe(
      `could not greet "Sherlock": the greeter did not answer within ${SLOW_DEADLINE_MS} ms; could not greet "Po": the greeter did not answer within ${SLOW_DEADLINE_MS} ms`,
    );
  });
});

describe("a peer's answer is bounded and escaped before it reaches ours", () => {
  it("a 70 KB X-Served-By is not copied: 256 parts name `unknown`, and the answer stays small", async () => {
    const huge: Fetch = async (url) =>
      new Response(contractGreeting(decodeURIComponent(url.split("/").pop()!)), { headers: { "content-type": "text/plain", "x-served-by": "a".repeat(70_000) } });
    const names = Array.from({ length: 256 }, (_, i) => `P${i}`);
    const res = await router({ ROLE: "splitter", MAX_NAMES: "256" }, huge).request(`/split/${names.join(",")}`, { headers: JSON_ACCEPT });
    expect(res.status).toBe(200);
    const text = await res.text();
    const body = JSON.parse(text) as { parts: { servedBy: string }[] };
    expect(new Set(body.parts.map((p) => p.servedBy))).toEqual(new Set(["unknown"]));
    // 256 greetings and their names: a few tens of kilobytes, not 256 copies of a header.
    expect(Buffer.byteLength(text)).toBeLessThan(64 * 1024);
  });

  it("a hostile error body reaches the 502 only by the echo rule", async () => {
    const hostile: Fetch = async () => new Response(HOSTILE_ERROR_TEXT, { status: 500 });
    const res = await router({ ROLE: "splitter" }, hostile).request("/split/Po");
    expect(res.status).toBe(502);
    expect(await res.text()).toBe(`could not greet "Po": the greeter answered 500: ${echoOracleText(HOSTILE_ERROR_TEXT)}`);
  });
});

describe("splitter and redirects (Node stand-ins, real sockets)", () => {
  it.each(["redirect-301", "redirect-302", "redirect-307"] as const)("a greeter answering %s -> 502; the redirect is never followed", async (behaviour) => {
    const target = await startTestGreeter("json");
    const mover = await startTestGreeter(behaviour, undefined, { location: target.url });
    try {
      const res = await router({ ROLE: "splitter", GREETER_URL: mover.url }).request("/split/Po");
      expect(res.status).toBe(502);
      expect(await res.text()).toBe(`could not greet "Po": the greeter answered ${behaviour.slice(-3)}: moved`);
      expect(mover.requests.map((r) => r.url)).toEqual(["/Po"]);
      expect(target.requests).toEqual([]);
    } finally {
      await Promise.all([target.close(), mover.close()]);
    }
  });
});
