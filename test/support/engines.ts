// The engines a suite runs the real component on, each as a case that is run,
// skipped with its reason in the title, or (under CI) failed: a suite must never
// lose its wasmtime cases without saying so.
import type { Runtime } from "../../host/runtimes";
import { testRuntimes } from "./pods";
import { requireTools, suiteTitle, type ToolCheck } from "./tools";

export interface EngineCase {
  name: "jco" | "wasmtime";
  /** Undefined when the engine is missing: describe.skipIf(!runtime) with `title`. */
  runtime: Runtime | undefined;
  /** The suite title, with [SKIPPED: why] when the engine is missing. */
  title: string;
}

/** The README pins wasmtime 27.0.0: the engine of runwasi's containerd-shim-wasmtime v0.6.0. */
export const PINNED_WASMTIME = "27.0.0";

/**
 * Call at a test file's top level. jco is always there (npm install); wasmtime is
 * checked by requireTools, which fails the run under CI=true when it is missing.
 */
export function engineCases(suite: string, title: (engine: string) => string): EngineCase[] {
  const runtimes = testRuntimes();
  const wasmtime: ToolCheck = requireTools(suite, ["wasmtime"], "scripts/install-tools.sh builds wasmtime 27.0.0");
  return (["jco", "wasmtime"] as const).map((name) => {
    const runtime = runtimes.find((r) => r.name === name);
    const check: ToolCheck = name === "jco" || runtime ? { available: true, reason: "", paths: {} } : wasmtime;
    return { name, runtime, title: suiteTitle(title(runtime?.version ?? name), check) };
  });
}
