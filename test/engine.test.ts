// The component links and instantiates in a real wasmtime given only the host interfaces
// runwasi's containerd-shim-wasmtime provides (WASI p2 + wasi:http), exports the handler the
// shim serves, and imports nothing the released shims lack.
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT } from "../scripts/lib/build";
import { engineAvailability, importsBeyondReleasedShims, runEngineCheck, type EngineReport } from "../scripts/lib/engine";
import { reportMissing, suiteTitle } from "./support/kube-tools";

const engine = engineAvailability();
// pip/PyPI may be unreachable on a user's machine, so this one only skips (visibly), even in CI.
reportMissing("test/engine.test.ts", engine, { failInCi: false });

describe.skipIf(!engine.available)(suiteTitle("wasmtime with the shim's linker set", engine), () => {
  let report: EngineReport;
  let dir: string;

  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "wp-engine-"));
    report = runEngineCheck(COMPONENT, { serial: true });
    console.info(
      `    wasmtime 49: compile (one thread) ${report.compile_ms} ms for ${(report.component_bytes / 1e6).toFixed(1)} MB, ` +
        `precompiled (serialized) ${(report.serialized_bytes / 1e6).toFixed(1)} MB, instantiate ${report.instantiate_ms?.toFixed(2)} ms`,
    );
  }, 180_000);
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("links and instantiates with only WASI p2 + wasi:http host interfaces", () => {
    expect(report.link_error).toBeNull();
    expect(report.instantiate_ms).not.toBeNull();
    expect(report.serialized_bytes).toBeGreaterThan(0);
  });

  it("exports wasi:http/incoming-handler (what the shim serves)", () => {
    expect(report.exports.some((name) => /^wasi:http\/incoming-handler@0\.2\.\d+$/.test(name))).toBe(true);
  });

  it("imports only wasi:* interfaces and nothing newer than the released shims provide", () => {
    const imported = Object.keys(report.imports);
    expect(imported.length).toBeGreaterThan(0);
    expect(imported.filter((name) => !name.startsWith("wasi:"))).toEqual([]);
    expect(importsBeyondReleasedShims(report.imports)).toEqual([]);
  });

  // Controls: the harness can see what it is meant to catch.
  it("control: an import outside the shim's interfaces fails to link", () => {
    const path = join(dir, "unknown-import.wat");
    writeFileSync(path, '(component (import "wasi:keyvalue/store@0.2.0-draft" (instance (export "open" (func)))))');
    expect(runEngineCheck(path, { serial: true }).link_error).toMatch(/wasi:keyvalue\/store/);
  });

  it("control: an exit-with-code import is reported (wasmtime 49 itself would link it)", () => {
    const path = join(dir, "exit-with-code.wat");
    writeFileSync(
      path,
      '(component (import "wasi:cli/exit@0.2.12" (instance (export "exit-with-code" (func (param "status-code" u8))))))',
    );
    const control = runEngineCheck(path, { serial: true });
    expect(importsBeyondReleasedShims(control.imports)).toEqual(["wasi:cli/exit@0.2.12#exit-with-code"]);
  });
});
