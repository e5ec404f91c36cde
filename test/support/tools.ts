// A tool a suite needs (wasmtime, kustomize, containerd, chromium, ...): found in
// scripts/install-tools.sh's folder or on the PATH. Missing on a laptop: the suite
// skips, saying why. Missing under CI=true, where .ci/run installs every tool: a
// test named after the tool fails, so a broken CI setup can never pass by skipping.
import { it } from "vitest";
import { findTool } from "../../scripts/lib/tools";

export const IN_CI = process.env.CI === "true";

/** Call at the top level of a test file. Returns the tool's path, or undefined (and registers the skip or failure). */
export function requireTool(name: string, hint: string): string | undefined {
  const path = findTool(name);
  if (path) return path;
  const reason = `${name} not found (${hint})`;
  if (IN_CI) {
    it(`${name} is installed (required when CI=true)`, () => {
      throw new Error(`CI=true but ${reason}`);
    });
  } else {
    console.warn(`SKIPPED: ${reason}`);
  }
  return undefined;
}

/** A suite title that carries the skip reason, so the skip shows in the report. */
export function titled(title: string, tool: string | undefined, name: string): string {
  return tool ? title : `${title} [SKIPPED: ${name} not installed]`;
}
