// The behaviour contract, driven through app.request() with the downstream
// stubbed: an injected fetch for shapes, a local server for real network errors.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ConfigResult, parseConfig } from "../src/config";
import type { Fetch } from "../src/greeter-client";
import { createRouter } from "../src/router";
import { freePort } from "../scripts/lib/pods";
import { startStubGreeter, type StubGreeter } from "./support/stub-greeter";

const JSON_ACCEPT = { accept: "application/json" };

function router(env: Record<string, string>, fetch: Fetch = globalThis.fetch) {
  return createRouter(parseConfig({ POD_NAME: "pod-1", ...env }), { fetch });
}
const greeter = router({ ROLE: "greeter" });

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
    ["greeter", "GET /<name>"],
    ["splitter", "GET /split/<name>,<name>,..."],
  ])("%s: GET / is plain-text usage naming the role and its routes", async (role, route) => {
    const res = await router({ ROLE: role }).request("/");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    const text = await res.text();
    expect(text).toContain(`wasm-pods ${role} (pod-1)`);
    expect(text).toContain(route);
  });

  it.each(["POST", "PUT", "DELETE", "PATCH", "OPTIONS"])("%s -> 405 with Allow: GET, HEAD", async (method) => {
    const res = await greeter.request("/Sherlock", { method });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
    expect(await res.text()).toBe(`method ${method} is not allowed; use GET, HEAD`);
  });

  it("HEAD answers the GET status and headers", async () => {
    const res = await greeter.request("/Sherlock", { method: "HEAD" });
    expect(res.status).toBe(200);
    expect(res.headers.get("x-served-by")).toBe("pod-1");
  });

  it("unknown routes -> 404", async () => {
    const res = await greeter.request("/a/b");
    expect(res.status).toBe(404);
    expect(await res.text()).toContain('no route for "/a/b"');
    expect((await router({ ROLE: "splitter" }).request("/Sherlock")).status).toBe(404);
  });

  it("every response carries X-Served-By and X-Request-Id", async () => {
    const given = await greeter.request("/Po", { headers: { "x-request-id": "abc-123" } });
    expect(given.headers.get("x-request-id")).toBe("abc-123");
    expect(given.headers.get("x-served-by")).toBe("pod-1");

    const fromHost = await greeter.request("/Po", {}, { hostRequestId: "host-7" });
    expect(fromHost.headers.get("x-request-id")).toBe("host-7");

    const generated = await greeter.request("/nope/nope");
    expect(generated.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);

    const unsafe = await greeter.request("/Po", { headers: { "x-request-id": "a b<script>" } });
    expect(unsafe.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/);
  });

  it("a bad ROLE answers 500 on every route, /healthz included", async () => {
    for (const role of [undefined, "", "proxy"]) {
      const parsed: ConfigResult = parseConfig(role === undefined ? { POD_NAME: "p" } : { ROLE: role, POD_NAME: "p" });
      const app = createRouter(parsed, { fetch });
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

  it.each(["/..%2F", "/a%2Fb", "/%00", "/Po%F0%9F%98%80", "/%E0%A4%A", "/...", `/${"a".repeat(65)}`])(
    "GET %s -> 400 with a reason naming the input",
    async (path) => {
      const res = await greeter.request(path);
      expect(res.status).toBe(400);
      expect(await res.text()).toMatch(/^name ".*"/);
    },
  );

  it("errors are JSON when asked", async () => {
    const res = await greeter.request("/a%2Fb", { headers: JSON_ACCEPT });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: expect.stringContaining('name "a/b"'), status: 400 });
  });
});

