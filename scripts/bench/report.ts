// Rows of the benchmark: every figure beside the baseline measured in the same run.
export interface Row {
  section: string;
  metric: string;
  value: number;
  unit: "B" | "ms" | "req/s" | "x";
  baseline?: { label: string; value: number };
  /** value / baseline.value */
  ratio?: number;
  target?: { text: string; met: boolean; miss?: string };
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

/** Which way a ratio is good: more requests per second, and less of every time and size. */
export function better(unit: Row["unit"]): "higher" | "lower" {
  return unit === "req/s" ? "higher" : "lower";
}

/** A ratio with its reading, so no reader takes 0.45 for a loss when it is a win. */
function ratioText(r: Row): string {
  return r.ratio === undefined ? "" : `${r.ratio.toFixed(3)} (${better(r.unit)} is better)`;
}

export function withTarget(r: Row, text: string, met: boolean, miss?: string): Row {
  return { ...r, target: { text, met, ...(met ? {} : { miss }) } };
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
    r.target ? `${r.target.met ? "MET" : "MISSED"}: ${r.target.text}${r.target.miss ? ` (${r.target.miss})` : ""}` : "",
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const fmt = (cells: string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join(" | ").trimEnd();
  return [fmt(header), widths.map((w) => "-".repeat(w)).join("-|-"), ...lines.map(fmt)].join("\n");
}

/** The same table as Markdown, for the README. */
export function formatMarkdown(rows: readonly Row[]): string {
  const out = ["| section | measurement | value | baseline (same run) | ratio | target |", "| --- | --- | --- | --- | --- | --- |"];
  for (const r of rows) {
    const baseline = r.baseline ? `${formatValue(r.baseline.value, r.unit)} (${r.baseline.label})` : "";
    const target = r.target ? `${r.target.met ? "met" : "**missed**"}: ${r.target.text}${r.target.miss ? ` (${r.target.miss})` : ""}` : "";
    out.push(`| ${r.section} | ${r.metric} | ${formatValue(r.value, r.unit)} | ${baseline} | ${ratioText(r)} | ${target} |`);
  }
  return out.join("\n");
}
