// `npm start` end to end: the topology through its NodePorts, the spread over
// the greeter replicas, a greeter SIGKILLed and restarted under load, and the
// CLI's stop (no process left behind), busy-port and missing-wasmtime paths.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../scripts/lib/build";
import type { LogEntry } from "../scripts/topology/format";
import { descendantsOf, groupMembers, listProcesses, stillRunning } from "../scripts/topology/process-tree";
import { startTopology, type Topology } from "../scripts/topology/topology";

const TSX_CLI = join(ROOT, "node_modules/tsx/dist/cli.mjs");
const START = join(ROOT, "scripts/start.ts");

interface SplitJson {
  greeting: string;
  parts: { name: string; servedBy: string }[];
  servedBy: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `condition` every 20 ms; false when `timeoutMs` passes first. */
async function eventually(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (condition()) return true;
    await sleep(20);
  }
  return condition();
}

function podEventsOf(log: readonly LogEntry[], pod: string): string[] {
  return log.flatMap((e) => (e.kind === "pod" && e.pod === pod ? [e.message] : []));
}

describe("startTopology: 2 greeters behind a ClusterIP, 1 splitter, 2 NodePorts", () => {
  let topology: Topology;
  const log: LogEntry[] = [];

  beforeAll(async () => {
    topology = await startTopology({ splitterPort: 0, greeterPort: 0, log: (entry) => log.push(entry) });
  });

  afterAll(async () => {
    await topology?.stop();
  });

  it("is ready within 3 s of spawning the pods, each pod its own process with its Deployment's env", () => {
    console.log(`time to ready: ${Math.round(topology.readyMs)} ms`);
    expect(topology.readyMs).toBeLessThan(3_000);
    expect(topology.pods.map((p) => [p.name, p.env])).toEqual([
      ["name-greeter-pod-1", { ROLE: "greeter" }],
      ["name-greeter-pod-2", { ROLE: "greeter" }],
      ["name-splitter-pod-1", { ROLE: "splitter", GREETER_URL: topology.clusterIpUrl }],
    ]);
    expect(new Set(topology.pods.map((p) => p.pid)).size).toBe(3);
  });

  it("the seed example through the splitter NodePort", async () => {
    const res = await fetch(`${topology.splitterUrl}/split/Sherlock,Po`);
    expect(res.status).toBe(200);
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
  });

  it("the greeter NodePort", async () => {
    const res = await fetch(`${topology.greeterUrl}/Aang`);
    expect(await res.text()).toBe("Greetings Aang!");
  });

  it("the ClusterIP spreads 40 parts over both replicas (each >= 5), and logs every hop", async () => {
    const before = log.length;
    const servedBy = new Map<string, number>();
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${topology.splitterUrl}/split/Sherlock,Po`, { headers: { accept: "application/json" } });
      const body = (await res.json()) as SplitJson;
      expect(body.greeting).toBe("Hello Sherlock! and Greetings Po!");
      for (const part of body.parts) servedBy.set(part.servedBy, (servedBy.get(part.servedBy) ?? 0) + 1);
    }
    console.log("parts per greeter replica:", Object.fromEntries(servedBy));
    expect([...servedBy.keys()].sort()).toEqual(["name-greeter-pod-1", "name-greeter-pod-2"]);
    for (const count of servedBy.values()) expect(count).toBeGreaterThanOrEqual(5);

    const requests = log.slice(before).flatMap((e) => (e.kind === "request" ? [e.record] : []));
    expect(requests.filter((r) => r.via.startsWith("NodePort") && r.pod === "name-splitter-pod-1")).toHaveLength(20);
    expect(requests.filter((r) => r.via.startsWith("ClusterIP") && r.status === 200)).toHaveLength(40);
  });

  it("a SIGKILLed greeter is restarted, and every split request meanwhile succeeds", async () => {
    const victim = topology.pods[0]!;
    const oldPid = victim.pid!;
    let loadRunning = true;
    const results: { status: number; text: string }[] = [];
    // Two clients, so requests are in flight at the moment of the kill; bounded either way.
    const client = async () => {
      for (let i = 0; i < 500 && loadRunning; i++) {
        const res = await fetch(`${topology.splitterUrl}/split/Sherlock,Po`);
        results.push({ status: res.status, text: await res.text() });
      }
    };
    const load = Promise.all([client(), client()]);
    await sleep(150);

    expect(topology.killPod(victim.name)).toBe(oldPid);
    const restarted = await eventually(() => victim.ready && victim.pid !== oldPid, 10_000);
    await sleep(200); // some traffic after the restart too
    loadRunning = false;
    await load;

    console.log(`kill/restart window: ${results.length} split requests, ${podEventsOf(log, victim.name).join(" | ")}`);
    expect(restarted).toBe(true);
    expect(victim.restarts).toBe(1);
    expect(groupMembers([oldPid])).toEqual([]);
    expect(results.length).toBeGreaterThan(10);
    expect(results.filter((r) => r.status !== 200 || r.text !== "Hello Sherlock! and Greetings Po!")).toEqual([]);
    const podEvents = podEventsOf(log, victim.name);
    expect(podEvents.some((m) => /^exited \(SIGKILL\); restarting in 250 ms/.test(m))).toBe(true);
    expect(podEvents.some((m) => m.startsWith("restarted: healthy on"))).toBe(true);

    // The restarted replica is back in the ClusterIP's rotation.
    const servedBy = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${topology.splitterUrl}/split/Sherlock,Po`, { headers: { accept: "application/json" } });
      for (const part of ((await res.json()) as SplitJson).parts) servedBy.add(part.servedBy);
    }
    expect(servedBy).toContain(victim.name);
  });

  it("stop() ends every pod process group and frees the ports", async () => {
    const pids = topology.pods.map((p) => p.pid!);
    await topology.stop();
    // Each pod's whole process group (its node process and tsx's esbuild service).
    expect(groupMembers(pids)).toEqual([]);
    await expect(fetch(`${topology.splitterUrl}/healthz`)).rejects.toThrow();
  });
});

