// Runs scripts/engine-check.py (real wasmtime via the `wasmtime` PyPI package, from the
// .venv-engine/ venv that .ci/run creates) and returns its JSON report.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { join } from "node:path";
import { ROOT } from "./build";

export const ENGINE_PYTHON = join(ROOT, ".venv-engine/bin/python");

export interface EngineReport {
  component_bytes: number;
  compile_ms: number;
  serialized_bytes: number;
  instantiate_ms: number | null;
  /** Median of fresh store + instance, as the shim does per request. */
  instantiate_median_ms: number | null;
  instantiations: number;
  /** null when the component linked and instantiated. */
  link_error: string | null;
  /** Imported interface -> its function/resource names. */
  imports: Record<string, string[]>;
  exports: string[];
}

export function engineAvailability(): { available: boolean; reason: string } {
  if (!existsSync(ENGINE_PYTHON)) {
    return { available: false, reason: "no .venv-engine/ (python3 -m venv .venv-engine && .venv-engine/bin/pip install wasmtime==49.0.0)" };
  }
  const probe = spawnSync(ENGINE_PYTHON, ["-c", "import wasmtime.component"], { encoding: "utf8" });
  if (probe.status !== 0) return { available: false, reason: `.venv-engine/ lacks the wasmtime package: ${probe.stderr.trim()}` };
  return { available: true, reason: "" };
}

/** `serial`: compile on one thread, leaving the other cores to whatever runs beside it. */
export function runEngineCheck(componentPath: string, options: { serial?: boolean } = {}): EngineReport {
  const args = [join(ROOT, "scripts/engine-check.py"), componentPath, ...(options.serial ? ["--serial"] : [])];
  const result = spawnSync(ENGINE_PYTHON, args, {
    encoding: "utf8",
    maxBuffer: 16 * 1024 * 1024,
  });
  if (result.status !== 0) throw new Error(`engine-check.py failed (exit ${result.status}):\n${result.stderr}`);
  return JSON.parse(result.stdout) as EngineReport;
}

/**
 * Imports no released containerd-shim-wasmtime can satisfy (v0.6.0 = wasmtime 27 = WASI 0.2.2;
 * runwasi main = WASI 0.2.6): `wasi:cli/exit.exit-with-code` arrived in WASI 0.2.12. Wasmtime 49
 * itself links it, so the link check alone does not catch it.
 */
export function importsBeyondReleasedShims(imports: Readonly<Record<string, readonly string[]>>): string[] {
  return Object.entries(imports).flatMap(([iface, names]) =>
    iface.startsWith("wasi:cli/exit@") && names.includes("exit-with-code") ? [`${iface}#exit-with-code`] : [],
  );
}
