// The real dist/wasm-pods.wasm over HTTP on 127.0.0.1, on both engines: jco's
// runtime (host/pod.ts, what `npm start` runs by default) and wasmtime 27 (`wasmtime
// serve`, the engine of runwasi's containerd-shim-wasmtime, a fresh instance per
// request). The splitter reaches two greeter pods through a local ClusterIP, so on
// wasmtime its calls go through wasmtime's own wasi:http outgoing handler.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, startCluster } from "../host/cluster";
import { pollUntil } from "../lib/wait";
import { echoOracleText } from "./support/echo-oracle";
import { engineCases, PINNED_WASMTIME } from "./support/engines";
import { type Behaviour, contractGreeting, HOSTILE_ERROR_TEXT, startTestGreeter, type TestGreeter } from "./support/greeters";
import { rawRequest } from "./support/raw-http";
import { podFleet, type TestPod } from "./support/pods";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";

/**
 * The stalled greeter's deadline: long enough that "one deadline + the busy machine's
 * margin" stays below "two deadlines", so the bound fails if the names were asked in turn.
 */
const TIMEOUT_MS = 1_500;
/** Timers may fire a hair early (clock granularity); never a deadline's worth. */
const TIMER_SLACK_MS = 10;
const SEED_ANSWER = "Hello Sherlock! and Greetings Po!";
const BAD_POD_NAME = "pod\u0001x";

/** The contract's headers (README, "Every response"). */
function expectContractHeaders(head: Headers | string, servedBy: string, requestId: string | RegExp) {
  const get = (name: string) => (typeof head === "string" ? (new RegExp(`\r\n${name}: ([^\r]*)`, "i").exec(head)?.[1] ?? null) : head.get(name));
  expect(get("x-served-by")).toBe(servedBy);
  if (typeof requestId === "string") expect(get("x-request-id")).toBe(requestId);
  else expect(get("x-request-id")).toMatch(requestId);
  expect(get("vary")).toBe("Accept");
  expect(get("content-length")).not.toBeNull();
}

interface Answer {
  status: number;
  headers: Headers;
  text: string;
}

async function get(url: string, init: RequestInit = {}): Promise<Answer> {
  const res = await fetch(url, { ...init, signal: AbortSignal.timeout(10_000) });
  return { status: res.status, headers: res.headers, text: await res.text() };
}

const json = <T>(answer: Answer) => JSON.parse(answer.text) as T;

