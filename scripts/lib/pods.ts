// Starting and stopping local pods (scripts/pod.ts processes): shared by
// `npm start`, the tests and the benchmark, so all of them run the component
// the same way.
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { ROOT } from "./build";
import { POD_HOST, TRANSPILED_MODULE } from "./transpile";

export interface PodSpec {
  /** POD_NAME, as the downward API would set it. */
  name: string;
  port: number;
  host?: string;
  /** The guest's environment (ROLE, GREETER_URL, ...); PATH etc. come from this process. */
  env: Record<string, string>;
  /** A fresh instance per request, as under wasmtime serve and the k3s shim. */
  isolate?: boolean;
  /** Requests served at once (scripts/pod.ts --concurrency: one worker thread each); unset = 1. */
  concurrency?: number;
  /**
   * Run the pod in a process group of its own, and signal the whole group, so
   * a runtime that forks (wasmtime, a wrapper script) never leaves a child behind.
   */
  processGroup?: boolean;
}

export interface RunningPod {
  spec: PodSpec;
  url: string;
  child: ChildProcess;
  /** Resolves with the exit code (or signal) once the process is gone. */
  exited: Promise<number | string>;
}


export function spawnPod(spec: PodSpec, output: "inherit" | "ignore" | "pipe" = "ignore"): RunningPod {
  const host = spec.host ?? "127.0.0.1";
  const args = ["--expose-gc", POD_HOST, "--module", TRANSPILED_MODULE, "--listen", `${host}:${spec.port}`];
  if (spec.isolate) args.push("--isolate");
  if (spec.concurrency !== undefined) args.push("--concurrency", String(spec.concurrency));
  const child = spawn(process.execPath, args, {
    cwd: ROOT,
    env: { PATH: process.env.PATH ?? "", HOSTNAME: spec.name, POD_NAME: spec.name, ...spec.env },
    stdio: ["ignore", output, output],
    detached: spec.processGroup ?? false,
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  return { spec, url: `http://${host.includes(":") ? `[${host}]` : host}:${spec.port}`, child, exited };
}

/**
 * Polls GET `url` every 5 ms until it answers 200 (resolving with the ms since
 * `since`), `gaveUp()` returns a reason, or `timeoutMs` passes. The one readiness
 * poll of the pods, the tests and the benchmark.
 */
export async function waitFor200(
  url: string,
  { since = performance.now(), timeoutMs = 10_000, gaveUp = () => undefined as string | undefined } = {},
): Promise<number> {
  while (performance.now() - since < timeoutMs) {
    const reason = gaveUp();
    if (reason) throw new Error(reason);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}

/** Waits for the pod's GET /healthz to answer 200; fails at once if the pod exits first. */
export async function waitHealthy(pod: RunningPod, timeoutMs = 10_000): Promise<void> {
  let exitedWith: number | string | undefined;
  void pod.exited.then((code) => (exitedWith = code));
  await waitFor200(`${pod.url}/healthz`, {
    timeoutMs,
    gaveUp: () => (exitedWith === undefined ? undefined : `pod ${pod.spec.name} exited (${exitedWith}) before it was healthy`),
  });
}

/** Sends `signal` to the pod: to its whole process group when it has one. */
export function signalPod(pod: RunningPod, signal: NodeJS.Signals): void {
  const pid = pod.child.pid;
  if (pod.spec.processGroup && pid !== undefined) {
    try {
      process.kill(-pid, signal);
    } catch {
      // the group is already gone
    }
  } else {
    pod.child.kill(signal);
  }
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function stopPod(pod: RunningPod, graceMs = 1500): Promise<void> {
  if (pod.child.exitCode !== null || pod.child.signalCode !== null) return;
  signalPod(pod, "SIGTERM");
  const timer = setTimeout(() => signalPod(pod, "SIGKILL"), graceMs);
  await pod.exited;
  clearTimeout(timer);
}

/** A port the kernel just handed out on `host`, free at the time of asking. */
export function freePort(host = "127.0.0.1"): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, host, () => {
      const address = server.address();
      server.close(() => (typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port"))));
    });
  });
}
