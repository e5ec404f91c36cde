// One answer to "is dist/ up to date?", shared by the test setup, `npm start`
// and the benchmark: rebuild when an output is missing or older than any input.
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import { join, resolve } from "node:path";

export const ROOT = resolve(import.meta.dirname, "..");
export const COMPONENT = join(ROOT, "dist/wasm-pods.wasm");
/** OCI image-layout tarball of COMPONENT (scripts/image/build-image.ts), for `ctr images import`. */
export const IMAGE_TARBALL = join(ROOT, "dist/wasm-pods.oci.tar");

/** Everything build.sh reads. */
// package.json: its name and version are the image ref; lib/esbuild.ts (and the ROOT it takes from here): the bundle's flags.
const INPUTS = ["src", "wit", "build.sh", "lib/esbuild.ts", "lib/build.ts", "scripts/componentize.ts", "scripts/image", "package.json", "package-lock.json"];

/** The newest modification time of `path` (a file, or anything below a folder); 0 when it does not exist. */
export function newestMtime(path: string): number {
  const stat = statSync(path, { throwIfNoEntry: false });
  if (!stat) return 0;
  if (!stat.isDirectory()) return stat.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((entry) => newestMtime(join(path, entry))));
}

function staleOutputs(outputs: readonly string[] = [COMPONENT, IMAGE_TARBALL]): string[] {
  const inputsChanged = Math.max(...INPUTS.map((input) => newestMtime(join(ROOT, input))));
  return outputs.filter((output) => {
    const stat = statSync(output, { throwIfNoEntry: false });
    return !stat || stat.mtimeMs < inputsChanged;
  });
}

/** Runs ./build.sh when needed; its step lines go to stderr so callers' stdout stays theirs. */
export function ensureBuilt(outputs: readonly string[] = [COMPONENT, IMAGE_TARBALL]): { built: boolean } {
  const stale = staleOutputs(outputs);
  if (stale.length === 0) return { built: false };
  const result = spawnSync(join(ROOT, "build.sh"), { cwd: ROOT, stdio: ["ignore", 2, 2] });
  if (result.status !== 0) throw new Error(`./build.sh failed (exit ${result.status}); see its output above`);
  return { built: true };
}
