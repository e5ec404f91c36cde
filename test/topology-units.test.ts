// The pure pieces of `npm start`: options, restart backoff, the round-robin
// order, the wasmtime argv, the pod plan, the output, the process tree walk.
import { describe, expect, it } from "vitest";
import { parseStartArgs } from "../scripts/topology/args";
import { DEFAULT_BACKOFF, nextCrashCount, restartDelayMs } from "../scripts/topology/backoff";
import { attemptOrder, type Endpoint, endpointKey, isConnectFailure } from "../scripts/topology/balancer";
import { formatBanner, formatLogEntry } from "../scripts/topology/format";
import { listenFailureMessage } from "../scripts/topology/listen";
import { parentOf } from "../scripts/topology/parent-watch";
import { planPods, podEnv } from "../scripts/topology/plan";
import { descendantsOf, groupMembers, parsePsRows, stillRunning } from "../scripts/topology/process-tree";
import { endToEndHeaders } from "../scripts/topology/service-proxy";
import { findExecutable, wasmtimeServeArgs } from "../scripts/topology/wasmtime";

describe("parseStartArgs", () => {
  it("defaults to the manifests' NodePorts on loopback, jco, instance reuse", () => {
    expect(parseStartArgs([], {})).toEqual({
      ok: true,
      options: { splitterPort: 30001, greeterPort: 30002, host: "127.0.0.1", runtime: "jco", isolate: false, quiet: false, help: false },
    });
  });

  it("env overrides defaults, flags override env", () => {
    const env = { SPLITTER_PORT: "4001", GREETER_PORT: "4002", NODE_HOST: "::1", RUNTIME: "wasmtime" };
    expect(parseStartArgs([], env)).toMatchObject({
      ok: true,
      options: { splitterPort: 4001, greeterPort: 4002, host: "::1", runtime: "wasmtime" },
    });
    const argv = ["--splitter-port", "5001", "--greeter-port=5002", "--host", "0.0.0.0", "--runtime", "jco", "--isolate", "--quiet"];
    expect(parseStartArgs(argv, env)).toMatchObject({
      ok: true,
      options: { splitterPort: 5001, greeterPort: 5002, host: "0.0.0.0", runtime: "jco", isolate: true, quiet: true },
    });
  });

  it('"off" drops the optional greeter NodePort; 0 asks for any free port', () => {
    expect(parseStartArgs(["--greeter-port", "off", "--splitter-port", "0"], {})).toMatchObject({
      ok: true,
      options: { greeterPort: undefined, splitterPort: 0 },
    });
  });

  it.each([
    [["--splitter-port", "70000"], 'splitter port must be a whole number from 0 to 65535, got "70000"'],
    [["--greeter-port", "http"], 'greeter port must be a whole number from 0 to 65535, got "http"'],
    [["--splitter-port"], "--splitter-port needs a value"],
    [["--splitter-port", "--isolate"], "--splitter-port needs a value"],
    [["--runtime", "wasmedge"], '--runtime must be "jco" or "wasmtime", got "wasmedge"'],
    [["--host", "my host"], '--host must be an IP address or "localhost", got "my host"'],
    [["--verbose"], 'unknown option "--verbose" (see --help)'],
  ])("%j -> %s", (argv, error) => {
    expect(parseStartArgs(argv, {})).toEqual({ ok: false, error });
  });

  it("a bad env value is reported too", () => {
    expect(parseStartArgs([], { SPLITTER_PORT: "-1" })).toEqual({
      ok: false,
      error: 'splitter port must be a whole number from 0 to 65535, got "-1"',
    });
  });
});

