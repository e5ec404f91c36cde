// Rows of the benchmark: every figure beside the baseline measured in the same run.
export interface Row {
  section: string;
  metric: string;
  value: number;
  unit: "B" | "ms" | "req/s" | "x";
  baseline?: { label: string; value: number };
  /** value / baseline.value */
  ratio?: number;
  /** `measured`: what the target was judged on (a ratio where the row has one), shown met or missed. */
  target?: { text: string; met: boolean; measured: string };
}

export function row(
  section: string,
  metric: string,
  value: number,
  unit: Row["unit"],
  baseline?: { label: string; value: number },
): Row {
  return { section, metric, value, unit, baseline, ratio: baseline ? value / baseline.value : undefined };
}

/** Which way a ratio is good: more requests per second, and less of every time, CPU time and size. */
export function better(unit: Row["unit"]): "higher" | "lower" {
  return unit === "req/s" ? "higher" : "lower";
}

/** A ratio with its reading, so no reader takes 0.45 for a loss when it is a win. */
function ratioText(r: Row): string {
  return r.ratio === undefined ? "" : `${r.ratio.toFixed(3)} (${better(r.unit)} is better)`;
}

/**
 * A target on a row, judged on `measured`: by default the row's ratio ("0.87x, higher is
 * better"), so every target line carries the figure it was judged on, met or missed.
 */
export function withTarget(r: Row, text: string, met: boolean, measured?: string): Row {
  // Three decimals, as the ratio column: a miss never shows as its limit rounded (0.899 as 0.90).
  const shown = measured ?? (r.ratio === undefined ? formatValue(r.value, r.unit) : `${r.ratio.toFixed(3)}x, ${better(r.unit)} is better`);
  return { ...r, target: { text, met, measured: shown } };
}

/** An absolute limit (a size, a time), judged and shown as the value's ratio to it; lower is better. */
export function limitTarget(r: Row, text: string, limit: number): Row {
  return withTarget(r, text, r.value <= limit, `${formatValue(r.value, r.unit)}, ${(r.value / limit).toFixed(3)}x the limit, lower is better`);
}

/** A ratio target: `r.ratio` against `limit`, met when it lies on the good side of it (or on it). */
export function ratioTarget(r: Row, text: string, limit: number): Row {
  const met = better(r.unit) === "higher" ? r.ratio! >= limit : r.ratio! <= limit;
  return withTarget(r, text, met);
}

function formatValue(value: number, unit: Row["unit"]): string {
  if (unit === "B") return value >= 1e6 ? `${(value / 1e6).toFixed(2)} MB` : `${(value / 1e3).toFixed(1)} kB`;
  if (unit === "ms") return value >= 1000 ? `${(value / 1000).toFixed(2)} s` : `${value < 10 ? value.toFixed(2) : value.toFixed(0)} ms`;
  if (unit === "req/s") return `${value.toFixed(0)} req/s`;
  return `${value.toFixed(2)}x`;
}

export function formatTable(rows: readonly Row[]): string {
  const header = ["section", "measurement", "value", "baseline (same run)", "ratio", "target"];
  const lines = rows.map((r) => [
    r.section,
    r.metric,
    formatValue(r.value, r.unit),
    r.baseline ? `${formatValue(r.baseline.value, r.unit)} (${r.baseline.label})` : "",
    ratioText(r),
    r.target ? `${r.target.met ? "MET" : "MISSED"}: ${r.target.text} (${r.target.measured})` : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ").trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...lines.map(fmt)].join("\n");
}

/** The same table as Markdown (bench/results.md, which the README links to). */
export function formatMarkdown(rows: readonly Row[]): string {
  const out = ["| section | measurement | value | baseline (same run) | ratio | target |", "| --- | --- | --- | --- | --- | --- |"];
  for (const r of rows) {
    const baseline = r.baseline ? `${formatValue(r.baseline.value, r.unit)} (${r.baseline.label})` : "";
    const target = r.target ? `${r.target.met ? "met" : "**missed**"}: ${r.target.text} (${r.target.measured})` : "";
    out.push(`| ${r.section} | ${r.metric} | ${formatValue(r.value, r.unit)} | ${baseline} | ${ratioText(r)} | ${target} |`);
  }
  return out.join("\n");
}

/** How the rows that are not plain timings are measured: the end of bench/results.md. */
export const METHODS = `How the CPU rows and targets are measured:

- **CPU per request**: the kernel's own count of CPU time (utime + stime in /proc/<pid>/stat,
  every thread, every process of the pod's process group) before and after a bounded run of
  requests, divided by the requests served. Each pod is a process group of its own, so a
  splitter's figure is its own work only: parsing, its outgoing calls and joining the answers,
  not its greeter's. Under load ("greeter load", "splitter load") it is taken over the measured
  rounds; a few requests in flight as a round stops (at most one per connection) are not counted.
  The greeter and the empty component on wasmtime are also measured one request at a time, so
  that the app's own work shows apart from what instances running at once cost each other.
- **The splitter's own work** ("cpu per call"): a splitter pod calling one greeter pod straight
  (no Service, no probes), sequential splits on one connection for a few seconds: the
  splitter's CPU per split against the greeter's CPU per call in the same splits, on each engine.
  The same split refused before any call (an empty name, 400) shows what the outgoing call costs
  the splitter. 16-name splits show what a greeter call costs when 16 run at once, on that one
  greeter pod and over the topology's greeter pods (their probes' few requests included), and
  how much of it is system (kernel) time, stime alone.
- **The fan-out's floor**: (16 x the CPU of one greeter call, one at a time + the splitter's own
  CPU per 16-name split) / the cores Node may use (os.availableParallelism()): the time a
  16-name split would take with its CPU spread over every core and nothing waiting. The 16-name
  p50 on npm start's topology is judged against it; the twin's Services run in the bench's own
  process, whose CPU per split is shown beside the client's alone. Other work on the machine
  takes cores from the split and shows in the ratio too: the header gives the load average.
- **Ratios** are value / the same-run baseline; each says whether higher or lower is better, and
  each target line gives the ratio (or, for a limit, the value over the limit) it was judged on.`;
