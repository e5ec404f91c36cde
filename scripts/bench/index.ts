// npm run bench: the component against its baselines, every pair measured in
// the same run, bounded, loopback only. Prints a table, writes
// bench/results.json, bench/results.md and bench/chart.svg.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { COMPONENT, ensureBuilt, IMAGE_TARBALL, ROOT } from "../lib/build";
import { engineAvailability, runEngineCheck } from "../lib/engine";
import { median, medianLatency, type RoundResult, runLoad, summarize } from "../lib/load";
import { waitFor200 } from "../lib/pods";
import { ensureTranspiled } from "../lib/transpile";
import { startTopology } from "../topology/topology";
import { ratioChartSvg } from "./chart";
import { coldStartMs, HOST_LABELS, type HostKind, NATIVE_BUNDLE, startHost } from "./hosts";
import { formatMarkdown, formatTable, type Row, row, withTarget } from "./report";

const OUT_DIR = join(ROOT, "bench");
const ROUNDS = 3;
const LOAD = { connections: 10, seconds: 3, rounds: ROUNDS, warmupSeconds: 1, maxRequests: 200_000 };
const COLD_STARTS = 5;
const FAN_OUT_NAMES = ["Sherlock", "Po", "Aang", "Sam", "Katara", "Sokka", "Toph", "Zuko", "Iroh", "Suki", "Azula", "Mai", "Ty Lee", "Appa", "Momo", "Yue"];

const log = (line: string) => console.error(line);
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

function bundleNative(): number {
  const started = performance.now();
  const args = ["scripts/bench/native-pod.ts", "--bundle", "--minify", "--platform=node", "--format=esm", "--log-level=warning"];
  const result = spawnSync(join(ROOT, "node_modules/.bin/esbuild"), [...args, `--outfile=${NATIVE_BUNDLE}`], { cwd: ROOT, stdio: "inherit" });
  if (result.status !== 0) throw new Error("bundling the native baseline failed");
  return performance.now() - started;
}

async function sizeAndBuild(): Promise<Row[]> {
  log("== size and build: two component builds (bundle minified, and not), and the Node bundle");
  const scratch = mkdtempSync(join(tmpdir(), "wasm-pods-bench-"));
  try {
    const before = buildVariant(join(scratch, "plain"), false);
    const after = buildVariant(join(scratch, "min"), true);
    const nativeMs = median([bundleNative(), bundleNative(), bundleNative()]);
    const plain = join(scratch, "plain/wasm-pods.wasm");
    const min = join(scratch, "min/wasm-pods.wasm");
    const node = { label: "Node bundle", raw: bytes(NATIVE_BUNDLE), gz: gzipBytes(NATIVE_BUNDLE) };
    const shrink = withTarget(
      row("size", "component, minified bundle (this build)", bytes(min), "B", { label: "unminified bundle (before)", value: bytes(plain) }),
      "not larger than before",
      bytes(min) <= bytes(plain),
      `${bytes(min) - bytes(plain)} B larger`,
    );
    return [
      row("size", "component (raw)", bytes(min), "B", { label: node.label, value: node.raw }),
      row("size", "component (gzip -9)", gzipBytes(min), "B", { label: `${node.label}, gzip`, value: node.gz }),
      shrink,
      row("size", "component gzip, minified bundle", gzipBytes(min), "B", { label: "unminified, gzip", value: gzipBytes(plain) }),
      row("size", "OCI image tarball", bytes(join(scratch, "min/wasm-pods.oci.tar")), "B", { label: "component", value: bytes(min) }),
      row("build", "bundle (esbuild, component)", after.bundleMs, "ms", { label: "Node bundle", value: nativeMs }),
      row("build", "componentize (minified bundle)", after.componentizeMs, "ms", { label: "unminified", value: before.componentizeMs }),
    ];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function coldStarts(): Promise<Row[]> {
  log(`== cold start: spawn to first 200, median of ${COLD_STARTS}`);
  const measure = async (kind: HostKind) => {
    const samples: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) samples.push(await coldStartMs(kind));
    log(`   ${HOST_LABELS[kind]}: ${samples.map((s) => s.toFixed(0)).join(", ")} ms`);
    return median(samples);
  };
  const native = { label: "native Node", value: await measure("native") };
  const local = await measure("component");
  const jco = await measure("jco-serve");
  return [
    withTarget(row("cold start", "component, local host", local, "ms", native), "<= 500 ms", local <= 500, `${(local - 500).toFixed(0)} ms over`),
    row("cold start", "component, plain jco serve", jco, "ms", native),
    row("cold start", "component, local host", local, "ms", { label: "plain jco serve", value: jco }),
  ];
}

/** A role's app on one kind of host (a splitter gets a greeter of the same kind). */
async function startRole(kind: HostKind, role: "greeter" | "splitter") {
  const greeter = role === "splitter" ? await startHost(kind, { ROLE: "greeter", POD_NAME: "g" }) : undefined;
  const host = await startHost(kind, { ROLE: role, POD_NAME: role, ...(greeter ? { GREETER_URL: greeter.url } : {}) });
  const url = `${host.url}${role === "greeter" ? "/Sherlock" : "/split/Sherlock,Po"}`;
  await waitFor200(url, { timeoutMs: 30_000 });
  return {
    url,
    stop: async () => {
      await host.stop();
      await greeter?.stop();
    },
  };
}

const THROUGHPUT_HOSTS: HostKind[] = ["native", "jco-serve", "component", "component-isolated"];

/**
 * Rounds are interleaved across hosts (round 1 of each, then round 2 of each, ...)
 * so drift in the machine's load hits every host alike; medians of the rounds.
 */
async function throughputOf(role: "greeter" | "splitter"): Promise<Record<HostKind, RoundResult>> {
  const hosts = await Promise.all(THROUGHPUT_HOSTS.map((kind) => startRole(kind, role)));
  try {
    const rounds = new Map<HostKind, RoundResult[]>(THROUGHPUT_HOSTS.map((kind) => [kind, []]));
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [i, kind] of THROUGHPUT_HOSTS.entries()) {
        // Round 0 is each host's warm-up.
        const seconds = round === 0 ? LOAD.warmupSeconds : LOAD.seconds;
        const result = await runLoad({ ...LOAD, seconds, rounds: 1, warmupSeconds: 0, url: hosts[i]!.url });
        if (result.median.non2xx || result.median.errors) throw new Error(`${role} on ${kind}: non-2xx or errors under load`);
        if (round > 0) rounds.get(kind)!.push(result.median);
      }
    }
    const medians = {} as Record<HostKind, RoundResult>;
    for (const kind of THROUGHPUT_HOSTS) {
      const results = rounds.get(kind)!;
      medians[kind] = summarize(results);
      log(`   ${role} on ${HOST_LABELS[kind]}: ${results.map((r) => r.rps.toFixed(0)).join(", ")} req/s; p99 ${medians[kind].p99} ms`);
    }
    return medians;
  } finally {
    await Promise.all(hosts.map((host) => host.stop()));
  }
}

