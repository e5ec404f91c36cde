// The three ways the benchmark runs the same app, each as its own process:
// the local component host (what npm start uses), plain `jco serve`, and native Node.
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "../lib/build";
import { freePort, spawnPod, stopPod, waitFor200 } from "../lib/pods";
import { SPLITTER_CONCURRENCY } from "../topology/plan";

export type HostKind = "component" | "component-isolated" | "jco-serve" | "native";

export const HOST_LABELS: Record<HostKind, string> = {
  component: "component, local host (npm start's pods)",
  "component-isolated": "component, local host, fresh instance per request",
  "jco-serve": "component, plain jco serve",
  native: "same app on native Node (@hono/node-server)",
};

export const NATIVE_BUNDLE = join(ROOT, "dist/bench/native-pod.mjs");

export interface RunningHost {
  url: string;
  stop(): Promise<void>;
}

/** Process groups still running: killed when the benchmark exits, however it exits. */
const running = new Set<number>();
process.once("exit", () => {
  for (const pid of running) {
    try {
      process.kill(-pid, "SIGKILL");
    } catch {
      // already gone
    }
  }
});
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));

function spawnGroup(command: string, args: string[], env: Record<string, string>): ChildProcess {
  const child = spawn(command, args, { cwd: ROOT, env: { ...process.env, ...env }, stdio: "ignore", detached: true });
  if (child.pid) running.add(child.pid);
  child.once("exit", () => child.pid && running.delete(child.pid));
  return child;
}

async function stopGroup(child: ChildProcess) {
  if (child.exitCode !== null || child.signalCode !== null || !child.pid) return;
  const exited = new Promise((resolve) => child.once("exit", resolve));
  process.kill(-child.pid, "SIGKILL");
  await exited;
}

export async function startHost(kind: HostKind, env: Record<string, string>): Promise<RunningHost> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  if (kind === "component" || kind === "component-isolated") {
    // Exactly as npm start runs it: the splitter serves several requests at once.
    const concurrency = env.ROLE === "splitter" ? SPLITTER_CONCURRENCY : undefined;
    const pod = spawnPod({ name: `bench-${env.ROLE}`, port, env, isolate: kind === "component-isolated", concurrency, processGroup: true });
    return { url, stop: () => stopPod(pod) };
  }
  const child =
    kind === "native"
      ? spawnGroup(process.execPath, [NATIVE_BUNDLE], { ...env, PORT: String(port) })
      : spawnGroup(join(ROOT, "node_modules/.bin/jco"), ["serve", "--host", "127.0.0.1", "--port", String(port), join(ROOT, "dist/wasm-pods.wasm")], env);
  return { url, stop: () => stopGroup(child) };
}

/** Process spawn to the first 200 from GET /Sherlock on a greeter. */
export async function coldStartMs(kind: HostKind): Promise<number> {
  const started = performance.now();
  const host = await startHost(kind, { ROLE: "greeter", POD_NAME: "cold" });
  try {
    return await waitFor200(`${host.url}/Sherlock`, { since: started, timeoutMs: 30_000 });
  } finally {
    await host.stop();
  }
}
