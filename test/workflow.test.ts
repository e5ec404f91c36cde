// .github/workflows/k3s-e2e.yml needs the internet (k3s, runwasi's shim release), so it cannot
// run here. What can be checked is checked: it is valid against SchemaStore's GitHub-workflow
// JSON Schema (@action-validator/core) and to GitHub's own workflow parser and schema
// (@actions/workflow-parser, which also parses every ${{ }} expression); both validators are
// shown to reject a broken copy; its shell steps are shellcheck-clean; it does the steps
// docs/k3s.md promises, in the order that matters; its wait for the node runs against stand-in
// k3s/kubectl (test/support/k3s-standins.ts) whose node registers late, as a fresh k3s's does;
// and its `paths` filters cover every file the build, the import and the e2e read, derived from
// build.sh and scripts/k3s-e2e.sh (the shell scripts they run, esbuild's import graph of the
// TypeScript they run, tsc's config chain, the repository paths that code names).
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { validateWorkflow } from "@action-validator/core";
import { buildSync } from "esbuild";
import ts from "typescript";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { ROOT } from "../lib/build";
import { createStandIns, type StandIns } from "./support/k3s-standins";
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
const workflow = parse(source) as {
  on: { push: { paths: string[] }; pull_request: { paths: string[] } };
  jobs: Record<string, { "runs-on": string; steps: Step[]; strategy: { matrix: Record<string, string[]> } }>;
  env: Record<string, string>;
};
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

/** A GitHub `paths` filter pattern as a RegExp: `**` is any characters, `*` any but `/`. */
function globRegExp(pattern: string): RegExp {
  if (/[?[\]{}!+]/.test(pattern)) throw new Error(`pattern ${pattern}: only * and ** are understood here`);
  const body = pattern.split("**").map((part) => part.split("*").map((text) => text.replace(/[.^$|()\\/]/g, "\\$&")).join("[^/]*")).join(".*");
  return new RegExp(`^${body}$`);
}