async function throughput(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const role of ["greeter", "splitter"] as const) {
    log(`== ${role} throughput: ${LOAD.connections} connections, warm-up ${LOAD.warmupSeconds} s, median of ${ROUNDS} interleaved rounds of ${LOAD.seconds} s`);
    const { native, "jco-serve": jco, component: local, "component-isolated": isolated } = await throughputOf(role);
    const section = `${role} load`;
    rows.push(
      withTarget(
        row(section, "local host req/s", local.rps, "req/s", { label: "plain jco serve", value: jco.rps }),
        ">= plain jco serve",
        local.rps >= jco.rps,
        `${((1 - local.rps / jco.rps) * 100).toFixed(1)}% fewer`,
      ),
      row(section, "local host req/s", local.rps, "req/s", { label: "native Node", value: native.rps }),
      row(section, "local host, instance per request, req/s", isolated.rps, "req/s", { label: "local host, reused", value: local.rps }),
      row(section, "local host p99 at 10 connections", local.p99, "ms", { label: "plain jco serve", value: jco.p99 }),
    );
  }
  return rows;
}

const LATENCY = { requests: 300, seconds: 3 };

async function latency(): Promise<Row[]> {
  log(`== latency at 1 connection (sequential, sub-ms timer), median of ${ROUNDS} rounds of <= ${LATENCY.requests} requests`);
  const rows: Row[] = [];
  for (const role of ["greeter", "splitter"] as const) {
    const measure = async (kind: HostKind) => {
      const host = await startRole(kind, role);
      try {
        const result = await medianLatency(host.url, ROUNDS, LATENCY);
        log(`   ${role} on ${HOST_LABELS[kind]}: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`);
        return result;
      } finally {
        await host.stop();
      }
    };
    const native = await measure("native");
    const jco = await measure("jco-serve");
    const local = await measure("component");
    const section = `${role} latency`;
    rows.push(
      row(section, "local host p50", local.p50, "ms", { label: "native Node", value: native.p50 }),
      row(section, "local host p99", local.p99, "ms", { label: "native Node", value: native.p99 }),
      row(section, "local host p50", local.p50, "ms", { label: "plain jco serve", value: jco.p50 }),
    );
  }
  return rows;
}

const fanOutPath = (count: number) => `/split/${FAN_OUT_NAMES.slice(0, count).map(encodeURIComponent).join(",")}`;

