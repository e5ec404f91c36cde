// .github/workflows/k3s-e2e.yml needs the internet (k3s, runwasi's shim release), so it cannot
// run here. What can be checked is checked: it is valid against SchemaStore's GitHub-workflow
// JSON Schema (@action-validator/core) and to GitHub's own workflow parser and schema
// (@actions/workflow-parser, which also parses every ${{ }} expression); both validators are
// shown to reject a broken copy; its shell steps are shellcheck-clean; and it does the steps
// docs/k3s.md promises, in the order that matters.
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../scripts/lib/build";
import { requireTools, suiteTitle, toolPath } from "./support/tools";

const FILE = ".github/workflows/k3s-e2e.yml";
const source = readFileSync(join(ROOT, FILE), "utf8");
const shellcheck = requireTools("test/workflow.test.ts (shellcheck)", ["shellcheck"], "apt-get install shellcheck");

interface Step {
  name?: string;
  uses?: string;
  run?: string;
  if?: string;
  env?: Record<string, string>;
}
const workflow = parse(source) as { jobs: Record<string, { "runs-on": string; steps: Step[]; strategy: { matrix: Record<string, string[]> } }>; env: Record<string, string> };
const job = workflow.jobs.e2e!;
const steps = job.steps;
const indexOf = (predicate: (step: Step) => boolean, what: string) => {
  const index = steps.findIndex(predicate);
  if (index < 0) throw new Error(`no step ${what} in ${FILE}`);
  return index;
};

function schemaErrors(text: string): unknown[] {
  // The validator warns on stderr that it does not check `paths:` globs; only that is muted.
  const originals = { warn: console.warn, error: console.error };
  const filter = (write: (...args: unknown[]) => void) => (...args: unknown[]) => {
    if (!String(args[0]).startsWith("WARNING: Glob validation is not yet supported")) write(...args);
  };
  console.warn = filter(originals.warn);
  console.error = filter(originals.error);
  try {
    return validateWorkflow(text).errors;
  } finally {
    Object.assign(console, originals);
  }
}
/** GitHub's parser's errors for each text (one tsx process for all: see test/support/workflow-parse.ts). */
function parserErrors(texts: readonly string[]): string[][] {
  const input = JSON.stringify(texts.map((content) => ({ name: FILE, content })));
  const result = spawnSync(join(ROOT, "node_modules/.bin/tsx"), [join(ROOT, "test/support/workflow-parse.ts")], { input, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`workflow-parse.ts failed:\n${result.stderr}`);
  return JSON.parse(result.stdout) as string[][];
}

// Broken copies: a validator that accepts them would be checking nothing.
const noRunner = source.replace(/^ {4}runs-on: .*\n/m, "");
const openExpression = source.replace("${{ matrix.k3s }}", "${{ matrix.k3s ");

describe(FILE, () => {
  let parsed: { source: string[]; noRunner: string[]; openExpression: string[] };
  beforeAll(() => {
    const [a, b, c] = parserErrors([source, noRunner, openExpression]);
    parsed = { source: a!, noRunner: b!, openExpression: c! };
  });

  it("is valid against SchemaStore's github-workflow JSON Schema", () => {
    expect(schemaErrors(source)).toEqual([]);
  });

  it("parses with GitHub's workflow parser, expressions included", () => {
    expect(parsed.source).toEqual([]);
  });

  it("both validators reject a broken copy (they are not vacuous)", () => {
    expect(noRunner).not.toBe(source);
    expect(openExpression).not.toBe(source);
    expect(schemaErrors(noRunner)).not.toEqual([]);
    expect(parsed.noRunner.join("\n")).toContain("Required property is missing: runs-on");
    expect(parsed.openExpression.join("\n")).toMatch(/expression/i);
  });

  it("installs the v0.6.0 shim release aside, as one root-owned binary, before k3s starts", () => {
    expect(job.strategy.matrix.shim).toEqual(["v0.6.0"]);
    const shim = indexOf((step) => step.run?.includes("containerd-shim-wasmtime-x86_64-linux-musl.tar.gz") ?? false, "downloading the shim");
    const k3s = indexOf((step) => step.run?.includes("https://get.k3s.io") ?? false, "installing k3s");
    expect(shim).toBeLessThan(k3s); // k3s looks for shims on its PATH only when it starts
    const run = steps[shim]!.run!;
    expect(run).toContain("releases/download/containerd-shim-wasmtime/$SHIM/");
    expect(run).toMatch(/install -m 0755 -o root -g root "\$work\/containerd-shim-wasmtime-v1" \/usr\/local\/bin\//);
    expect(run).not.toMatch(/tar [^\n]*-C \/usr\/local\/bin/);
    expect(steps[k3s]!.env?.INSTALL_K3S_VERSION).toBe("${{ matrix.k3s }}");
    for (const version of job.strategy.matrix.k3s!) expect(version).toMatch(/^v1\.(3[0-9])\.\d+\+k3s\d+$/);
  });

  it("builds, then runs scripts/k3s-e2e.sh as root with the job's node, then cleans up always", () => {
    const build = indexOf((step) => step.run?.trim() === "./build.sh", "running ./build.sh");
    const e2e = indexOf((step) => step.run?.includes("scripts/k3s-e2e.sh --no-build") ?? false, "running the e2e");
    const cleanup = indexOf((step) => step.run?.includes("scripts/k3s-e2e.sh --cleanup") ?? false, "cleaning up");
    expect(build).toBeLessThan(e2e);
    expect(e2e).toBeLessThan(cleanup);
    expect(steps[e2e]!.run).toMatch(/^sudo -E env "PATH=\$PATH" /);
    expect(steps[cleanup]!.if).toBe("always()");
  });

  it.skipIf(!shellcheck.available)(suiteTitle("its run: steps are shellcheck-clean (as bash)", shellcheck), () => {
    const scripts = steps.filter((step) => step.run).map((step) => step.run!.replaceAll(/\$\{\{[^}]*\}\}/g, "x"));
    expect(scripts.length).toBeGreaterThan(4);
    for (const script of scripts) {
      const result = spawnSync(toolPath(shellcheck, "shellcheck"), ["-s", "bash", "-"], { input: script, encoding: "utf8" });
      expect(result.stdout, script).toBe("");
      expect(result.status).toBe(0);
    }
  });
});
