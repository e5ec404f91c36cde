// The benchmark as one picture: every ratio against its same-run baseline, on a
// log scale with 1 marked; each label starts with whether higher or lower is better, since a
// req/s ratio and a latency ratio read in opposite directions, and a bar with a target says
// whether it was met.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import { better, type Row } from "./report";

export async function ratioChartSvg(rows: readonly Row[], subtitle: string): Promise<string> {
  const values = rows
    .filter((r) => r.ratio !== undefined && r.baseline)
    .map((r) => ({
      // The reading first, so no label is cut before it says which way is good.
      label: `${better(r.unit)} is better | ${r.section}: ${r.metric}  ÷  ${r.baseline!.label}`,
      section: r.section,
      ratio: r.ratio!,
      // A target's ratio with the table's three decimals, so a miss never reads as its limit.
      text: r.target
        ? `${r.ratio!.toFixed(3)}x, target ${r.target.met ? "met" : "MISSED"}`
        : `${r.ratio! >= 10 ? r.ratio!.toFixed(0) : r.ratio!.toFixed(2)}x`,
      // Labels sit right of the bar's outer end, or right of 1 for bars that grow left.
      textAt: Math.max(r.ratio!, 1),
    }));
  const y = { field: "label", type: "nominal", sort: null, title: null, axis: { labelLimit: 1000 } } as const;
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: "wasm-pods: each measurement divided by its baseline (same run)", subtitle },
    width: 520,
    data: { values },
    layer: [
      {
        // Bars grow from 1 (a log scale has no 0): left of the line is smaller/faster than the baseline.
        mark: { type: "bar" },
        encoding: {
          x: { field: "ratio", type: "quantitative", scale: { type: "log" }, title: "ratio (log scale; 1 = same as baseline)" },
          x2: { datum: 1 },
          y,
          // More sections than the default palette has colours: one each.
          color: { field: "section", type: "nominal", title: "section", scale: { scheme: "tableau20" } },
        },
      },
      {
        mark: { type: "text", align: "left", dx: 4 },
        encoding: { x: { field: "textAt", type: "quantitative" }, y, text: { field: "text" } },
      },
      { mark: { type: "rule", strokeDash: [4, 3] }, encoding: { x: { datum: 1 } } },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}