for (const engine of engineCases("test/component.test.ts", (version) => `the component on ${version}`))
describe.skipIf(!engine.runtime)(engine.title, () => {
  const runtime = engine.runtime!;
  let cluster: Cluster;
  const fleet = podFleet(runtime);
  const greeters: Record<string, TestGreeter> = {};
  /** A splitter pod pointed at each test greeter. */
  const splitterOf: Record<string, TestPod> = {};
  let misconfigured: TestPod;
  let badPodName: TestPod;
  let wide: TestPod;
  /** Where the redirecting greeters point: it must never be called. */
  let redirectTarget: TestGreeter;

  beforeAll(async () => {
    cluster = await startCluster({ runtime, splitterPort: 0, greeterPort: 0 });
    redirectTarget = await startTestGreeter("json", "redirect-target");
    const behaviours: Behaviour[] = ["json", "seed-text", "stall", "endless", "fail-500", "html", "gzip", "not-utf8", "redirect-301", "redirect-302", "redirect-307", "hostile-error", "huge-served-by", "json-64k", "json-64k-plus-1"];
    for (const behaviour of behaviours) {
      greeters[behaviour] = await startTestGreeter(behaviour, undefined, { location: redirectTarget.url });
      splitterOf[behaviour] = await fleet.start(`splitter-${behaviour}`, {
        ROLE: "splitter",
        GREETER_URL: greeters[behaviour].url,
        // Short only where the deadline is the point; elsewhere a loaded machine must not turn a 502 into a 504.
        GREETER_TIMEOUT_MS: String(behaviour === "stall" ? TIMEOUT_MS : 5_000),
      });
    }
    misconfigured = await fleet.start("bogus-1", { ROLE: "bogus" });
    badPodName = await fleet.start("bad-pod-name", { ROLE: "greeter", POD_NAME: BAD_POD_NAME });
    // A deadline far above 256 calls on a loaded machine: this row is about the answer's size.
    wide = await fleet.start("splitter-wide", { ROLE: "splitter", GREETER_URL: greeters.json!.url, MAX_NAMES: "256", GREETER_TIMEOUT_MS: "10000" });
  });

  afterAll(async () => {
    await Promise.all([cluster?.stop(), fleet.stopAll(), redirectTarget?.close(), ...Object.values(greeters).map((g) => g.close())]);
  });

  if (engine.name === "wasmtime") {
    it(`is wasmtime ${PINNED_WASMTIME}, the engine of the shim the README names`, () => {
      expect(runtime.version).toMatch(new RegExp(`^wasmtime ${PINNED_WASMTIME.replaceAll(".", "\\.")}(?: |$)`));
    });
  }

  it("the seed example through the NodePort: splitter -> ClusterIP -> two greeter pods", async () => {
    for (let i = 0; i < 4; i++) {
      const answer = await get(`${cluster.splitterUrl}/split/Sherlock,Po`);
      expect(answer.status).toBe(200);
      expect(answer.text).toBe(SEED_ANSWER);
    }
  });

  it("JSON names the greeter pod behind each part, and both replicas serve", async () => {
    const servedBy = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const answer = await get(`${cluster.splitterUrl}/split/Sherlock,Po,Sam`, { headers: { accept: "application/json" } });
      const body = json<{ greeting: string; parts: { name: string; servedBy: string; ms: number }[]; servedBy: string }>(answer);
      expect(body.greeting).toBe("Hello Sherlock! and Greetings Po! and Hello Sam!");
      expect(body.servedBy).toBe("name-splitter-pod-1");
      expect(body.parts.map((p) => p.name)).toEqual(["Sherlock", "Po", "Sam"]);
      for (const part of body.parts) servedBy.add(part.servedBy);
    }
    expect([...servedBy].sort()).toEqual(["name-greeter-pod-1", "name-greeter-pod-2"]);
  });

  it("forwards X-Request-Id to the greeter and answers with it", async () => {
    const answer = await get(`${splitterOf.json!.url}/split/Po`, { headers: { "x-request-id": "trace-7" } });
    expect(answer.headers.get("x-request-id")).toBe("trace-7");
    const call = greeters.json!.requests.find((r) => r.requestId === "trace-7");
    expect(call).toMatchObject({ url: "/Po", accept: "application/json, text/plain;q=0.9", acceptEncoding: "identity" });
  });

  it("without X-Request-Id, answers with a fresh request id per request (the host's REQUEST_ID under wasmtime)", async () => {
    const pod = cluster.pods[0]!;
    const ids: (string | null)[] = [];
    for (let i = 0; i < 2; i++) ids.push((await get(`${pod.url}/Po`)).headers.get("x-request-id"));
    // wasmtime sets REQUEST_ID per request (a counter, as the shim sets its own); jco sets none, so the guest makes a UUID.
    for (const id of ids) expect(id).toMatch(runtime.name === "wasmtime" ? /^\d+$/ : /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    expect(ids[0]).not.toBe(ids[1]);
  });

  it("HEAD answers GET's status, headers and length, with no body: on 200, 400 and 404 answers and the probes", async () => {
    for (const path of ["/Sherlock", "/a%2Fb", "/x/y", "/healthz", "/readyz"]) {
      const [getAnswer, head] = await Promise.all([get(`${cluster.greeterUrl}${path}`, { headers: { "x-request-id": "h" } }), get(`${cluster.greeterUrl}${path}`, { method: "HEAD", headers: { "x-request-id": "h" } })]);
      expect(head.status, path).toBe(getAnswer.status);
      expect(head.text, path).toBe("");
      for (const name of ["content-type", "content-length", "x-request-id"]) {
        expect(head.headers.get(name), `${path} ${name}`).toBe(getAnswer.headers.get(name));
      }
      expect(Number(head.headers.get("content-length")), path).toBe(Buffer.byteLength(getAnswer.text));
    }
  });

  it("HEAD answers GET's status and headers on the 500 and 502 paths, and is never the 405 other methods get", async () => {
    const rows: [string, string, number][] = [
      [misconfigured.url, "/healthz", 500],
      [splitterOf["fail-500"]!.url, "/split/Po", 502],
      [cluster.pods.find((pod) => pod.role === "greeter")!.url!, "/Sherlock", 200], // POST here is a 405; HEAD is GET's answer
    ];
    for (const [base, path, status] of rows) {
      const init = { headers: { "x-request-id": "h-5xx" } };
      const [getAnswer, head] = await Promise.all([get(`${base}${path}`, init), get(`${base}${path}`, { ...init, method: "HEAD" })]);
      expect([getAnswer.status, head.status], path).toEqual([status, status]);
      expect(head.text, path).toBe("");
      for (const name of ["content-type", "content-length", "x-request-id", "x-served-by", "vary"]) {
        expect(head.headers.get(name), `${path} ${name}`).toBe(getAnswer.headers.get(name));
      }
      expect(Number(head.headers.get("content-length")), path).toBe(Buffer.byteLength(getAnswer.text));
    }
  });

  it("the greeter answers /split/... with a 404: it never splits", async () => {
    const answer = await get(`${cluster.greeterUrl}/split/Sherlock,Po`);
    expect(answer.status).toBe(404);
    expect(answer.text).toBe('no route for "/split/Sherlock,Po"; GET / lists the routes');
  });

  it("a POD_NAME holding a control character -> 500 naming POD_NAME, with the contract's headers, in text and JSON", async () => {
    const reason = 'POD_NAME must be a pod or host name: 1 to 253 printable ASCII characters, no spaces, got "pod\\u0001x"';
    for (const path of ["/healthz", "/Sherlock"]) {
      const answer = await get(`${badPodName.url}${path}`, { headers: { "x-request-id": "pn-1" } });
      expect(answer.status, path).toBe(500);
      expect(answer.text).toBe(reason);
      expectContractHeaders(answer.headers, "unknown", "pn-1");
    }
    const asJson = await get(`${badPodName.url}/Sherlock`, { headers: { accept: "application/json" } });
    expect(json(asJson)).toEqual({ error: reason, status: 500 });
  });

  it("other methods -> 405 with Allow, and the reason", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const answer = await get(`${cluster.greeterUrl}/Sherlock`, { method, body: method === "DELETE" ? undefined : "x" });
      expect(answer.status).toBe(405);
      expect(answer.headers.get("allow")).toBe("GET, HEAD");
      expect(answer.text).toBe(`method ${method} is not allowed; use GET, HEAD`);
    }
  });

  it("a bad ROLE -> 500 naming it, on every route, /healthz included", async () => {
    for (const path of ["/healthz", "/readyz", "/", "/Sherlock", "/split/a"]) {
      const answer = await get(`${misconfigured.url}${path}`);
      expect(answer.status, path).toBe(500);
      expect(answer.text).toBe('ROLE must be "greeter" or "splitter", got "bogus"');
    }
  });

  it("bad names -> 400 with the reason, and no downstream call", async () => {
    const before = greeters.json!.requests.length;
    const rows: [string, string][] = [
      ["/split/Sherlock,a%2Fb", 'name "a/b" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
      ["/split/Sherlock,,Po", "name #2 of the list is empty"],
      ["/split/a%2Cb", 'name "a,b" may only hold letters, digits, spaces, apostrophes, hyphens and periods'],
      ["/split/%E0%A4%A", 'name "%E0%A4%A" is not valid percent-encoded UTF-8'],
      [`/split/${Array(17).fill("Po").join(",")}`, "17 names given; at most 16 are allowed"],
    ];
    for (const [path, reason] of rows) {
      const answer = await get(`${splitterOf.json!.url}${path}`);
      expect(answer.status, path).toBe(400);
      expect(answer.text).toBe(reason);
    }
    expect(greeters.json!.requests.length).toBe(before);
  });

  it("speaks the seed's plain-text greeter protocol (body = greeting, servedBy unknown)", async () => {
    const answer = await get(`${splitterOf["seed-text"]!.url}/split/Sherlock,Po`, { headers: { accept: "application/json" } });
    expect(answer.status).toBe(200);
    expect(json(answer)).toMatchObject({
      greeting: SEED_ANSWER,
      parts: [
        { name: "Sherlock", greeting: "Hello Sherlock!", servedBy: "unknown" },
        { name: "Po", greeting: "Greetings Po!", servedBy: "unknown" },
      ],
    });
  });

  it.each([
    ["fail-500", 'could not greet "Po": the greeter answered 500: boom'],
    ["html", `could not greet "Po": the greeter's answer is not a greeting: <html>a proxy's error page</html>`],
    ["gzip", 'could not greet "Po": the greeter answered with Content-Encoding gzip, though asked for identity'],
    ["not-utf8", `could not greet "Po": the greeter's answer is not valid UTF-8`],
    ["endless", `could not greet "Po": the greeter's answer is larger than 65536 bytes`],
    ["json-64k-plus-1", `could not greet "Po": the greeter's answer is larger than 65536 bytes`],
    ["hostile-error", `could not greet "Po": the greeter answered 500: ${echoOracleText(HOSTILE_ERROR_TEXT)}`],
  ])("a greeter answering %s -> 502 saying why", async (behaviour, reason) => {
    const answer = await get(`${splitterOf[behaviour]!.url}/split/Po`);
    expect(answer.status).toBe(502);
    expect(answer.text).toBe(reason);
  });

  it.each(["redirect-301", "redirect-302", "redirect-307"])("a greeter answering %s -> 502; the redirect is never followed", async (behaviour) => {
    const answer = await get(`${splitterOf[behaviour]!.url}/split/Po`);
    expect(answer.status).toBe(502);
    expect(answer.text).toBe(`could not greet "Po": the greeter answered ${behaviour.slice(-3)}: moved`);
    expect(greeters[behaviour]!.requests.length).toBeGreaterThan(0);
    expect(redirectTarget.requests).toEqual([]);
  });

  it("reads an answer of exactly 64 KiB (the cap), and JSON parts keep its pod name", async () => {
    const answer = await get(`${splitterOf["json-64k"]!.url}/split/Po`, { headers: { accept: "application/json" } });
    expect(answer.status, answer.text).toBe(200);
    expect(json(answer)).toMatchObject({ greeting: "Greetings Po!", parts: [{ name: "Po", servedBy: "test-greeter-json-64k" }] });
  });

  it("a greeter's 10 KB X-Served-By is not copied: the part names `unknown`", async () => {
    const names = Array.from({ length: 16 }, (_, i) => `P${i}`);
    const answer = await get(`${splitterOf["huge-served-by"]!.url}/split/${names.join(",")}`, { headers: { accept: "application/json" } });
    expect(answer.status, answer.text).toBe(200);
    const body = json<{ parts: { servedBy: string }[] }>(answer);
    expect(new Set(body.parts.map((p) => p.servedBy))).toEqual(new Set(["unknown"]));
    expect(Buffer.byteLength(answer.text)).toBeLessThan(4 * 1024);
  });

  it(`a stalled greeter -> 504 within GREETER_TIMEOUT_MS (${TIMEOUT_MS}) + the margin of a busy machine, naming each name`, async () => {
    const started = performance.now();
    const answer = await get(`${splitterOf.stall!.url}/split/Sherlock,Po`);
    const elapsed = performance.now() - started;
    expect(answer.status).toBe(504);
    expect(answer.text).toBe(
      `could not greet "Sherlock": the greeter did not answer within ${TIMEOUT_MS} ms; could not greet "Po": the greeter did not answer within ${TIMEOUT_MS} ms`,
    );
    // Not before the deadline, and within one deadline for both names: asked in turn they would take two.
    expect(elapsed).toBeGreaterThanOrEqual(TIMEOUT_MS - TIMER_SLACK_MS);
    expect(elapsed).toBeLessThan(TIMEOUT_MS + BUSY_MACHINE_MARGIN_MS);
  });

  it("a call given up on is closed, not left open: stalled and endless greeters end with no open connection", async () => {
    for (const behaviour of ["stall", "endless"]) {
      for (let i = 0; i < 5; i++) await get(`${splitterOf[behaviour]!.url}/split/Sam,Po`);
      const closed = await pollUntil(() => greeters[behaviour]!.openConnections() === 0, 5_000);
      expect(closed, `${behaviour}: ${greeters[behaviour]!.openConnections()} connections still open`).toBe(true);
    }
  });

  it("answers larger than the host's 16 KiB body pipe: 256 names, in text and JSON", async () => {
    // 51-character names keep the request line under Node's 16 KiB header limit (the jco host's HTTP server).
    const names = Array.from({ length: 256 }, (_, i) => `${i % 2 ? "S" : "P"}${"o".repeat(47)}${String(i).padStart(3, "0")}`);
    const expected = names.map(contractGreeting).join(" and ");
    const text = await get(`${wide.url}/split/${names.join(",")}`);
    expect(text.status).toBe(200);
    expect(text.text).toBe(expected);
    expect(Buffer.byteLength(text.text)).toBeGreaterThan(16 * 1024);
    const asJson = await get(`${wide.url}/split/${names.join(",")}`, { headers: { accept: "application/json" } });
    expect(json<{ greeting: string }>(asJson).greeting).toBe(expected);
    expect((await get(`${wide.url}/healthz`)).text).toBe("ok");
  });

  it("a hostile 404 is cut and escaped, and the pod keeps serving", async () => {
    const hostile = `/x/${"%01".repeat(4000)}`;
    const answer = await get(`${cluster.greeterUrl}${hostile}`, { headers: { accept: "application/json" } });
    expect(answer.status).toBe(404);
    expect(json<{ error: string }>(answer).error).toMatch(/^no route for "\/x\/(%01){25}%0…"; GET \/ lists the routes$/);
    expect(Buffer.byteLength(answer.text)).toBeLessThan(300);
    expect((await get(`${cluster.greeterUrl}/Sam`)).text).toBe("Hello Sam!");
  });

  it("routes by the path alone: a malformed Host gets a 400 (never a crash), an absolute-form target its path's answer", async () => {
    const greeter = cluster.pods.find((pod) => pod.role === "greeter")!;
    const pidBefore = greeter.pid;
    const send = (target: string, host: string, extra = "") =>
      rawRequest(greeter.url!, `GET ${target} HTTP/1.1\r\nHost: ${host}\r\n${extra}Connection: close\r\n\r\n`);
    for (const host of ["[::1", "x/split/Evil#", "h:99999"]) {
      const answer = await send("/healthz", host, "X-Request-Id: mh-1\r\n");
      expect(answer.status, host).toBe(400);
      expect(answer.body, host).toBe(`malformed Host header ${JSON.stringify(host)}`);
      // The adapter's 400 is an answer like any other: the contract's headers, JSON when asked.
      expectContractHeaders(answer.head, greeter.name, "mh-1");
      const asJson = await send("/healthz", host, "Accept: application/json\r\n");
      expect(JSON.parse(asJson.body), host).toEqual({ error: `malformed Host header ${JSON.stringify(host)}`, status: 400 });
      expect(asJson.head, host).toMatch(/\r\ncontent-type: application\/json/i);
    }
    // A target that is not a path (asterisk-form) reaches the component and is refused the same way.
    const star = await send("*", "pod", "X-Request-Id: st-1\r\n");
    expect(star.status).toBe(400);
    expect(star.body).toBe('request target "*" is not a path; send /<path>');
    expectContractHeaders(star.head, greeter.name, "st-1");
    const absolute = await send("http://evil.example/Aang", "pod");
    expect(absolute.status).toBe(200);
    expect(absolute.body).toBe("Greetings Aang!");
    expect((await get(`${greeter.url}/healthz`)).text).toBe("ok");
    expect(greeter.pid).toBe(pidBefore);
    expect(greeter.restarts).toBe(0);
    // On jco a crash would take one slot, not the pod: no slot may have died either.
    if (runtime.name === "jco") expect((await greeter.stats())?.pod?.died).toBe(0);
  });

  it("methods the Fetch API refuses (TRACE) and methods in the wrong case (get) are 405s too, not crashes", async () => {
    const greeter = cluster.pods.find((pod) => pod.role === "greeter")!;
    // Node's HTTP parser (the jco host) refuses a lowercase method itself, with a 400; hyper passes it on.
    const methods = runtime.name === "wasmtime" ? ["TRACE", "get"] : ["TRACE"];
    for (const method of methods) {
      const answer = await rawRequest(greeter.url!, `${method} /Sherlock HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n`);
      expect(answer.status, method).toBe(405);
      expect(answer.head, method).toMatch(/\r\nallow: GET, HEAD\r\n/i);
      expect(answer.body, method).toBe(`method ${method} is not allowed; use GET, HEAD`);
    }
    if (runtime.name === "jco") {
      expect((await rawRequest(greeter.url!, "get /Sherlock HTTP/1.1\r\nHost: pod\r\nConnection: close\r\n\r\n")).status).toBe(400);
      expect((await greeter.stats())?.pod?.died).toBe(0);
    }
  });
});