describe("restart backoff", () => {
  it("250 ms doubling to a 5 s cap", () => {
    expect([1, 2, 3, 4, 5, 6, 7, 100, 1e9].map((n) => restartDelayMs(n))).toEqual([
      250, 500, 1000, 2000, 4000, 5000, 5000, 5000, 5000,
    ]);
  });

  it("counts crashes in a row, and starts over after the pod stayed healthy long enough", () => {
    const { resetAfterMs } = DEFAULT_BACKOFF;
    expect(nextCrashCount(0, undefined, 1_000)).toBe(1);
    expect(nextCrashCount(3, undefined, 1_000)).toBe(4); // died before it was ever healthy
    expect(nextCrashCount(3, 1_000, 1_000 + resetAfterMs - 1)).toBe(4);
    expect(nextCrashCount(3, 1_000, 1_000 + resetAfterMs)).toBe(1);
  });
});

describe("attemptOrder (the ClusterIP's round-robin)", () => {
  const a: Endpoint = { pod: "a", host: "127.0.0.1", port: 1 };
  const b: Endpoint = { pod: "b", host: "127.0.0.1", port: 2 };
  const c: Endpoint = { pod: "c", host: "127.0.0.1", port: 3 };

  it("rotates the first choice over every endpoint, keeping the rest as fallbacks", () => {
    expect([0, 1, 2, 3].map((turn) => attemptOrder([a, b, c], turn, 0).map((e) => e.pod).join(""))).toEqual([
      "abc",
      "bca",
      "cab",
      "abc",
    ]);
  });

  it("tries an endpoint that just refused last, until its mark expires", () => {
    const failing = new Map([[endpointKey(a), 1_000]]);
    expect(attemptOrder([a, b], 0, 999, failing).map((e) => e.pod)).toEqual(["b", "a"]);
    expect(attemptOrder([a, b], 0, 1_000, failing).map((e) => e.pod)).toEqual(["a", "b"]);
  });

  it("no endpoints, no attempts", () => {
    expect(attemptOrder([], 7, 0)).toEqual([]);
  });

  it("only connection-level failures are retried elsewhere", () => {
    expect(["ECONNREFUSED", "ECONNRESET", "EPIPE"].every(isConnectFailure)).toBe(true);
    expect(isConnectFailure("ETIMEDOUT")).toBe(false);
    expect(isConnectFailure(undefined)).toBe(false);
  });

  it("hop-by-hop headers are not forwarded", () => {
    expect(endToEndHeaders({ connection: "keep-alive", "keep-alive": "timeout=5", accept: "application/json" })).toEqual({
      accept: "application/json",
    });
  });
});

describe("wasmtime runtime", () => {
  it("builds `wasmtime serve` with wasi:cli linked, the address and the pod's env", () => {
    const env = { ROLE: "splitter", GREETER_URL: "http://127.0.0.1:4000", POD_NAME: "name-splitter-pod-1" };
    expect(wasmtimeServeArgs({ host: "127.0.0.1", port: 8090, env }, "/x/dist/wasm-pods.wasm")).toEqual([
      "serve",
      "-S",
      "cli",
      "--addr",
      "127.0.0.1:8090",
      "--env",
      "ROLE=splitter",
      "--env",
      "GREETER_URL=http://127.0.0.1:4000",
      "--env",
      "POD_NAME=name-splitter-pod-1",
      "/x/dist/wasm-pods.wasm",
    ]);
  });

  it("brackets an IPv6 address", () => {
    expect(wasmtimeServeArgs({ host: "::1", port: 80, env: {} }, "c.wasm")).toEqual(["serve", "-S", "cli", "--addr", "[::1]:80", "c.wasm"]);
  });

  it("finds the first executable on PATH, or nothing", () => {
    const executables = new Set(["/opt/b/wasmtime", "/opt/c/wasmtime"]);
    const isExecutable = (path: string) => executables.has(path);
    expect(findExecutable("wasmtime", "/opt/a::/opt/b:/opt/c", isExecutable)).toBe("/opt/b/wasmtime");
    expect(findExecutable("wasmtime", "/opt/a", isExecutable)).toBeUndefined();
    expect(findExecutable("wasmtime", "", isExecutable)).toBeUndefined();
  });
});

