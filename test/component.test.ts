// The real dist/wasm-pods.wasm, served over HTTP on 127.0.0.1 by jco's runtime
// (scripts/pod.ts), both with one instance reused for every request (as
// `jco serve` does) and with a fresh instance per request (as `wasmtime serve`
// and the k3s shim do).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningPod, stopPod, waitHealthy } from "../scripts/lib/pods";
import { ensureTranspiled } from "../scripts/lib/transpile";
import { podFleet } from "./support/pod-fleet";
import { startStubGreeter, type StubGreeter } from "./support/stub-greeter";

const TIMEOUT_MS = 400;

describe.each([
  { mode: "one instance for all requests", isolate: false },
  { mode: "a fresh instance per request", isolate: true },
])("component, $mode", ({ isolate }) => {
  const { start, stopAll } = podFleet({ isolate });
  let greeter: RunningPod;
  let splitter: RunningPod;
  let stalledSplitter: RunningPod;
  let misconfigured: RunningPod;
  let stalling: StubGreeter;

  beforeAll(async () => {
    ensureTranspiled();
    stalling = await startStubGreeter("stall");
    greeter = await start("greeter-1", { ROLE: "greeter" });
    splitter = await start("splitter-1", { ROLE: "splitter", GREETER_URL: greeter.url, GREETER_TIMEOUT_MS: "2000" });
    stalledSplitter = await start("splitter-2", {
      ROLE: "splitter",
      GREETER_URL: stalling.url,
      GREETER_TIMEOUT_MS: String(TIMEOUT_MS),
    });
    misconfigured = await start("bogus-1", { ROLE: "bogus" });
    // A misconfigured pod answers 500 on /healthz by design, so wait for the others only.
    await Promise.all([greeter, splitter, stalledSplitter].map((pod) => waitHealthy(pod, 20_000)));
  });

  afterAll(async () => {
    await stopAll();
    await stalling?.close();
  });

  it("greeter: GET /Sherlock and /Po", async () => {
    const hello = await fetch(`${greeter.url}/Sherlock`);
    expect(hello.status).toBe(200);
    expect(hello.headers.get("x-served-by")).toBe("greeter-1");
    expect(await hello.text()).toBe("Hello Sherlock!");
    expect(await (await fetch(`${greeter.url}/Po`)).text()).toBe("Greetings Po!");
  });

  it("splitter -> greeter: the seed example end to end, many times over", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${splitter.url}/split/Sherlock,Po`);
      expect(res.status).toBe(200);
      expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
    }
  });

  it("splitter JSON names the greeter pod behind every part and forwards the request id", async () => {
    const res = await fetch(`${splitter.url}/split/Sherlock,Po,%C3%89mile`, {
      headers: { accept: "application/json", "x-request-id": "trace-1" },
    });
    expect(res.headers.get("x-request-id")).toBe("trace-1");
    const body = (await res.json()) as { parts: { servedBy: string; ms: number }[]; servedBy: string };
    expect(body).toMatchObject({ greeting: "Hello Sherlock! and Greetings Po! and Greetings Émile!", servedBy: "splitter-1" });
    expect(body.parts.map((p) => p.servedBy)).toEqual(["greeter-1", "greeter-1", "greeter-1"]);
  });

  it("HEAD answers without a body, and the pod keeps serving", async () => {
    const head = await fetch(`${greeter.url}/Sherlock`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect(await (await fetch(`${greeter.url}/Sam`)).text()).toBe("Hello Sam!");
  });

  it("other methods -> 405 with Allow", async () => {
    const res = await fetch(`${greeter.url}/Sherlock`, { method: "POST", body: "x" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET, HEAD");
  });

  it("bad input -> 400 with a reason", async () => {
    const res = await fetch(`${splitter.url}/split/Sherlock,a%2Fb`);
    expect(res.status).toBe(400);
    expect(await res.text()).toBe('name "a/b" may only hold letters, digits, spaces, apostrophes, hyphens and periods');
  });

  it("a bad ROLE -> 500 on every route, /healthz included", async () => {
    for (const path of ["/healthz", "/Sherlock"]) {
      const res = await fetch(`${misconfigured.url}${path}`);
      expect(res.status).toBe(500);
      expect(await res.text()).toBe('ROLE must be "greeter" or "splitter", got "bogus"');
    }
  });

  it("a stalling greeter -> 504 within the timeout plus 250 ms", async () => {
    const started = Date.now();
    const res = await fetch(`${stalledSplitter.url}/split/Sherlock`);
    const elapsed = Date.now() - started;
    expect(res.status).toBe(504);
    expect(await res.text()).toBe(`could not greet "Sherlock": the greeter did not answer within ${TIMEOUT_MS} ms`);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + 250);
  });

  it("the greeter stopped -> 502 naming the name, quickly", async () => {
    await stopPod(greeter);
    const started = Date.now();
    const res = await fetch(`${splitter.url}/split/Sherlock,Po`);
    expect(Date.now() - started).toBeLessThan(1000);
    expect(res.status).toBe(502);
    expect(await res.text()).toContain('could not greet "Sherlock": the greeter at http://127.0.0.1:');
    expect((await fetch(`${splitter.url}/healthz`)).status).toBe(200);
  });
});
