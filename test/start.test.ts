// `npm start`, the command: its options, its banner and log lines, and how it
// ends: Ctrl-C/SIGTERM, and even a SIGKILL of npm or of itself, leave no process
// and no port behind; a busy port or a missing wasmtime is one clear line.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { formatBanner, formatLogEntry } from "../host/format";
import { parseStartOptions } from "../host/start";
import { ROOT } from "../lib/build";
import { pollUntil } from "../lib/wait";
import { descendantsOf, listProcesses, stillRunning } from "./support/process-tree";
import { engineCases } from "./support/engines";

const ENGINES = engineCases(
  "test/start.test.ts",
  (engine) => `the start process SIGKILLed: every ${engine} pod stops on its own (jco: its IPC channel closes; wasmtime: a parent-death signal)`,
);

describe("parseStartOptions", () => {
  it("defaults to the manifests' NodePorts on loopback, on jco", () => {
    expect(parseStartOptions([], {})).toEqual({
      ok: true,
      options: { splitterPort: 30001, greeterPort: 30002, host: "127.0.0.1", runtime: "jco", quiet: false, watch: false, help: false },
    });
  });

  it("env overrides defaults, flags override env", () => {
    const env = { SPLITTER_PORT: "4001", GREETER_PORT: "4002", NODE_HOST: "::1", RUNTIME: "wasmtime" };
    expect(parseStartOptions([], env)).toMatchObject({ ok: true, options: { splitterPort: 4001, greeterPort: 4002, host: "::1", runtime: "wasmtime" } });
    const argv = ["--splitter-port", "5001", "--greeter-port=5002", "--host", "0.0.0.0", "--runtime", "jco", "--quiet"];
    expect(parseStartOptions(argv, env)).toMatchObject({
      ok: true,
      options: { splitterPort: 5001, greeterPort: 5002, host: "0.0.0.0", runtime: "jco", quiet: true },
    });
  });

  it('"off" drops the greeter NodePort; 0 asks for any free port', () => {
    expect(parseStartOptions(["--greeter-port", "off", "--splitter-port", "0"], {})).toMatchObject({
      ok: true,
      options: { greeterPort: null, splitterPort: 0 },
    });
  });

  it.each([
    [["--splitter-port", "70000"], 'splitter port must be a whole number from 0 to 65535, got "70000"'],
    [["--greeter-port", "http"], 'greeter port must be a whole number from 0 to 65535, got "http"'],
    [["--runtime", "wasmedge"], '--runtime must be "jco" or "wasmtime", got "wasmedge"'],
    [["--host", "my host"], '--host must be an IP address or "localhost", got "my host"'],
  ])("%j -> %s", (argv, error) => expect(parseStartOptions(argv, {})).toEqual({ ok: false, error }));

  it.each([["--verbose"], ["--splitter-port"], ["extra"]])("%j -> an error that points at --help", (arg) => {
    const parsed = parseStartOptions([arg], {});
    expect(parsed.ok).toBe(false);
    if (!parsed.ok) expect(parsed.error).toMatch(/\(see --help\)$/);
  });
});

describe("what npm start prints", () => {
  it("the banner: runtime, pods with their env, Services, what to try", () => {
    const banner = formatBanner({
      runtime: "wasmtime 27.0.0",
      instances: "a fresh instance per request",
      readyMs: 1234,
      build: "build up to date",
      pods: [{ name: "name-greeter-pod-1", url: "http://127.0.0.1:1", env: { ROLE: "greeter" } }],
      services: [
        { name: "name-greeter-pod-service", kind: "ClusterIP", url: "http://127.0.0.1:2", role: "greeter", replicas: 2 },
        { name: "name-splitter-pod-service", kind: "NodePort", url: "http://127.0.0.1:30001", role: "splitter", replicas: 1 },
      ],
      splitterUrl: "http://127.0.0.1:30001",
      greeterUrl: undefined,
      hint: "a hint",
    });
    expect(banner.split("\n")).toEqual([
      "wasm-pods topology ready in 1.23 s (build up to date; runtime wasmtime 27.0.0, a fresh instance per request)",
      "  pod     name-greeter-pod-1  http://127.0.0.1:1  ROLE=greeter",
      "  service name-greeter-pod-service   ClusterIP http://127.0.0.1:2 -> greeter pods",
      "  service name-splitter-pod-service  NodePort  http://127.0.0.1:30001 -> splitter pod",
      "Try:",
      "  curl http://127.0.0.1:30001/split/Sherlock,Po",
      "  curl -H 'Accept: application/json' http://127.0.0.1:30001/split/Sherlock,Po",
      "  open http://127.0.0.1:30001/ in a browser",
      "a hint",
      "Ctrl-C stops every pod.",
    ]);
  });

  it("a request line keeps only the start of a long path", () => {
    const at = new Date("2026-01-01T10:00:00.123Z");
    const record = { via: "ClusterIP name-greeter-pod-service", pod: "name-greeter-pod-1", method: "GET", path: `/${"x".repeat(500)}`, outcome: "404", ms: 3 };
    const line = formatLogEntry({ kind: "request", record }, at);
    expect(line.startsWith("10:00:00.123 ClusterIP name-greeter-pod-service")).toBe(true);
    expect(line).toContain(`/${"x".repeat(99)}… 404 3 ms`);
    expect(line.length).toBeLessThan(200);
  });
});

