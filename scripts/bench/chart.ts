// The benchmark as one picture: every ratio against its same-run baseline, on a
// log scale with 1 marked, so "smaller / faster than the baseline" reads at a glance.
import * as vega from "vega";
import { compile, type TopLevelSpec } from "vega-lite";
import type { Row } from "./report";

export async function ratioChartSvg(rows: readonly Row[], subtitle: string): Promise<string> {
  const values = rows
    .filter((r) => r.ratio !== undefined && r.baseline)
    .map((r) => ({
      label: `${r.metric}  ÷  ${r.baseline!.label}`,
      section: r.section,
      ratio: r.ratio!,
      text: `${r.ratio! >= 10 ? r.ratio!.toFixed(0) : r.ratio!.toFixed(2)}x`,
    }));
  const spec: TopLevelSpec = {
    $schema: "https://vega.github.io/schema/vega-lite/v6.json",
    title: { text: "wasm-pods: each measurement divided by its baseline (same run)", subtitle },
    width: 520,
    data: { values },
    encoding: {
      y: { field: "label", type: "nominal", sort: null, title: null, axis: { labelLimit: 520 } },
    },
    layer: [
      {
        mark: { type: "bar", height: { band: 0.7 } },
        encoding: {
          x: { field: "ratio", type: "quantitative", scale: { type: "log" }, title: "ratio (log scale; 1 = same as baseline)" },
          color: { field: "section", type: "nominal", title: "section" },
        },
      },
      {
        mark: { type: "text", align: "left", dx: 4 },
        encoding: { x: { field: "ratio", type: "quantitative" }, text: { field: "text" } },
      },
      { mark: { type: "rule", strokeDash: [4, 3] }, encoding: { x: { datum: 1 } } },
    ],
  };
  const view = new vega.View(vega.parse(compile(spec).spec), { renderer: "none" });
  return view.toSVG();
}