describe("the pod plan", () => {
  it("two greeters and a splitter whose GREETER_URL is the ClusterIP", () => {
    expect(planPods("http://127.0.0.1:4000")).toEqual([
      { name: "name-greeter-pod-1", role: "greeter", env: { ROLE: "greeter" } },
      { name: "name-greeter-pod-2", role: "greeter", env: { ROLE: "greeter" } },
      { name: "name-splitter-pod-1", role: "splitter", env: { ROLE: "splitter", GREETER_URL: "http://127.0.0.1:4000" } },
    ]);
  });

  it("each process also gets the shim's listen address, as the Deployment sets it", () => {
    expect(podEnv({ env: { ROLE: "greeter" } }, "127.0.0.1", 4001)).toEqual({
      ROLE: "greeter",
      WASMTIME_HTTP_PROXY_SOCKET_ADDR: "127.0.0.1:4001",
    });
    expect(podEnv({ env: {} }, "::1", 80)).toEqual({ WASMTIME_HTTP_PROXY_SOCKET_ADDR: "[::1]:80" });
  });
});

describe("output", () => {
  it("the banner says how long startup took and what to curl", () => {
    const banner = formatBanner({
      runtime: "jco",
      isolate: false,
      readyMs: 1234,
      buildMs: 5,
      built: false,
      pods: [{ name: "name-greeter-pod-1", role: "greeter", url: "http://127.0.0.1:4001", env: { ROLE: "greeter" } }],
      clusterIpUrl: "http://127.0.0.1:4000",
      splitterUrl: "http://127.0.0.1:30001",
      greeterUrl: "http://127.0.0.1:30002",
    });
    expect(banner).toContain("ready in 1.23 s");
    expect(banner).toContain("curl http://127.0.0.1:30001/split/Sherlock,Po");
    expect(banner).toContain("curl http://127.0.0.1:30002/Aang");
    expect(banner).toContain("name-greeter-pod-1  http://127.0.0.1:4001  ROLE=greeter");
  });

  it("one line per request: door, pod, method, path, status, ms", () => {
    const line = formatLogEntry(
      { kind: "request", record: { via: "ClusterIP svc", pod: "p-1", method: "GET", path: "/Po", status: 200, ms: 3, skipped: ["p-2"] } },
      new Date("2026-01-01T10:20:30.456Z"),
    );
    expect(line).toMatch(/^10:20:30\.456 ClusterIP svc +p-1 +GET \/Po 200 3 ms {2}\(skipped p-2\)$/);
  });

  it("a busy port names the port and what wanted it", () => {
    expect(listenFailureMessage("EADDRINUSE", "127.0.0.1", 30001, "splitter NodePort")).toBe(
      "port 30001 is already in use on 127.0.0.1 (splitter NodePort); stop whatever holds it or pick another port",
    );
  });
});

describe("process tree", () => {
  it("reads the parent pid from /proc/<pid>/stat, even when the command name has spaces and parentheses", () => {
    expect(parentOf(42, () => "42 (node (x) y) S 17 42 42 0 -1")).toBe(17);
    expect(parentOf(42, () => { throw new Error("ENOENT"); })).toBeUndefined();
    expect(parentOf(process.pid)).toBe(process.ppid);
  });

  it("finds children and grandchildren from ps output", () => {
    const rows = parsePsRows("  1     0  1 Ss\n 10     1 10 S\n 11    10 11 Sl\n 12    11 11 Z\n 20     1 20 R\n garbage\n");
    expect(descendantsOf(10, rows)).toEqual([11, 12]);
    expect(descendantsOf(12, rows)).toEqual([]);
    expect(stillRunning([11, 12, 99], rows)).toEqual([11]); // 12 is a zombie, 99 is gone
    expect(groupMembers([11], rows)).toEqual([11]);
  });
});
