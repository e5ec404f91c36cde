// jco transpile, once per build: the local pod host loads the component from
// here instead of re-transpiling on every start as `jco serve` does (~1.9 s).
import { spawnSync } from "node:child_process";
import { statSync } from "node:fs";
import { join } from "node:path";
import { COMPONENT, ROOT } from "./build";

export const TRANSPILED_DIR = join(ROOT, "dist/host");
export const TRANSPILED_MODULE = join(TRANSPILED_DIR, "wasm-pods.js");

export function ensureTranspiled(): { transpiled: boolean } {
  const source = statSync(COMPONENT, { throwIfNoEntry: false });
  if (!source) throw new Error(`${COMPONENT} is missing: run ./build.sh first`);
  const output = statSync(TRANSPILED_MODULE, { throwIfNoEntry: false });
  if (output && output.mtimeMs >= source.mtimeMs) return { transpiled: false };
  const jco = join(ROOT, "node_modules/.bin/jco");
  const args = ["transpile", COMPONENT, "-o", TRANSPILED_DIR, "--name", "wasm-pods"];
  // Sync instantiation lets the host make a fresh instance per request when asked.
  const result = spawnSync(jco, [...args, "--instantiation", "sync", "--no-typescript", "--quiet"], {
    cwd: ROOT,
    stdio: ["ignore", 2, 2],
  });
  if (result.status !== 0) throw new Error(`jco transpile failed (exit ${result.status})`);
  return { transpiled: true };
}