/** Tracked files at or below a repository path. */
function trackedFiles(path: string): string[] {
  const result = spawnSync("git", ["ls-files", "--", path], { cwd: ROOT, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`git ls-files ${path}: ${result.stderr}`);
  return result.stdout.split("\n").filter(Boolean);
}

/** Built or installed, or only named in messages (docs): not what the k3s path reads from the checkout. */
const notRead = (path: string) => /^(dist|node_modules|docs)(\/|$)|\.md$/.test(path);

/**
 * Repository paths (files or folders) named in `text`: words that exist relative to the root. In
 * shell text a bare word ("host", a variable there) counts only as tsc's `-p <project>`; a path
 * there has a slash or an extension.
 */
function namedPaths(text: string, shell: boolean): string[] {
  const words = text.split(/[\s"'=(){};|&<>,`]+/).map((word) => word.replace(/^\.\//, "").replace(/\/$/, ""));
  const pathLike = (word: string) => !shell || /[/.]/.test(word);
  const projects = shell ? [...text.matchAll(/\s-p\s+([\w./-]+)/g)].map((match) => match[1]!) : [];
  const named = [...words.filter(pathLike), ...projects];
  return [...new Set(named.filter((word) => /^[\w.][\w./-]*$/.test(word) && word !== "." && !word.startsWith("..") && !notRead(word) && existsSync(join(ROOT, word))))];
}

/**
 * Every tracked file the k3s path reads, starting from the shell scripts the workflow runs:
 * each script's named repository paths; a named .sh is followed; a named .ts is bundled by
 * esbuild to collect its local imports, whose string literals naming repository paths (package.json,
 * wit, ...) count too, outside src/ (the component's code, which runs in wasm); a named folder counts whole, its tsconfig.json's `extends` chain
 * (tsc -p <folder>, tsx) and its kustomization.yaml's resources, components and patches
 * (kubectl apply -k) are followed; `npm ci` reads package.json and package-lock.json.
 */
function filesTheK3sPathReads(scripts: readonly string[]): Set<string> {
  const files = new Set<string>();
  const seen = new Set<string>();
  const queue = [...scripts];
  const addTsconfigChain = (config: string) => {
    for (let path: string | undefined = join(ROOT, config); path; ) {
      files.add(relative(ROOT, path));
      const read = ts.readConfigFile(path, ts.sys.readFile);
      if (read.error) throw new Error(`${path}: ${ts.flattenDiagnosticMessageText(read.error.messageText, "\n")}`);
      const parent = (read.config as { extends?: string }).extends;
      path = parent ? join(dirname(path), parent) : undefined;
    }
  };
  while (queue.length > 0) {
    const path = queue.shift()!;
    if (seen.has(path)) continue;
    seen.add(path);
    if (statSync(join(ROOT, path)).isDirectory()) {
      for (const file of trackedFiles(path)) files.add(file);
      if (existsSync(join(ROOT, path, "tsconfig.json"))) addTsconfigChain(join(path, "tsconfig.json"));
      if (existsSync(join(ROOT, path, "kustomization.yaml"))) {
        // kubectl apply -k: the kustomization's resources, components and patch files.
        const kustomization = parse(readFileSync(join(ROOT, path, "kustomization.yaml"), "utf8")) as { resources?: string[]; components?: string[]; patches?: { path?: string }[] };
        const refs = [...(kustomization.resources ?? []), ...(kustomization.components ?? []), ...(kustomization.patches ?? []).flatMap((patch) => (patch.path ? [patch.path] : []))];
        queue.push(...refs.map((ref) => relative(ROOT, join(ROOT, path, ref))));
      }
      continue;
    }
    files.add(path);
    const text = readFileSync(join(ROOT, path), "utf8");
    if (path.endsWith(".sh")) {
      queue.push(...namedPaths(text.split("\n").filter((line) => !/^\s*#/.test(line)).join("\n"), true));
      if (/\bnpm ci\b/.test(text)) queue.push("package.json", "package-lock.json");
    } else if (path.endsWith(".ts")) {
      addTsconfigChain("tsconfig.json"); // tsx and tsc read the root config for every .ts
      const bundle = buildSync({
        entryPoints: [path], absWorkingDir: ROOT, bundle: true, write: false, metafile: true, logLevel: "silent",
        platform: "node", format: "esm", packages: "external", external: ["wasi:*"],
      });
      for (const input of Object.keys(bundle.metafile!.inputs)) {
        if (notRead(input)) continue;
        files.add(input);
        // The component's own code runs in wasm and reads nothing from the checkout ("host" there is a header).
        if (input.startsWith("src/")) continue;
        const literals = [...readFileSync(join(ROOT, input), "utf8").matchAll(/"([^"\n]+)"/g)].map((match) => match[1]!);
        queue.push(...namedPaths(literals.join("\n"), false));
      }
    }
  }
  return files;
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

  describe("the wait for the node, on stand-in k3s/kubectl whose node registers late", () => {
    const standIns: StandIns[] = [];
    afterAll(() => standIns.forEach((standIn) => standIn.cleanup()));
    const waitStep = () => steps[indexOf((step) => step.run?.includes("wait --for=condition=Ready node") ?? false, "waiting for the node to be Ready")]!;
    // As GitHub runs a run: step (shell: bash).
    const runStep = (standIn: StandIns) => standIn.run("bash", ["--noprofile", "--norc", "-eo", "pipefail", "-c", waitStep().run!]);

    it("waits until a node is listed, then for Ready (kubectl wait on no nodes fails at once)", async () => {
      const standIn = createStandIns({ ref: "unused", k3sVersion: "v1.32.3+k3s1", containerdVersion: "v2.0.4-k3s2", nodes: [{ name: "runner", internalIPs: ["10.1.0.4"] }], nodesRegisterAfter: 2 });
      standIns.push(standIn);
      const run = await runStep(standIn);
      expect(run.status, `${run.stdout}\n${run.stderr}`).toBe(0);
      expect(run.stdout).toContain("node/runner condition met");
      const kubectl = run.calls.filter((call) => call.startsWith("kubectl "));
      const wait = kubectl.indexOf("kubectl wait --for=condition=Ready node --all --timeout=180s");
      expect(wait).toBeGreaterThan(2); // two empty listings, the one that named the node, then the wait
      expect(kubectl.slice(0, wait).every((call) => call === "kubectl get nodes -o name")).toBe(true);
      expect(kubectl.slice(wait + 1)).toEqual(["kubectl get runtimeclass/wasmtime", "kubectl get serviceaccount/default"]);
    }, 60_000);
  });

  it("its paths filters (push and pull_request alike) cover every file the build, the import and the e2e read", () => {
    const { push, pull_request: pullRequest } = workflow.on;
    expect(pullRequest.paths).toEqual(push.paths);
    // The scripts the workflow runs from the checkout.
    const scripts = [...new Set(steps.flatMap((step) => namedPaths(step.run ?? "", true)))].sort();
    expect(scripts).toEqual(["build.sh", "scripts/k3s-e2e.sh"]);
    const read = filesTheK3sPathReads(scripts);
    // Not vacuous: what each kind of reading brings in.
    for (const file of ["src/main.ts", "scripts/componentize.ts", "scripts/image/build-image.ts", "scripts/image/import-k3s.sh", "lib/build.ts", "lib/errors.ts", "tsconfig.json", "src/tsconfig.json", "wit/world.wit", "kustomize/base/deployment.yaml", "package.json", "package-lock.json"]) {
      expect(read, file).toContain(file);
    }
    const patterns = [...push.paths.map(globRegExp)];
    const uncovered = [...read, FILE].filter((file) => !patterns.some((pattern) => pattern.test(file)));
    expect(uncovered).toEqual([]);
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
