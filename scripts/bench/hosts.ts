// The ways the benchmark runs the same app, each as its own process: the local
// host on jco (what npm start runs), the local host on wasmtime (npm start
// --runtime wasmtime: the k3s shim's engine), plain `jco serve`, and native Node.
// Importing this module starts nothing and installs no handler: the entry does.
import { join } from "node:path";
import { DEPLOYMENTS } from "../../host/cluster";
import { spawnGroup } from "../../lib/processes";
import { requireRuntime, type Runtime } from "../../host/runtimes";
import { ROOT } from "../../lib/build";
import { freePort } from "../../lib/free-port";
import { startJcoServe } from "../../lib/jco-serve";
import { waitFor200 } from "../../lib/wait";

export type HostKind = "native" | "jco-serve" | "local-jco" | "local-wasmtime";

export const HOST_LABELS: Record<HostKind, string> = {
  native: "native Node (@hono/node-server)",
  "jco-serve": "plain jco serve",
  "local-jco": "local host, jco (npm start's pods)",
  "local-wasmtime": "local host, wasmtime 27 (npm start --runtime wasmtime)",
};

export const NATIVE_BUNDLE = join(ROOT, "dist/bench/native-pod.mjs");

export interface RunningHost {
  url: string;
  /** The pod's process, the leader of its process group, whose CPU time the bench reads. */
  pid?: number;
  stop(): Promise<void>;
}

export function runtimeFor(kind: "local-jco" | "local-wasmtime"): Runtime {
  return requireRuntime(kind === "local-jco" ? "jco" : "wasmtime");
}

/** Slots and slot lifetime per role, as npm start runs them. */
const deploymentOf = (role: string | undefined) => DEPLOYMENTS.find((d) => d.role === role);

/** One pod of `kind` with `env` (ROLE, GREETER_URL, ...); resolves once it listens. */
export async function startHost(kind: HostKind, env: Record<string, string>): Promise<RunningHost> {
  if (kind === "jco-serve") {
    const server = await startJcoServe(env);
    return { url: server.url, pid: server.group.pid, stop: server.stop };
  }
  if (kind === "native") {
    const port = await freePort();
    const group = spawnGroup({
      command: process.execPath,
      args: [NATIVE_BUNDLE],
      env: { PATH: process.env.PATH ?? "", ...env, PORT: String(port) },
      cwd: ROOT,
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor200(`${url}/healthz`, { timeoutMs: 30_000, gaveUp: () => (group.running ? undefined : "native pod exited") });
    return { url, pid: group.pid, stop: () => group.stop() };
  }
  const deployment = deploymentOf(env.ROLE);
  const pod = runtimeFor(kind).launch({
    name: env.POD_NAME ?? env.ROLE ?? "pod",
    host: "127.0.0.1",
    env,
    slots: deployment?.slots ?? 1,
    recycleAfter: deployment?.recycleAfter,
  });
  const url = `http://127.0.0.1:${await pod.port}`;
  return { url, pid: pod.group.pid, stop: () => pod.group.stop() };
}

/** Process spawn to the first 200 from GET /Sherlock on a greeter. */
export async function coldStartMs(kind: HostKind): Promise<number> {
  const started = performance.now();
  const host = await startHost(kind, { ROLE: "greeter", POD_NAME: "cold" });
  try {
    return await waitFor200(`${host.url}/Sherlock`, { since: started, timeoutMs: 60_000 });
  } finally {
    await host.stop();
  }
}