/** Runs `npm start -- <args>`, or scripts/start.ts under tsx directly, collecting its output. */
function runStart(args: string[], options: { env?: NodeJS.ProcessEnv; viaNpm?: boolean } = {}) {
  const [command, argv] = options.viaNpm
    ? ["npm", ["start", "--silent", "--", ...args]]
    : [process.execPath, [TSX_CLI, START, ...args]];
  const child = spawn(command, argv, { cwd: ROOT, env: options.env ?? process.env, stdio: ["ignore", "pipe", "pipe"] });
  const out = { stdout: "", stderr: "" };
  child.stdout.on("data", (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on("data", (chunk: Buffer) => (out.stderr += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return { child, out, exited };
}

describe("the npm start CLI", () => {
  const started: ChildProcess[] = [];
  let blocker: Server | undefined;

  afterAll(async () => {
    // SIGTERM lets start.ts stop its pods; were it stuck, its pods' orphan guard still ends them.
    for (const child of started) if (child.exitCode === null) child.kill("SIGTERM");
    await eventually(() => started.every((child) => child.exitCode !== null || child.signalCode !== null), 3_000);
    for (const child of started) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    blocker?.close();
  });

  /** Starts the CLI on free ports and waits for its banner. */
  async function startCli(extraArgs: string[], viaNpm = false) {
    const run = runStart(["--splitter-port", "0", "--greeter-port", "0", ...extraArgs], { viaNpm });
    started.push(run.child);
    const bannerShown = await eventually(() => run.out.stdout.includes("Ctrl-C stops every pod."), 20_000);
    expect(bannerShown, run.out.stdout + run.out.stderr).toBe(true);
    const splitterUrl = /NodePort +(http:\/\/\S+) -> splitter pod/.exec(run.out.stdout)?.[1];
    return { ...run, splitterUrl };
  }

  it("`npm start`: prints the banner, serves, and on SIGTERM leaves no process behind within 2 s", async () => {
    const run = await startCli(["--isolate", "--quiet"], true);
    expect(run.out.stdout).toMatch(/ready in \d+\.\d\d s .*a fresh instance per request/);
    const res = await fetch(`${run.splitterUrl}/split/Sherlock,Po`);
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");

    const descendants = descendantsOf(run.child.pid!, listProcesses());
    // sh, tsx, the node process running start.ts, one node process per pod (+ esbuild services).
    expect(descendants.length).toBeGreaterThanOrEqual(6);

    const signalled = Date.now();
    run.child.kill("SIGTERM");
    await run.exited;
    const allGone = await eventually(() => stillRunning(descendants).length === 0, 2_000);
    const elapsed = Date.now() - signalled;
    expect(allGone, `still running: ${stillRunning(descendants).join(" ")}`).toBe(true);
    expect(elapsed).toBeLessThan(2_000);
    // npm passes SIGTERM to `sh -c`, which dies without passing it on: start.ts
    // notices its grandparent is gone and stops the pods itself.
    expect(run.out.stdout).toMatch(/(SIGTERM|parent process gone): stopping every pod/);
  });

  it("even a SIGKILLed start process leaves no pod behind (the pods' orphan guard)", async () => {
    const run = await startCli([]);
    const rows = listProcesses();
    // The tsx CLI's only child is the node process running start.ts.
    const startProcess = rows.find((row) => row.ppid === run.child.pid)!.pid;
    const pods = descendantsOf(startProcess, rows);
    expect(pods.length).toBeGreaterThanOrEqual(3);
    process.kill(startProcess, "SIGKILL");
    const allGone = await eventually(() => stillRunning(pods).length === 0, 2_000);
    expect(allGone, `still running: ${stillRunning(pods).join(" ")}`).toBe(true);
    await run.exited;
  });

  it("a busy NodePort is one clear line naming the port, and a non-zero exit", async () => {
    blocker = createServer();
    await new Promise<void>((resolve) => blocker!.listen(0, "127.0.0.1", resolve));
    const port = (blocker.address() as { port: number }).port;
    const run = runStart(["--splitter-port", String(port), "--greeter-port", "0"]);
    started.push(run.child);
    expect(await run.exited).toBe(1);
    expect(run.out.stderr.trim()).toBe(
      `npm start: port ${port} is already in use on 127.0.0.1 (splitter NodePort); stop whatever holds it or pick another port`,
    );
  });

  it("--runtime wasmtime without wasmtime on the PATH says so and exits 1", async () => {
    // A PATH with node and nothing else, so the answer does not depend on this machine.
    const bin = mkdtempSync(join(tmpdir(), "no-wasmtime-"));
    try {
      symlinkSync(process.execPath, join(bin, "node"));
      const run = runStart(["--runtime", "wasmtime", "--splitter-port", "0", "--greeter-port", "0"], { env: { PATH: bin } });
      started.push(run.child);
      expect(await run.exited).toBe(1);
      expect(run.out.stderr.trim()).toMatch(/^npm start: --runtime wasmtime needs the wasmtime CLI on the PATH .*$/);
      expect(run.out.stderr.trim().split("\n")).toHaveLength(1);
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
    expect(dirname(bin)).toBe(tmpdir());
  });
});
