// npm run bench: the component against its baselines, every pair measured in
// the same run, bounded, loopback only. Prints a table, writes
// bench/results.json, bench/results.md and bench/chart.svg.
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
import { join } from "node:path";
import { createServer } from "node:http";
import { gzipSync } from "node:zlib";
import { PAGE_HTML, PAGE_ICON, PAGE_SCRIPT, PAGE_STYLE } from "../../src/page";
import { startCluster } from "../../host/cluster";
import { killAllGroupsNow, spawnGroup } from "../../host/processes";
import { COMPONENT, ensureBuilt, IMAGE_TARBALL, ROOT } from "../lib/build";
import { freePort } from "../lib/free-port";
import { median, medianLatency, type RoundResult, runLoad, summarize } from "../lib/load";
import { findTool } from "../lib/tools";
import { waitFor200 } from "../lib/wait";
import { ratioChartSvg } from "./chart";
import { coldStartMs, HOST_LABELS, type HostKind, NATIVE_BUNDLE, runtimeFor, startHost } from "./hosts";
import { formatMarkdown, formatTable, type Row, row, withTarget } from "./report";
import { errorText } from "../lib/errors";
import { shimRows, shimUnavailable } from "./shim";

const OUT_DIR = join(ROOT, "bench");
const ROUNDS = 3;
const LOAD = { connections: 10, seconds: 3, rounds: ROUNDS, warmupSeconds: 1, maxRequests: 200_000 };
const COLD_STARTS = 5;
const FAN_OUT_NAMES = ["Sherlock", "Po", "Aang", "Sam", "Katara", "Sokka", "Toph", "Zuko", "Iroh", "Suki", "Azula", "Mai", "Ty Lee", "Appa", "Momo", "Yue"];

const log = (line: string) => console.error(line);
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
      row("size", "browser page (HTML, script, style, icon)", PAGE_BYTES, "B", { label: "component", value: bytes(min) }),
      row("build", "bundle (esbuild, component)", after.bundleMs, "ms", { label: "Node bundle", value: nativeMs }),
      row("build", "componentize (minified bundle)", after.componentizeMs, "ms", { label: "unminified", value: before.componentizeMs }),
    ];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** scripts/bench/empty-component.ts as a component, precompiled for wasmtime; returns the .cwasm. */
async function buildEmptyComponent(dir: string): Promise<string> {
  const bundle = join(dir, "empty.js");
  const component = join(dir, "empty.wasm");
  const esbuild = spawnSync(
    join(ROOT, "node_modules/.bin/esbuild"),
    ["scripts/bench/empty-component.ts", "--bundle", "--format=esm", "--platform=neutral", "--external:wasi:*", "--log-level=warning", `--outfile=${bundle}`],
    { cwd: ROOT, stdio: "inherit" },
  );
  if (esbuild.status !== 0) throw new Error("bundling the empty component failed");
  const componentize = spawnSync(join(ROOT, "node_modules/.bin/tsx"), ["scripts/componentize.ts", bundle, component], { cwd: ROOT, stdio: "ignore" });
  if (componentize.status !== 0) throw new Error("componentizing the empty component failed");
  return (await runtimeFor("local-wasmtime").prepare(component)).artifact;
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
  const local = await measure("local-jco");
  const jco = await measure("jco-serve");
  const wasmtime = await measure("local-wasmtime");
  return [
    withTarget(row("cold start", "local host, jco", local, "ms", native), "<= 500 ms", local <= 500, `${(local - 500).toFixed(0)} ms over`),
    row("cold start", "plain jco serve", jco, "ms", native),
    row("cold start", "local host, jco", local, "ms", { label: "plain jco serve", value: jco }),
    row("cold start", "local host, wasmtime (precompiled, as the shim after its first start)", wasmtime, "ms", native),
    ...(await wasmtimeCompileCache()),
  ];
}

/**
 * `wasmtime serve` straight from the .wasm, as the README's by-hand command: the
 * first start compiles (the shim's first start on a node), later ones hit
 * wasmtime's compile cache. Each sample gets a fresh, empty cache directory.
 */