/** p50 of /split with 1, 4 and 16 names against a splitter at `base`. */
async function fanOutP50s(base: string, label: string): Promise<Record<1 | 4 | 16, number>> {
  const p50s = {} as Record<1 | 4 | 16, number>;
  for (const count of [1, 4, 16] as const) {
    p50s[count] = (await medianLatency(`${base}${fanOutPath(count)}`, ROUNDS, LATENCY)).p50;
  }
  log(`   ${label}: p50 ${Object.entries(p50s).map(([n, ms]) => `${n} names ${ms.toFixed(2)} ms`).join(", ")}`);
  return p50s;
}

async function fanOut(): Promise<Row[]> {
  log(`== splitter fan-out: p50 at 1 connection, median of ${ROUNDS} rounds`);
  const topology = await startTopology({ splitterPort: 0, greeterPort: null, build: false });
  let local: Record<1 | 4 | 16, number>;
  try {
    local = await fanOutP50s(topology.splitterUrl, "local topology (splitter -> ClusterIP -> 2 greeter pods)");
  } finally {
    await topology.stop();
  }
  // The same fan-out in native Node shows what the code itself does with 16 concurrent calls.
  const greeter = await startHost("native", { ROLE: "greeter" });
  const splitter = await startHost("native", { ROLE: "splitter", GREETER_URL: greeter.url });
  let native: Record<1 | 4 | 16, number>;
  try {
    await waitFor200(`${splitter.url}${fanOutPath(1)}`, { timeoutMs: 30_000 });
    native = await fanOutP50s(splitter.url, "native Node (splitter -> 1 greeter)");
  } finally {
    await splitter.stop();
    await greeter.stop();
  }
  const ratio = local[16] / local[1];
  return [
    row("fan-out", "/split, 4 names, p50", local[4], "ms", { label: "1 name", value: local[1] }),
    withTarget(
      row("fan-out", "/split, 16 names, p50", local[16], "ms", { label: "1 name", value: local[1] }),
      "ratio <= 2.0",
      ratio <= 2,
      `ratio ${ratio.toFixed(2)}, ${(ratio - 2).toFixed(2)} over`,
    ),
    row("fan-out", "native Node /split, 16 names, p50", native[16], "ms", { label: "native, 1 name", value: native[1] }),
  ];
}

function engine(componentizeMs: number): Row[] {
  const availability = engineAvailability();
  if (!availability.available) {
    log(`== production engine: skipped, ${availability.reason}`);
    return [];
  }
  log("== production engine: real wasmtime (PyPI wasmtime 49), the shim's linker set");
  const report = runEngineCheck(COMPONENT);
  if (report.link_error) throw new Error(`component does not link: ${report.link_error}`);
  return [
    row("engine", "precompiled artefact (cached per node)", report.serialized_bytes, "B", { label: "component", value: report.component_bytes }),
    row("engine", "compile (Cranelift, once per node)", report.compile_ms, "ms", { label: "componentize", value: componentizeMs }),
    row("engine", `instantiate (median of ${report.instantiations}, per request)`, report.instantiate_median_ms ?? Number.NaN, "ms"),
  ];
}

async function main() {
  const started = performance.now();
  ensureBuilt([COMPONENT, IMAGE_TARBALL]);
  ensureTranspiled();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, kernel: release() };
  log(`wasm-pods benchmark on ${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}`);

  const build = await sizeAndBuild();
  const rows = [...build, ...(await coldStarts()), ...(await throughput()), ...(await latency()), ...(await fanOut())];
  rows.push(...engine(build.find((r) => r.metric.startsWith("componentize"))!.value));

  const table = formatTable(rows);
  console.log(`\n${table}\n`);
  const missed = rows.filter((r) => r.target && !r.target.met);
  console.log(missed.length ? `targets missed: ${missed.map((r) => `${r.metric} (${r.target!.miss})`).join("; ")}` : "all targets met");

  mkdirSync(OUT_DIR, { recursive: true });
  const subtitle = `${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}`;
  const results = { date: new Date().toISOString(), machine, load: LOAD, coldStarts: COLD_STARTS, rows, seconds: Math.round((performance.now() - started) / 1000) };
  writeFileSync(join(OUT_DIR, "results.json"), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(OUT_DIR, "results.md"), `Measured ${results.date.slice(0, 10)} on ${subtitle}.\n\n${formatMarkdown(rows)}\n`);
  writeFileSync(join(OUT_DIR, "chart.svg"), await ratioChartSvg(rows, subtitle));
  log(`wrote bench/results.json, bench/results.md, bench/chart.svg (${results.seconds} s)`);
}

main().catch((error: unknown) => {
  console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
});
