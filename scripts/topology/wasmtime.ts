// Pods on the production engine: `wasmtime serve`, one process per pod, with
// the pod's environment passed explicitly (`--env`), as the k3s shim hands the
// container env to the guest. It makes a fresh instance per request itself.
import { spawn } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { delimiter, join } from "node:path";
import type { PodSpec, RunningPod } from "../lib/pods";

/** The argv after `wasmtime` for one pod. */
export function wasmtimeServeArgs(spec: Pick<PodSpec, "host" | "port" | "env">, component: string): string[] {
  const host = spec.host ?? "127.0.0.1";
  const address = host.includes(":") ? `[${host}]:${spec.port}` : `${host}:${spec.port}`;
  // componentize-js components import wasi:cli beyond the proxy world: `-S cli` links it.
  const envFlags = Object.entries(spec.env).flatMap(([name, value]) => ["--env", `${name}=${value}`]);
  return ["serve", "-S", "cli", "--addr", address, ...envFlags, component];
}

/** The first executable `command` on `pathVariable`, or undefined. */
export function findExecutable(
  command: string,
  pathVariable: string,
  isExecutable: (path: string) => boolean = canExecute,
): string | undefined {
  for (const dir of pathVariable.split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, command);
    if (isExecutable(candidate)) return candidate;
  }
  return undefined;
}

function canExecute(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** Starts one pod under `wasmtime serve`, in a process group of its own like spawnPod's. */
export function spawnWasmtimePod(
  wasmtime: string,
  component: string,
  spec: PodSpec,
  output: "ignore" | "pipe" = "pipe",
): RunningPod {
  // POD_NAME and HOSTNAME as the downward API and the container runtime set them.
  const env = { HOSTNAME: spec.name, POD_NAME: spec.name, ...spec.env };
  const fullSpec: PodSpec = { ...spec, env, processGroup: true };
  const child = spawn(wasmtime, wasmtimeServeArgs(fullSpec, component), {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
    stdio: ["ignore", output, output],
    detached: true,
  });
  const exited = new Promise<number | string>((resolve) =>
    child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")),
  );
  // A missing binary surfaces as an 'error' event, with no 'exit': report it as an exit.
  const failed = new Promise<string>((resolve) => child.once("error", (error) => resolve(error.message)));
  const host = spec.host ?? "127.0.0.1";
  return {
    spec: fullSpec,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${spec.port}`,
    child,
    exited: Promise.race([exited, failed]),
  };
}