describe("splitter with a stubbed greeter", () => {
  const calls: string[] = [];
  const stubFetch: Fetch = async (url, init) => {
    calls.push(url);
    const name = decodeURIComponent(url.split("/").pop()!);
    const headers = new Headers(init?.headers);
    const greeting = name.startsWith("S") || name.startsWith("s") ? `Hello ${name}!` : `Greetings ${name}!`;
    return Response.json({ name, greeting, servedBy: `g-${headers.get("x-request-id")}` });
  };
  const splitter = router({ ROLE: "splitter", GREETER_URL: "http://greeter.test:70" }, stubFetch);

  it("joins the greetings in request order (the seed example)", async () => {
    const res = await splitter.request("/split/Sherlock,Po");
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
  });

  it("encodes each name into exactly one path segment of GREETER_URL", async () => {
    calls.length = 0;
    await splitter.request("/split/Mary%20Jane,O'Brien,%C3%89mile");
    expect(calls).toEqual([
      "http://greeter.test:70/Mary%20Jane",
      "http://greeter.test:70/O'Brien",
      "http://greeter.test:70/%C3%89mile",
    ]);
  });

  it("answers JSON with every part, forwarding the request id", async () => {
    const res = await splitter.request("/split/Sherlock,Po", { headers: { ...JSON_ACCEPT, "x-request-id": "r1" } });
    const body = await res.json();
    expect(body).toEqual({
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
    ["/split/", "no names given"],
    ["/split", "no names given"],
    ["/split/a%2Fb", 'name "a/b"'],
    [`/split/${Array(17).fill("Po").join(",")}`, "17 names given; at most 16 are allowed"],
  ])("GET %s -> 400 (%s) without calling the greeter", async (path, reason) => {
    calls.length = 0;
    const res = await splitter.request(path);
    expect(res.status).toBe(400);
    expect(await res.text()).toContain(reason);
    expect(calls).toEqual([]);
  });

  it("honours MAX_NAMES", async () => {
    const res = await router({ ROLE: "splitter", MAX_NAMES: "2" }, stubFetch).request("/split/a,b,c");
    expect(await res.text()).toBe("3 names given; at most 2 are allowed");
  });

  it("calls the greeter for every name concurrently", async () => {
    let inFlight = 0;
    let peak = 0;
    const slowFetch: Fetch = async (url, init) => {
      peak = Math.max(peak, ++inFlight);
      await new Promise((resolve) => setTimeout(resolve, 50));
      inFlight--;
      return stubFetch(url, init);
    };
    const started = Date.now();
    const res = await router({ ROLE: "splitter" }, slowFetch).request("/split/a,b,c,d,e,f,g,h");
    expect(res.status).toBe(200);
    expect(peak).toBe(8);
    expect(Date.now() - started).toBeLessThan(8 * 50);
  });

  it("retries once when the connection fails, and only once", async () => {
    let attempts = 0;
    const flaky: Fetch = async (url, init) => {
      if (++attempts === 1) throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
      return stubFetch(url, init);
    };
    expect(await (await router({ ROLE: "splitter" }, flaky).request("/split/Po")).text()).toBe("Greetings Po!");
    expect(attempts).toBe(2);

    attempts = 0;
    const down: Fetch = async () => {
      attempts++;
      throw new TypeError("fetch failed", { cause: { code: "ECONNREFUSED" } });
    };
    const res = await router({ ROLE: "splitter" }, down).request("/split/Po");
    expect(res.status).toBe(502);
    expect(attempts).toBe(2);
  });

  it("never answers a partial 200: one failing part fails the whole request", async () => {
    const halfBroken: Fetch = async (url, init) =>
      url.endsWith("/Po") ? new Response("nope", { status: 503 }) : stubFetch(url, init);
    const res = await router({ ROLE: "splitter" }, halfBroken).request("/split/Sherlock,Po");
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('could not greet "Po": the greeter answered 503: nope');
  });
});

describe("splitter against a real local greeter", () => {
  let stub: StubGreeter;
  beforeAll(async () => {
    stub = await startStubGreeter();
  });
  afterAll(() => stub.close());

  it("asks for JSON and forwards X-Request-Id", async () => {
    const app = router({ ROLE: "splitter", GREETER_URL: stub.url });
    const res = await app.request("/split/Sherlock,Po", { headers: { "x-request-id": "req-42" } });
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
    expect(stub.requests.map((r) => [r.url, r.requestId, r.accept])).toEqual(
      expect.arrayContaining([
        ["/Sherlock", "req-42", "application/json, text/plain;q=0.9"],
        ["/Po", "req-42", "application/json, text/plain;q=0.9"],
      ]),
    );
  });

  it("greeter unreachable -> 502 naming the name and the reason", async () => {
    const closedPort = await freePort();
    const app = router({ ROLE: "splitter", GREETER_URL: `http://127.0.0.1:${closedPort}` });
    const started = Date.now();
    const res = await app.request("/split/Sherlock,Po", { headers: JSON_ACCEPT });
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(502);
    const { error } = (await res.json()) as { error: string };
    expect(error).toContain(`could not greet "Sherlock": the greeter at http://127.0.0.1:${closedPort} is unreachable (ECONNREFUSED)`);
    expect(error).toContain('could not greet "Po"');
  });

  it("greeter answering non-2xx -> 502 with the greeter's own error", async () => {
    stub.behaviour = "fail-500";
    const res = await router({ ROLE: "splitter", GREETER_URL: stub.url }).request("/split/Po");
    stub.behaviour = "greet";
    expect(res.status).toBe(502);
    expect(await res.text()).toBe('could not greet "Po": the greeter answered 500: boom');
  });

  it("greeter answering something that is not a greeting -> 502", async () => {
    stub.behaviour = "not-json";
    const res = await router({ ROLE: "splitter", GREETER_URL: stub.url }).request("/split/Po");
    stub.behaviour = "greet";
    expect(res.status).toBe(502);
    expect(await res.text()).toContain("the greeter's answer is not a greeting");
  });

  it("greeter stalling -> 504 within the timeout plus a small margin", async () => {
    stub.behaviour = "stall";
    const app = router({ ROLE: "splitter", GREETER_URL: stub.url, GREETER_TIMEOUT_MS: "300" });
    const started = Date.now();
    const res = await app.request("/split/Sherlock,Po");
    const elapsed = Date.now() - started;
    stub.behaviour = "greet";
    expect(res.status).toBe(504);
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(300 + 250);
    expect(await res.text()).toBe(
      'could not greet "Sherlock": the greeter did not answer within 300 ms; could not greet "Po": the greeter did not answer within 300 ms',
    );
  });
});
