// esbuild, as this repository runs it: one ES module bundle per entry, warnings only.
// COMPONENT_FLAGS are the component's own flags: build.sh's bundle step takes its argv from
// here (`tsx lib/esbuild.ts component ...`), and so does anything else that must bundle like
// the component.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { ROOT } from "./build";

export const ESBUILD = join(ROOT, "node_modules/.bin/esbuild");

/** The component's bundle: wasi:* are host imports that componentize-js binds, so they stay external. */
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

const USAGE = "usage: tsx lib/esbuild.ts component <entry> <outfile> [--minify]";

// build.sh's bundle step: prints the argv after `esbuild`, one per line, so that build.sh runs
// and times esbuild alone (a tsx start would count in the bench's bundle figure otherwise).
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [mode, entry, outfile, ...rest] = process.argv.slice(2);
  const minify = rest.length === 1 && rest[0] === "--minify";
  if (mode !== "component" || !entry || !outfile || (rest.length > 0 && !minify)) {
    console.error(USAGE);
    process.exit(2);
  }
  const flags = minify ? ["--minify", ...COMPONENT_FLAGS] : COMPONENT_FLAGS;
  console.log(esbuildArgs(entry, outfile, flags).join("\n"));
}
