// npm run bench: the component against its baselines, every pair measured in
// the same run, bounded, loopback only. Prints a table, writes
// bench/results.json, bench/results.md and bench/chart.svg. One module per section.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, release, tmpdir } from "node:os";
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
import { formatMarkdown, formatTable, type Row } from "./report";
import { COLD_STARTS, LOAD, log } from "./settings";
import { shim } from "./shim";
import { bundleNative, engine, sizeAndBuild } from "./size";

const OUT_DIR = join(ROOT, "bench");

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
