// npm run bench: the component against its baselines, every pair measured in
// the same run, bounded, loopback only. Prints a table, writes
// bench/results.json, bench/results.md and bench/chart.svg. One module per section.
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, loadavg, release, tmpdir } from "node:os";
import { join } from "node:path";
import { killAllGroupsNow } from "../../lib/processes";
import { COMPONENT, ensureBuilt, IMAGE_TARBALL, ROOT } from "../../lib/build";
import { errorText } from "../../lib/errors";
import { findTool } from "../../lib/tools";
import { ratioChartSvg } from "./chart";
import { coldStarts } from "./cold-start";
import { deadlines } from "./deadlines";
import { fanOut } from "./fan-out";
import { runtimeFor } from "./hosts";
import { buildEmptyComponent, latency, throughput } from "./load";
import { formatMarkdown, formatTable, METHODS, type Row } from "./report";
import { COLD_STARTS, LOAD, log } from "./settings";
import { shim } from "./shim";
import { bundleNative, engine, sizeAndBuild } from "./size";

const OUT_DIR = join(ROOT, "bench");

interface Context {
  scratch: string;
  /** The size section's componentize time, which the engine section compares wasmtime's compile with. */
  componentizeMs: number | undefined;
}

/** The sections, in the order a full run measures them. */
const SECTIONS: Record<string, (context: Context) => Promise<Row[]>> = {
  size: async (context) => {
    const rows = await sizeAndBuild();
    context.componentizeMs = rows.find((r) => r.metric.startsWith("componentize"))!.value;
    return rows;
  },
  "cold-start": () => coldStarts(),
  load: async (context) => throughput(await buildEmptyComponent(context.scratch)),
  latency: () => latency(),
  "fan-out": () => fanOut(),
  deadlines: () => deadlines(),
  shim: () => shim(),
  engine: async (context) => engine(context.componentizeMs),
};

/** The commit the component was built from, and whether src/ or wit/ differed from it (a build reads the work tree). */
function sourceRevision(): { commit: string; uncommittedSource: boolean } | undefined {
  try {
    const git = (...args: string[]) => execFileSync("git", args, { cwd: ROOT, encoding: "utf8" }).trim();
    return { commit: git("rev-parse", "--short", "HEAD"), uncommittedSource: git("status", "--porcelain", "--", "src", "wit") !== "" };
  } catch {
    return undefined; // not a git checkout
  }
}

async function main() {
  const started = performance.now();
  ensureBuilt([COMPONENT, IMAGE_TARBALL]);
  if (!findTool("wasmtime")) throw new Error("the benchmark compares with wasmtime 27: run scripts/install-tools.sh first");
  for (const kind of ["local-jco", "local-wasmtime"] as const) await runtimeFor(kind).prepare();
  bundleNative();
  const machine = { cpus: cpus().length, cpuModel: cpus()[0]?.model ?? "unknown", node: process.version, kernel: release() };
  // Other work on the machine shifts every figure; the same-run ratios less so. The run records it.
  const loadAtStart = loadavg()[0]!;
  const source = sourceRevision();
  log(`wasm-pods benchmark on ${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}`);

  // `npm run bench -- --only shim` measures one section and writes bench/results-shim.*,
  // leaving the full run's files alone; `--only <other section>` (while working on it) prints
  // its table and writes its files to the system's temp folder instead.
  const only = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : undefined;
  if (only !== undefined && !(only in SECTIONS)) throw new Error(`--only takes one of ${Object.keys(SECTIONS).join(", ")} (got "${only}")`);
  const rows: Row[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "wasm-pods-empty-"));
  try {
    const context: Context = { scratch, componentizeMs: undefined };
    for (const [name, section] of Object.entries(SECTIONS)) {
      if (only === undefined || only === name) rows.push(...(await section(context)));
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }

  const table = formatTable(rows);
  console.log(`\n${table}\n`);
  const missed = rows.filter((r) => r.target && !r.target.met);
  console.log(missed.length ? `targets missed: ${missed.map((r) => `${r.metric} (${r.target!.measured})`).join("; ")}` : "all targets met");

  mkdirSync(OUT_DIR, { recursive: true });
  const subtitle = `${machine.cpus} x ${machine.cpuModel}, Node ${machine.node}`;
  const loadAverage = { start: loadAtStart, end: loadavg()[0]! };
  const results = { date: new Date().toISOString(), machine, source, loadAverage, load: LOAD, coldStarts: COLD_STARTS, rows, seconds: Math.round((performance.now() - started) / 1000) };
  const name = only ? `results-${only}` : "results";
  const dir = only === undefined || only === "shim" ? OUT_DIR : tmpdir();
  const notes = only === undefined ? `\n${METHODS}\n` : "";
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(results, null, 2)}\n`);
  writeFileSync(join(dir, `${name}.md`), `Measured ${results.date.slice(0, 10)} on ${subtitle}; 1-minute load average ${loadAverage.start.toFixed(2)} at the start, ${loadAverage.end.toFixed(2)} at the end${sourceText(source)}.\n\n${formatMarkdown(rows)}\n${notes}`);
  if (!only) writeFileSync(join(dir, "chart.svg"), await ratioChartSvg(rows, subtitle));
  log(`wrote ${join(dir, name)}.json, .md${only ? "" : ", bench/chart.svg"} (${results.seconds} s)`);
}

const sourceText = (source: ReturnType<typeof sourceRevision>) =>
  source ? `; work tree at ${source.commit}, src/ and wit/ ${source.uncommittedSource ? "with uncommitted changes" : "as committed"}` : "";

// Whatever ends the run, no host it started keeps running.
process.on("exit", killAllGroupsNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
main().catch((error: unknown) => {
  console.error(`bench: ${errorText(error)}`);
  process.exit(1);
});
