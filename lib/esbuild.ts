// esbuild, as this repository runs it: one ES module bundle per entry, warnings only.
// The component's own bundle is build.sh's step (bash, so it spells its flags out);
// COMPONENT_FLAGS are those flags, for anything else that must bundle like a component.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ROOT } from "./build";

export const ESBUILD = join(ROOT, "node_modules/.bin/esbuild");

/** build.sh's bundle step without --minify: wasi:* are host imports that componentize-js binds. */
export const COMPONENT_FLAGS = ["--platform=neutral", "--target=es2022", "--main-fields=module,main", "--external:wasi:*"];

/**
 * The argv after `esbuild` that bundles each entry (paths from the repository root): one
 * entry into `out` as a file, several into `out` as a folder, each as <its name>.mjs.
 */
export function esbuildArgs(entries: string | readonly string[], out: string, flags: readonly string[]): string[] {
  const common = ["--bundle", "--format=esm", "--log-level=warning", ...flags];
  if (typeof entries === "string") return [entries, ...common, `--outfile=${out}`];
  return [...entries, ...common, `--outdir=${out}`, "--out-extension:.js=.mjs"];
}

/** Bundles `entry` into `outfile` from the repository root, blocking; throws naming `what` when esbuild fails. */
export function bundleSync(entry: string, outfile: string, flags: readonly string[], what: string): void {
  const result = spawnSync(ESBUILD, esbuildArgs(entry, outfile, flags), { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error(`${what} failed`);
}
