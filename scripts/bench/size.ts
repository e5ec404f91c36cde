// Sizes and build times: the component (minified and not), its gzip, the image, the page,
// beside the native Node bundle; and wasmtime 27's compile, the shim's once-per-node step.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { PAGE_HTML, PAGE_ICON, PAGE_SCRIPT, PAGE_STYLE } from "../../src/page";
import { COMPONENT, ROOT } from "../../lib/build";
import { bundleSync } from "../../lib/esbuild";
import { median } from "../../lib/load";
import { findTool } from "../../lib/tools";
import { NATIVE_BUNDLE } from "./hosts";
import { limitTarget, ratioTarget, type Row, row } from "./report";
import { log } from "./settings";

/** What the page adds to the component: its four assets, as the component stores them. */
const PAGE_BYTES = [PAGE_HTML, PAGE_SCRIPT, PAGE_STYLE, PAGE_ICON].reduce((sum, text) => sum + Buffer.byteLength(text), 0);
const bytes = (path: string) => statSync(path).size;
const gzipBytes = (path: string) => gzipSync(readFileSync(path), { level: 9 }).length;

/** ./build.sh into a scratch dir; returns the step durations it printed. */
function buildVariant(dir: string, minify: boolean): { bundleMs: number; componentizeMs: number } {
  const result = spawnSync(join(ROOT, "build.sh"), {
    cwd: ROOT,
    env: { ...process.env, DIST: dir, MINIFY: minify ? "1" : "0" },
    encoding: "utf8",
  });
  if (result.status !== 0) throw new Error(`build.sh (MINIFY=${minify ? 1 : 0}) failed:\n${result.stdout}${result.stderr}`);
  const step = (label: string) => Number(new RegExp(`${label}[^:]*: (\\d+) ms`).exec(result.stdout)?.[1]);
  return { bundleMs: step("bundle"), componentizeMs: step("componentize") };
}

/** The component's size limit (issue 22): a bigger one is a bigger image, and a bigger artefact on every node. */
const COMPONENT_LIMIT_BYTES = 13.1e6;

/**
 * The minified bundle componentized again with `disableFeatures: ["stdio"]`, the one
 * StarlingMonkey feature the component does not use (it needs http, clocks and random:
 * fetch, Date and performance.now, crypto.randomUUID). Measured here, not adopted.
 */
function componentizeWithoutStdio(bundle: string, out: string): void {
  const result = spawnSync(join(ROOT, "node_modules/.bin/tsx"), ["scripts/componentize.ts", bundle, out, "--disable-features", "stdio"], { cwd: ROOT, encoding: "utf8" });
  if (result.status !== 0) throw new Error(`componentize --disable-features stdio failed:\n${result.stdout}${result.stderr}`);
}

export function bundleNative(): number {
  const started = performance.now();
  bundleSync("scripts/bench/native-pod.ts", NATIVE_BUNDLE, ["--minify", "--platform=node"], "bundling the native baseline");
  return performance.now() - started;
}

export async function sizeAndBuild(): Promise<Row[]> {
  log("== size and build: two component builds (bundle minified, and not), and the Node bundle");
  const scratch = mkdtempSync(join(tmpdir(), "wasm-pods-bench-"));
  try {
    const before = buildVariant(join(scratch, "plain"), false);
    const after = buildVariant(join(scratch, "min"), true);
    const nativeMs = median([bundleNative(), bundleNative(), bundleNative()]);
    const plain = join(scratch, "plain/wasm-pods.wasm");
    const min = join(scratch, "min/wasm-pods.wasm");
    const node = { label: "Node bundle", raw: bytes(NATIVE_BUNDLE), gz: gzipBytes(NATIVE_BUNDLE) };
    const noStdio = join(scratch, "no-stdio.wasm");
    componentizeWithoutStdio(join(scratch, "min/bundle.js"), noStdio);
    const shrink = ratioTarget(
      row("size", "component, minified bundle (this build)", bytes(min), "B", { label: "unminified bundle (before)", value: bytes(plain) }),
      "<= 1.0x the unminified",
      1,
    );
    return [
      limitTarget(row("size", "component (raw)", bytes(min), "B", { label: node.label, value: node.raw }), `<= ${COMPONENT_LIMIT_BYTES / 1e6} MB`, COMPONENT_LIMIT_BYTES),
      row("size", "component (gzip -9)", gzipBytes(min), "B", { label: `${node.label}, gzip`, value: node.gz }),
      shrink,
      row("size", "component gzip, minified bundle", gzipBytes(min), "B", { label: "unminified, gzip", value: gzipBytes(plain) }),
      row("size", 'component, componentize-js disableFeatures: ["stdio"] (not adopted)', bytes(noStdio), "B", { label: "component (this build)", value: bytes(min) }),
      row("size", "OCI image tarball", bytes(join(scratch, "min/wasm-pods.oci.tar")), "B", { label: "component", value: bytes(min) }),
      row("size", "browser page (HTML, script, style, icon)", PAGE_BYTES, "B", { label: "component", value: bytes(min) }),
      row("build", "bundle (esbuild, component)", after.bundleMs, "ms", { label: "Node bundle", value: nativeMs }),
      row("build", "componentize (minified bundle)", after.componentizeMs, "ms", { label: "unminified", value: before.componentizeMs }),
    ];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** wasmtime 27's own compile of the component: what the shim does once per node. */
export function engine(componentizeMs: number | undefined): Row[] {
  log("== production engine: wasmtime 27 compile (Cranelift), the shim's once-per-node step");
  const wasmtime = findTool("wasmtime")!;
  const scratch = mkdtempSync(join(tmpdir(), "wasm-pods-compile-"));
  try {
    const samples: number[] = [];
    for (let i = 0; i < 3; i++) {
      const started = performance.now();
      const result = spawnSync(wasmtime, ["compile", COMPONENT, "-o", join(scratch, "out.cwasm")], { stdio: "inherit" });
      if (result.status !== 0) throw new Error("wasmtime compile failed");
      samples.push(performance.now() - started);
    }
    return [
      // runwasi v0.6.0 keeps this in containerd's content store per node, and each task holds it twice in memory.
      row("engine", "precompiled artefact (cached per node; each shim task holds it twice)", bytes(join(scratch, "out.cwasm")), "B", { label: "component", value: bytes(COMPONENT) }),
      row("engine", "wasmtime compile (once per node)", median(samples), "ms", componentizeMs === undefined ? undefined : { label: "componentize", value: componentizeMs }),
    ];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}
