// The splitter's fan-out: p50 with 1, 4 and 16 names on npm start's topology (both engines)
// and in native Node, and each pod's memory after it.
import { startCluster } from "../../host/cluster";
import { median, medianLatency } from "../../lib/load";
import { waitFor200 } from "../../lib/wait";
import { HOST_LABELS, runtimeFor, startHost } from "./hosts";
import { type Row, row, withTarget } from "./report";
import { fanOutPath, LATENCY, log, ROUNDS } from "./settings";

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

export async function fanOut(): Promise<Row[]> {
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
