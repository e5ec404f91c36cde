// jco transpile, once per build: the local pod host loads the component from
// here instead of re-transpiling on every start as `jco serve` does (~1.9 s).
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { COMPONENT, ROOT } from "./build";

export const TRANSPILED_DIR = join(ROOT, "dist/host");
export const TRANSPILED_MODULE = join(TRANSPILED_DIR, "wasm-pods.js");
/** scripts/pod.ts compiled to plain JS, so a pod is one node process with no loader. */
export const POD_HOST = join(TRANSPILED_DIR, "pod.mjs");
const POD_HOST_SOURCES = ["scripts/pod.ts", "scripts/pod/handler.ts", "scripts/pod/workers.ts", "scripts/topology/parent-watch.ts"].map((path) =>
  join(ROOT, path),
);

function mtime(path: string): number {
  return statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
}

function run(command: string, args: string[], what: string) {
  const result = spawnSync(join(ROOT, "node_modules/.bin", command), args, { cwd: ROOT, stdio: ["ignore", 2, 2] });
  if (result.status !== 0) throw new Error(`${what} failed (exit ${result.status})`);
}

export function ensureTranspiled(): { transpiled: boolean } {
  if (!mtime(COMPONENT)) throw new Error(`${COMPONENT} is missing: run ./build.sh first`);
  let transpiled = false;
  if (mtime(TRANSPILED_MODULE) < mtime(COMPONENT)) {
    // Sync instantiation lets the host make a fresh instance per request when asked.
    const args = ["transpile", COMPONENT, "-o", TRANSPILED_DIR, "--name", "wasm-pods", "--instantiation", "sync"];
    run("jco", [...args, "--no-typescript", "--quiet"], "jco transpile");
    transpiled = true;
  }
  if (mtime(POD_HOST) < Math.max(...POD_HOST_SOURCES.map(mtime))) {
    const args = ["scripts/pod.ts", "--bundle", "--platform=node", "--format=esm", "--packages=external"];
    run("esbuild", [...args, "--log-level=warning", `--outfile=${POD_HOST}`], "compiling the pod host");
  }
  return { transpiled };
}
