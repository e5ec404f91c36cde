// The two engines a local pod can run on. Each prepares a build once (as the
// k3s shim precompiles an image once per node), then starts pods from it.
//   jco:      host/pod.ts on jco's runtime (preview2-shim in Node): needs only `npm install`.
//   wasmtime: `wasmtime serve`, the engine inside runwasi's containerd-shim-wasmtime,
//             with a fresh instance per request, as the shim runs it.
import { execFileSync } from "node:child_process";
import { copyFileSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { COMPONENT, newestMtime as mtime, ROOT } from "../lib/build";
import { ESBUILD, esbuildArgs } from "../lib/esbuild";
import { findTool } from "../lib/tools";
import { DRAIN_MS } from "./pod-front";
import { type Group, readLines, rssKb, runToEnd, spawnGroup } from "../lib/processes";
import { hostPort } from "../lib/address";
import { ask } from "../lib/ask";
import type { PodStats } from "./slot-pool";

export type RuntimeName = "jco" | "wasmtime";

export interface PodSpec {
  /** POD_NAME and HOSTNAME, as the downward API and the container runtime set them. */
  name: string;
  /** Where the pod listens; it picks a free port itself (so no other process can take it first) and prints it. */
  host: string;
  /** The container's env from its Deployment (ROLE, GREETER_URL, ...). */
  env: Record<string, string>;
  /** Requests the pod serves at once (jco; wasmtime serves each request on its own instance anyway). */
  slots: number;
  /** jco: a slot is replaced after this many requests (host/pod.ts --recycle-after; its default when unset). */
  recycleAfter?: number;
  /** jco: a slot still busy this long after it took a request is stuck and replaced (host/pod.ts --slot-deadline-ms; the twin keeps the pod's default, tests shorten it to provoke a stuck slot). */
  slotDeadlineMs?: number;
  /** jco: requests that may wait for a slot before the pod front answers 503 (host/pod.ts --max-queued). */
  maxQueued?: number;
  /** jco: how long a request may wait for a slot before a 503 (host/pod.ts --queue-wait-ms; 0 = no limit). */
  queueWaitMs?: number;
  /** Which build to run (default: dist/wasm-pods.wasm's). */
  build?: Build;
}

/** One prepared build: pods of different builds run side by side during a rollout (npm run dev). */
export interface Build {
  component: string;
  /** What a pod loads: the transpiled module (jco) or the precompiled component (wasmtime). */
  artifact: string;
}

export interface PodProcess {
  group: Group;
  /** The port the pod listens on, from its "listening" line; rejects if it exits first. */
  port: Promise<number>;
  /** Every line the pod prints (stdout and stderr). */
  onLine(listener: (line: string) => void): void;
  /** How long the pod keeps serving its requests in flight after SIGTERM (jco's front); none when unset. */
  drainMs?: number;
  /** Memory and, on jco, each slot's shim resource counts. */
  stats(): Promise<{ rssMb: number; pod?: PodStats }>;
}

/** Reads a pod's output: its lines, and the port from its "listening" line. */
function watchOutput(group: Group): Pick<PodProcess, "port" | "onLine"> {
  const listeners: ((line: string) => void)[] = [];
  const port = new Promise<number>((resolvePort, rejectPort) => {
    void readLines(group, (line) => {
      const found = listeningPort(line);
      if (found !== undefined) resolvePort(found);
      for (const listener of listeners) listener(line);
    });
    void group.exited.then((code) => rejectPort(new Error(`exited (${code}) before it listened`)));
  });
  port.catch(() => {}); // a pod that never listens is reported by whoever awaits the port
  return { port, onLine: (listener) => void listeners.push(listener) };
}

/** The port a pod says it listens on: host/pod.ts's "listening on H:P" or wasmtime's "Serving HTTP on http://H:P/". */
export function listeningPort(line: string): number | undefined {
  const match = /(?:listening on |Serving HTTP on http:\/\/)(?:\[[0-9a-fA-F:]+\]|[^\s:/]+):(\d+)/.exec(line);
  return match ? Number(match[1]) : undefined;
}

export interface Runtime {
  name: RuntimeName;
  /** e.g. "wasmtime 27.0.0", "jco 1.35.0 (preview2-shim 0.26.0)". */
  version: string;
  /** Makes what launch() needs from `component` (default dist/wasm-pods.wasm), when it is missing or older. */
  prepare(component?: string): Promise<Build>;
  launch(spec: PodSpec): PodProcess;
}

type RuntimeResult = { ok: true; runtime: Runtime } | { ok: false; error: string };

/** A runtime, or a one-line reason it cannot be used here. */
export function runtimeNamed(name: RuntimeName): RuntimeResult {
  return name === "jco" ? { ok: true, runtime: jcoRuntime() } : wasmtimeRuntime();
}

/** runtimeNamed for tests and tools, which cannot go on without it: the runtime, or an Error with the reason. */
export function requireRuntime(name: RuntimeName): Runtime {
  const named = runtimeNamed(name);
  if (!named.ok) throw new Error(named.error);
  return named.runtime;
}

/** Runs a tool to its end without blocking this process (the Services keep serving meanwhile); its output goes to stderr. */
async function run(command: string, args: string[], what: string): Promise<void> {
  const result = await runToEnd({ command, args, env: process.env as Record<string, string>, cwd: ROOT }, (line) => console.error(line));
  if (result.code !== 0) throw new Error(`${what} failed (exit ${result.code})`);
}

// ---------------------------------------------------------------------------

const JCO_DIR = join(ROOT, "dist/host");
/** Where jco transpiles a component: dist/host/ for dist/, <its folder>/host/ for another build. */
const transpiledFor = (component: string) => join(dirname(component), "host", "wasm-pods.js");
/** The pod's process (host/pod.ts) and its slots' worker entry, bundled side by side: the pool starts ./slot-worker.mjs. */
const POD_HOST_ENTRIES = ["host/pod.ts", "host/slot-worker.ts"];
const POD_HOST = join(JCO_DIR, "pod.mjs");
const SLOT_WORKER = join(JCO_DIR, "slot-worker.mjs");
/** esbuild's record of what it bundled into POD_HOST and SLOT_WORKER: its inputs are the pod host's sources. */
const POD_HOST_META = join(JCO_DIR, "pod.meta.json");
const IO_GUARD = join(ROOT, "host/io-guard.mjs");

/** The newest of the pod host's sources: every file the last bundle read, and the I/O guard copied beside it; Infinity before a first bundle. */
function podHostSourcesMtime(): number {
  let inputs: string[];
  try {
    inputs = Object.keys((JSON.parse(readFileSync(POD_HOST_META, "utf8")) as { inputs: Record<string, unknown> }).inputs);
  } catch {
    return Number.POSITIVE_INFINITY;
  }
  return Math.max(mtime(IO_GUARD), ...inputs.map((input) => mtime(join(ROOT, input)) || Number.POSITIVE_INFINITY));
}

function packageVersion(name: string): string {
  const file = join(ROOT, "node_modules", name, "package.json");
  return (JSON.parse(readFileSync(file, "utf8")) as { version: string }).version;
}

function jcoRuntime(): Runtime {
  return {
    name: "jco",
    version: `jco ${packageVersion("@bytecodealliance/jco")} (preview2-shim ${packageVersion("@bytecodealliance/preview2-shim")})`,
    async prepare(component = COMPONENT) {
      if (!mtime(component)) throw new Error(`${component} is missing: run ./build.sh first`);
      const transpiled = transpiledFor(component);
      if (mtime(transpiled) < mtime(component)) {
        // Sync instantiation: a slot calls the export directly, as jco serve does.
        const args = ["transpile", component, "-o", dirname(transpiled), "--name", "wasm-pods", "--instantiation", "sync"];
        await run(join(ROOT, "node_modules/.bin/jco"), [...args, "--no-typescript", "--quiet"], "jco transpile");
      }
      if (Math.min(mtime(POD_HOST), mtime(SLOT_WORKER)) < podHostSourcesMtime()) {
        // Compiled once to plain JS, so a pod is one node process with no loader in between.
        const flags = ["--platform=node", "--packages=external", `--metafile=${POD_HOST_META}`];
        await run(ESBUILD, esbuildArgs(POD_HOST_ENTRIES, JCO_DIR, flags), "compiling the pod host");
        copyFileSync(IO_GUARD, join(JCO_DIR, "io-guard.mjs"));
      }
      return { component, artifact: transpiled };
    },
    launch(spec) {
      const group = spawnGroup({
        command: process.execPath,
        args: [
          POD_HOST,
          ...["--module", spec.build?.artifact ?? transpiledFor(COMPONENT), "--listen", hostPort(spec.host, 0), "--slots", String(spec.slots)],
          ...(spec.recycleAfter === undefined ? [] : ["--recycle-after", String(spec.recycleAfter)]),
          ...(spec.slotDeadlineMs === undefined ? [] : ["--slot-deadline-ms", String(spec.slotDeadlineMs)]),
          ...(spec.maxQueued === undefined ? [] : ["--max-queued", String(spec.maxQueued)]),
          ...(spec.queueWaitMs === undefined ? [] : ["--queue-wait-ms", String(spec.queueWaitMs)]),
        ],
        env: { PATH: process.env.PATH ?? "", HOSTNAME: spec.name, POD_NAME: spec.name, ...spec.env },
        cwd: ROOT,
        output: "pipe",
        // Closes when this process dies, however it dies: the pod then stops itself.
        ipc: true,
      });
      return {
        group,
        drainMs: DRAIN_MS,
        ...watchOutput(group),
        async stats() {
          const pod = await askPod(group);
          return { rssMb: rssKb(group.pid) / 1024, pod };
        },
      };
    },
  };
}

/** How long a jco pod has to give its stats; it answers once each slot has, or has failed to, within the slots' own wait. */
const POD_STATS_WAIT_MS = 5_000;

/** Asks a jco pod for its slots' stats over IPC; undefined when it does not answer in time. */
function askPod(group: Group): Promise<PodStats | undefined> {
  const child = group.child;
  if (!child.connected) return Promise.resolve(undefined);
  return ask<PodStats>(child, (message) => child.send(message), "stats", POD_STATS_WAIT_MS);
}

// ---------------------------------------------------------------------------

/** Where wasmtime's precompiled artefact of a component goes: beside it. */
const precompiledFor = (component: string) => component.replace(/\.wasm$/, ".cwasm");

/**
 * The argv after `wasmtime` for one pod: on `port` (default 0, the kernel's choice), with
 * any extra `flags` (e.g. the bench's `-C cache-config=...`); a .cwasm is allowed as precompiled.
 */
export function wasmtimeServeArgs(
  spec: Pick<PodSpec, "host" | "env">,
  component: string,
  options: { port?: number; flags?: readonly string[] } = {},
): string[] {
  // The shim links all of WASI 0.2 besides wasi:http; `-S cli` does the same for `serve`.
  const envFlags = Object.entries(spec.env).flatMap(([name, value]) => ["--env", `${name}=${value}`]);
  const precompiled = component.endsWith(".cwasm") ? ["--allow-precompiled"] : [];
  const address = hostPort(spec.host, options.port ?? 0);
  return ["serve", "-S", "cli", ...(options.flags ?? []), ...precompiled, "--addr", address, ...envFlags, component];
}

function wasmtimeRuntime(): RuntimeResult {
  const wasmtime = findTool("wasmtime");
  if (!wasmtime) {
    return { ok: false, error: "--runtime wasmtime needs the wasmtime CLI (scripts/install-tools.sh builds the pinned 27.0.0; or put wasmtime on the PATH)" };
  }
  const version = execFileSync(wasmtime, ["--version"], { encoding: "utf8" }).trim();
  // A pod must not outlive the process that started it, however that one dies: the
  // kernel SIGKILLs wasmtime when its parent exits (Linux; setpriv is in util-linux).
  const setpriv = findTool("setpriv");
  const runtime: Runtime = {
    name: "wasmtime",
    version,
    async prepare(component = COMPONENT) {
      if (!mtime(component)) throw new Error(`${component} is missing: run ./build.sh first`);
      const precompiled = precompiledFor(component);
      if (mtime(precompiled) < mtime(component)) {
        // Once per build, as the shim precompiles once per node: pods then start in milliseconds.
        await run(wasmtime, ["compile", component, "-o", precompiled], "wasmtime compile");
      }
      return { component, artifact: precompiled };
    },
    launch(spec) {
      const env = { HOSTNAME: spec.name, POD_NAME: spec.name, ...spec.env };
      const args = wasmtimeServeArgs({ ...spec, env }, spec.build?.artifact ?? precompiledFor(COMPONENT));
      const group = spawnGroup({
        command: setpriv ?? wasmtime,
        args: setpriv ? ["--pdeathsig", "KILL", "--", wasmtime, ...args] : args,
        env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
        cwd: ROOT,
        output: "pipe",
      });
      return {
        group,
        ...watchOutput(group),
        async stats() {
          return { rssMb: rssKb(group.pid) / 1024 };
        },
      };
    },
  };
  return { ok: true, runtime };
}