/** Runs `npm start -- <args>` and collects its output. */
function npmStart(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn("npm", ["start", "--silent", "--", ...args], { cwd: ROOT, env, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out, exited };
}

// npm start builds first when dist/ is stale; give each test time for that and its pods.
describe("the npm start command", { timeout: 90_000 }, () => {
  const started: ChildProcess[] = [];
  let blocker: Server | undefined;
  afterAll(async () => {
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    blocker?.close();
  });

  /** Starts npm start on free ports and waits for its banner; returns it with every process below npm. */
  async function startUp(extra: string[] = []) {
    const run = npmStart(["--splitter-port", "0", "--greeter-port", "0", "--quiet", ...extra]);
    started.push(run.child);
    const shown = await pollUntil(() => run.out.stdout.includes("Ctrl-C stops every pod."), 60_000);
    expect(shown, run.out.stdout + run.out.stderr).toBe(true);
    const splitterUrl = /NodePort +(http:\/\/\S+) -> splitter pod/.exec(run.out.stdout)?.[1];
    const tree = descendantsOf(run.child.pid!, listProcesses());
    return { ...run, splitterUrl, tree };
  }

  it("serves the seed example, and SIGTERM leaves no process behind", async () => {
    const run = await startUp();
    expect(await (await fetch(`${run.splitterUrl}/split/Sherlock,Po`)).text()).toBe("Hello Sherlock! and Greetings Po!");
    expect(run.tree.length).toBeGreaterThanOrEqual(4); // start.ts and three pods
    run.child.kill("SIGTERM");
    await run.exited;
    expect(await pollUntil(() => stillRunning(run.tree).length === 0, 10_000), `left: ${stillRunning(run.tree)}`).toBe(true);
    await expect(fetch(`${run.splitterUrl}/healthz`)).rejects.toThrow();
  });

  it("npm itself SIGKILLed: npm start notices and stops every pod", async () => {
    const run = await startUp();
    run.child.kill("SIGKILL");
    expect(await pollUntil(() => stillRunning(run.tree).length === 0, 10_000), `left: ${stillRunning(run.tree)}`).toBe(true);
  });

  // Both engines, always listed: a missing wasmtime shows as a skipped case naming why, and
  // under CI=true the engine check (test/support/engines.ts) fails the run instead.
  for (const engine of ENGINES) {
    it.skipIf(!engine.runtime)(engine.title, async () => {
      const run = await startUp(["--runtime", engine.name]);
      const startProcess = listProcesses().find((row) => row.ppid === run.child.pid)!.pid;
      process.kill(startProcess, "SIGKILL");
      expect(await pollUntil(() => stillRunning(run.tree).length === 0, 10_000), `left: ${stillRunning(run.tree)}`).toBe(true);
      await run.exited;
    });
  }

  it("a busy NodePort is one line naming the port and who holds it, and exit 1", async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    const run = npmStart(["--splitter-port", String(port), "--greeter-port", "0"]);
    started.push(run.child);
    expect(await run.exited).toBe(1);
    const line = run.out.stderr.trim();
    expect(line.split("\n")).toHaveLength(1);
    expect(line).toMatch(new RegExp(`^npm start: port ${port} is already in use on 127\\.0\\.0\\.1 \\(splitter NodePort\\) by pid ${process.pid} \\(.+\\); stop it or pick another port$`));
  });

  it("--runtime wasmtime without wasmtime installed is one line saying how to get it, and exit 1", async () => {
    // No tools folder and a PATH with node, npm and sh only, so the answer does not depend on this machine.
    const empty = mkdtempSync(join(tmpdir(), "no-wasmtime-"));
    try {
      for (const tool of ["node", "npm"]) symlinkSync(join(process.execPath, "..", tool), join(empty, tool));
      symlinkSync("/bin/sh", join(empty, "sh")); // npm runs scripts through sh
      const run = npmStart(["--runtime", "wasmtime"], { PATH: empty, HOME: empty, WASM_PODS_TOOLS: empty });
      started.push(run.child);
      expect(await run.exited).toBe(1);
      expect(run.out.stderr.trim()).toMatch(/^npm start: --runtime wasmtime needs the wasmtime CLI \(scripts\/install-tools\.sh .*\)$/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it("a bad option is one line and exit 2", async () => {
    const run = npmStart(["--verbose"]);
    started.push(run.child);
    expect(await run.exited).toBe(2);
    expect(run.out.stderr.trim()).toMatch(/^npm start: .*--verbose.* \(see --help\)$/);
  });
});