async function wasmtimeCompileCache(): Promise<Row[]> {
  const wasmtime = findTool("wasmtime")!;
  const scratch = mkdtempSync(join(tmpdir(), "wasm-pods-cache-"));
  const cold: number[] = [];
  const warm: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const dir = join(scratch, String(i));
      mkdirSync(dir);
      const config = join(dir, "cache.toml");
      writeFileSync(config, `[cache]\nenabled = true\ndirectory = "${join(dir, "cache")}"\n`);
      for (const samples of [cold, warm]) {
        const port = await freePort();
        const started = performance.now();
        const group = spawnGroup({
          command: wasmtime,
          args: ["serve", "-S", "cli", "-C", `cache-config=${config}`, "--addr", `127.0.0.1:${port}`, "--env", "ROLE=greeter", COMPONENT],
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
        });
        try {
          samples.push(await waitFor200(`http://127.0.0.1:${port}/Sherlock`, { since: started, timeoutMs: 120_000 }));
        } finally {
          await group.stop();
        }
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  log(`   wasmtime serve from the .wasm: compile cache empty ${cold.map((s) => s.toFixed(0)).join(", ")} ms; warm ${warm.map((s) => s.toFixed(0)).join(", ")} ms`);
  return [
    row("cold start", "wasmtime serve .wasm, compile cache empty", median(cold), "ms", { label: "compile cache warm", value: median(warm) }),
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

const THROUGHPUT_HOSTS: HostKind[] = ["native", "jco-serve", "local-jco", "local-wasmtime"];

/**
 * Rounds are interleaved across hosts (round 1 of each, then round 2 of each, ...)
 * so drift in the machine's load hits every host alike; medians of the rounds.
 */
async function throughputOf(role: "greeter" | "splitter", empty?: string): Promise<Record<HostKind | "empty", RoundResult>> {
  const hosts: { stop(): Promise<void>; url: string }[] = [];
  const kinds: (HostKind | "empty")[] = [...THROUGHPUT_HOSTS, ...(empty ? (["empty"] as const) : [])];
  try {
    for (const kind of THROUGHPUT_HOSTS) hosts.push(await startRole(kind, role));
    if (empty) {
      const pod = runtimeFor("local-wasmtime").launch({ name: "empty", host: "127.0.0.1", env: {}, slots: 1, build: { component: "", artifact: empty } });
      const url = `http://127.0.0.1:${await pod.port}/`;
      await waitFor200(url, { timeoutMs: 30_000 });
      hosts.push({ url, stop: () => pod.group.stop() });
    }
    const rounds = new Map<HostKind | "empty", RoundResult[]>(kinds.map((kind) => [kind, []]));
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [i, kind] of kinds.entries()) {
        // Round 0 is each host's warm-up.
        const seconds = round === 0 ? LOAD.warmupSeconds : LOAD.seconds;
        const result = await runLoad({ ...LOAD, seconds, rounds: 1, warmupSeconds: 0, url: hosts[i]!.url });
        if (result.median.non2xx || result.median.errors) throw new Error(`${role} on ${kind}: non-2xx or errors under load`);
        if (round > 0) rounds.get(kind)!.push(result.median);
      }
    }
    const medians = {} as Record<HostKind | "empty", RoundResult>;
    for (const kind of kinds) {
      const results = rounds.get(kind)!;
      medians[kind] = summarize(results);
      const label = kind === "empty" ? "an empty component on wasmtime 27" : HOST_LABELS[kind];
      log(`   ${role} on ${label}: ${results.map((r) => r.rps.toFixed(0)).join(", ")} req/s; p99 ${medians[kind].p99} ms`);
    }
    return medians;
  } finally {
    await Promise.all(hosts.map((host) => host.stop()));
  }
}

async function throughput(emptyComponent: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const role of ["greeter", "splitter"] as const) {
    log(`== ${role} throughput: ${LOAD.connections} connections, warm-up ${LOAD.warmupSeconds} s, median of ${ROUNDS} interleaved rounds of ${LOAD.seconds} s`);
    const medians = await throughputOf(role, role === "greeter" ? emptyComponent : undefined);
    const { native, "jco-serve": jco, "local-jco": local, "local-wasmtime": wasmtime } = medians;
    const section = `${role} load`;
    rows.push(
      withTarget(
        row(section, "local host (jco) req/s", local.rps, "req/s", { label: "plain jco serve", value: jco.rps }),
        ">= plain jco serve",
        local.rps >= jco.rps,
        `${((1 - local.rps / jco.rps) * 100).toFixed(1)}% fewer`,
      ),
      row(section, "local host (jco) req/s", local.rps, "req/s", { label: "native Node", value: native.rps }),
      row(section, "local host (jco) p99 at 10 connections", local.p99, "ms", { label: "plain jco serve", value: jco.p99 }),
    );
    const p99Ratio = local.p99 / jco.p99;
    if (role === "greeter") {
      rows[rows.length - 1] = withTarget(rows[rows.length - 1]!, "<= 1.3x plain jco serve", p99Ratio <= 1.3, `${p99Ratio.toFixed(2)}x`);
      const wasmRatio = wasmtime.rps / local.rps;
      rows.push(
        withTarget(
          row(section, "wasmtime req/s", wasmtime.rps, "req/s", { label: "local host (jco)", value: local.rps }),
          ">= 3x the jco host",
          wasmRatio >= 3,
          `${wasmRatio.toFixed(2)}x`,
        ),
        // The engine's ceiling: a fresh StarlingMonkey instance per request, whatever the handler does.
        row(section, "wasmtime req/s", wasmtime.rps, "req/s", { label: "an empty component on wasmtime", value: medians.empty.rps }),
      );
    } else {
      rows.push(row(section, "wasmtime req/s", wasmtime.rps, "req/s", { label: "local host (jco)", value: local.rps }));
    }
    rows.push(
      row(section, "wasmtime p50 at 10 connections", wasmtime.p50, "ms", { label: "local host (jco)", value: local.p50 }),
      row(section, "wasmtime p99 at 10 connections", wasmtime.p99, "ms", { label: "local host (jco)", value: local.p99 }),
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
    const local = await measure("local-jco");
    const wasmtime = await measure("local-wasmtime");
    const section = `${role} latency`;
    rows.push(
      row(section, "local host (jco) p50", local.p50, "ms", { label: "native Node", value: native.p50 }),
      row(section, "local host (jco) p99", local.p99, "ms", { label: "native Node", value: native.p99 }),
      row(section, "local host (jco) p50", local.p50, "ms", { label: "plain jco serve", value: jco.p50 }),
      row(section, "wasmtime p50", wasmtime.p50, "ms", { label: "local host (jco)", value: local.p50 }),
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

/** Fan-out on npm start's topology, and each pod's memory after it. */
async function topologyFanOut(kind: "local-jco" | "local-wasmtime") {
  const cluster = await startCluster({ runtime: runtimeFor(kind), splitterPort: 0, greeterPort: null });
  try {
    const p50s = await fanOutP50s(cluster.splitterUrl, `npm start's topology on ${HOST_LABELS[kind]}`);
    const rss = await Promise.all(cluster.pods.map(async (pod) => ({ role: pod.role, mb: (await pod.stats())?.rssMb ?? 0 })));
    const rssOf = (role: string) => median(rss.filter((r) => r.role === role).map((r) => r.mb)) * 2 ** 20;
    return { p50s, greeterRss: rssOf("greeter"), splitterRss: rssOf("splitter") };
  } finally {
    await cluster.stop();
  }
}

async function fanOut(): Promise<Row[]> {
  log(`== splitter fan-out: p50 at 1 connection, median of ${ROUNDS} rounds; pod memory after it`);
  const jco = await topologyFanOut("local-jco");
  const wasmtime = await topologyFanOut("local-wasmtime");
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
  const ratioRow = (label: string, p50s: Record<1 | 4 | 16, number>, limit: number) => {
    const ratio = p50s[16] / p50s[1];
    return withTarget(
      row("fan-out", `${label} /split, 16 names, p50`, p50s[16], "ms", { label: "1 name", value: p50s[1] }),
      `ratio <= ${limit}`,
      ratio <= limit,
      `ratio ${ratio.toFixed(2)}, ${(ratio - limit).toFixed(2)} over`,
    );
  };
  return [
    row("fan-out", "jco topology /split, 4 names, p50", jco.p50s[4], "ms", { label: "1 name", value: jco.p50s[1] }),
    ratioRow("jco topology", jco.p50s, 2),
    ratioRow("wasmtime topology", wasmtime.p50s, 1.5),
    row("fan-out", "native Node /split, 16 names, p50", native[16], "ms", { label: "native, 1 name", value: native[1] }),
    row("memory", "greeter pod RSS, wasmtime", wasmtime.greeterRss, "B", { label: "jco", value: jco.greeterRss }),
    row("memory", "splitter pod RSS, wasmtime", wasmtime.splitterRss, "B", { label: "jco", value: jco.splitterRss }),
  ];
}

/**
 * The contract's deadline, on an otherwise idle machine: 4 concurrent splits behind
 * a greeter that never answers, GREETER_TIMEOUT_MS=1000; how late the 504s come.
 * (The tests bound this loosely, with a busy machine's margin.)
 */
async function deadlines(): Promise<Row[]> {
  log("== 504 behind a stalled greeter: 4 concurrent splits, GREETER_TIMEOUT_MS=1000, 5 rounds");
  const stalled = createServer(() => {}); // accepts, never answers
  await new Promise<void>((resolve) => stalled.listen(0, "127.0.0.1", resolve));
  const greeterUrl = `http://127.0.0.1:${(stalled.address() as { port: number }).port}`;
  const rows: Row[] = [];
  try {
    for (const kind of ["local-jco", "local-wasmtime"] as const) {
      const splitter = await startHost(kind, { ROLE: "splitter", POD_NAME: "s", GREETER_URL: greeterUrl, GREETER_TIMEOUT_MS: "1000" });
      const lateness: number[] = [];
      try {
        for (let round = 0; round < 5; round++) {
          const started = performance.now();
          const times = await Promise.all(
            Array.from({ length: 4 }, async () => {
              const res = await fetch(`${splitter.url}/split/Sam`, { signal: AbortSignal.timeout(10_000) });
              await res.arrayBuffer();
              if (res.status !== 504) throw new Error(`${kind}: a stalled greeter gave ${res.status}, not 504`);
              return performance.now() - started;
            }),
          );
          lateness.push(Math.max(...times) - 1000);
        }
      } finally {
        await splitter.stop();
      }
      const worst = Math.max(...lateness);
      log(`   ${HOST_LABELS[kind]}: slowest of 4 concurrent 504s, after the deadline: ${lateness.map((ms) => ms.toFixed(0)).join(", ")} ms`);
      rows.push(withTarget(row("deadline", `${kind === "local-jco" ? "jco" : "wasmtime"}: slowest 504 past GREETER_TIMEOUT_MS`, worst, "ms"), "<= 250 ms", worst <= 250, `${(worst - 250).toFixed(0)} ms over`));
    }
  } finally {
    stalled.closeAllConnections();
    stalled.close();
  }
  return rows;
}

/** The image under runwasi's shim through CRI, beside wasmtime serve 27; skipped, with its reason, where it cannot run. */
async function shim(): Promise<Row[]> {
  const reason = shimUnavailable();
  if (reason) {
    log(`== runwasi shim rows skipped: ${reason}`);
    return [];
  }
  return shimRows(LOAD, fanOutPath(16));
}

/** wasmtime 27's own compile of the component: what the shim does once per node. */
function engine(componentizeMs: number): Row[] {
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
      row("engine", "precompiled artefact (cached per node)", bytes(join(scratch, "out.cwasm")), "B", { label: "component", value: bytes(COMPONENT) }),
      row("engine", "wasmtime compile (once per node)", median(samples), "ms", { label: "componentize", value: componentizeMs }),
    ];
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

async function main() {
  const started = performance.now();
  ensureBuilt([COMPONENT, IMAGE_TARBALL]);
  if (!findTool("wasmtime")) throw new Error("the benchmark compares with wasmtime 27: run scripts/install-tools.sh first");
  for (const kind of ["local-jco", "local-wasmtime"] as const) await runtimeFor(kind).prepare();
  bundleNative();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, kernel: release() };
  log(`wasm-pods benchmark on ${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}`);

  // `npm run bench -- --only shim` measures one section and writes bench/results-shim.*,
  // leaving the full run's files alone.
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
  let rows: Row[];
  if (only === "shim") {
    rows = await shim();
  } else if (only !== undefined) {
    throw new Error(`--only knows one section: shim (got "${only}")`);
  } else {
    const build = await sizeAndBuild();
    const scratch = mkdtempSync(join(tmpdir(), "wasm-pods-empty-"));
    try {
      const emptyComponent = await buildEmptyComponent(scratch);
      rows = [...build, ...(await coldStarts()), ...(await throughput(emptyComponent)), ...(await latency()), ...(await fanOut()), ...(await deadlines()), ...(await shim())];
    } finally {
      rmSync(scratch, { recursive: true, force: true });
    }
    rows.push(...engine(build.find((r) => r.metric.startsWith("componentize"))!.value));
  }

  const table = formatTable(rows);
  console.log(`\n${table}\n`);
  const missed = rows.filter((r) => r.target && !r.target.met);
  console.log(missed.length ? `targets missed: ${missed.map((r) => `${r.metric} (${r.target!.miss})`).join("; ")}` : "all targets met");

  mkdirSync(OUT_DIR, { recursive: true });
  const subtitle = `${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}`;
  const results = { date: new Date().toISOString(), machine, load: LOAD, coldStarts: COLD_STARTS, rows, seconds: Math.round((performance.now() - started) / 1000) };
  const name = only ? `results-${only}` : "results";
  writeFileSync(join(OUT_DIR, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(OUT_DIR, `${name}.md`), `Measured ${results.date.slice(0, 10)} on ${subtitle}.\n\n${formatMarkdown(rows)}\n`);
  if (!only) writeFileSync(join(OUT_DIR, "chart.svg"), await ratioChartSvg(rows, subtitle));
  log(`wrote bench/${name}.json, bench/${name}.md${only ? "" : ", bench/chart.svg"} (${results.seconds} s)`);
}

// Whatever ends the run, no host it started keeps running.
process.on("exit", killAllGroupsNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
main().catch((error: unknown) => {
  console.error(`bench: ${errorText(error)}`);
  process.exit(1);
});
