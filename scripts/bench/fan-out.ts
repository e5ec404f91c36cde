// The splitter's fan-out: p50 with 1, 4 and 16 names on npm start's topology (both engines)
// and in native Node, and each pod's memory after it; and the machine's floor for it, from
// the CPU one greeter call and the splitter's own work take on each engine.
import { startCluster } from "../../host/cluster";
import { median, medianLatency } from "../../lib/load";
import { waitFor200 } from "../../lib/wait";
import { type Burst, burst, CORES, pidsOf } from "./cpu";
import { HOST_LABELS, runtimeFor, startHost } from "./hosts";
import { ratioTarget, type Row, row } from "./report";
import { fanOutPath, LATENCY, log, ROUNDS } from "./settings";

/** A split the splitter refuses with a 400 before it calls any greeter (README: an empty name). */
const REFUSED_SPLIT = "/split/Sherlock,,Po";

/** A burst long enough for the CPU counters' 10 ms ticks to be read to about a percent. */
const CPU_BURST = { requests: 2_000, seconds: 4 };

type Engine = "local-jco" | "local-wasmtime";
const engineName = (kind: Engine) => (kind === "local-jco" ? "jco" : "wasmtime");

/** p50 of /split with 1, 4 and 16 names against a splitter at `base`. */
async function fanOutP50s(base: string, label: string): Promise<Record<1 | 4 | 16, number>> {
  const p50s = {} as Record<1 | 4 | 16, number>;
  for (const count of [1, 4, 16] as const) {
    p50s[count] = (await medianLatency(`${base}${fanOutPath(count)}`, ROUNDS, LATENCY)).p50;
  }
  log(`   ${label}: p50 ${Object.entries(p50s).map(([n, ms]) => `${n} names ${ms.toFixed(2)} ms`).join(", ")}`);
  return p50s;
}

const cpuText = (b: Burst) =>
  `${b.requests} requests, p50 ${b.p50.toFixed(2)} ms, CPU ms per request: ${Object.entries(b.cpu)
    .map(([name, ms]) => `${name} ${ms.toFixed(2)} (system ${b.systemCpu[name]!.toFixed(2)})`)
    .join(", ")}, this process ${b.selfCpu.toFixed(2)}`;

/**
 * Fan-out on npm start's topology, each pod's memory after it, and the CPU of a 16-name split
 * there: the greeter pods' (their probes' few requests included) and this process's, which
 * runs the Services and the client.
 */
async function topologyFanOut(kind: Engine) {
  const cluster = await startCluster({ runtime: runtimeFor(kind), splitterPort: 0, greeterPort: null });
  try {
    const p50s = await fanOutP50s(cluster.splitterUrl, `npm start's topology on ${HOST_LABELS[kind]}`);
    const pods = (role: string) => cluster.pods.filter((pod) => pod.role === role);
    const cpu = await burst(`${cluster.splitterUrl}${fanOutPath(16)}`, pidsOf({ greeter: pods("greeter"), splitter: pods("splitter") }), CPU_BURST);
    log(`   topology, 16 names: ${cpuText(cpu)}`);
    const rss = await Promise.all(cluster.pods.map(async (pod) => ({ role: pod.role, mb: (await pod.stats())?.rssMb ?? 0 })));
    const rssOf = (role: string) => median(rss.filter((r) => r.role === role).map((r) => r.mb)) * 2 ** 20;
    return { p50s, cpu, greeterRss: rssOf("greeter"), splitterRss: rssOf("splitter") };
  } finally {
    await cluster.stop();
  }
}

/**
 * The CPU of one greeter call and of the splitter's own work, with nothing else in between:
 * a splitter pod calling one greeter pod straight (no Service, no probes), sequential splits
 * of 1 name (one greeter call at a time) and of 16 (16 at once). Each pod's CPU over a burst,
 * over the splits: the greeter's per call (divided by the names), the splitter's own per split.
 */
async function directCpu(kind: Engine) {
  const greeter = await startHost(kind, { ROLE: "greeter", POD_NAME: "g" });
  const splitter = await startHost(kind, { ROLE: "splitter", POD_NAME: "s", GREETER_URL: greeter.url });
  try {
    const pods = pidsOf({ greeter: [greeter], splitter: [splitter] });
    const url = (names: number) => `${splitter.url}${fanOutPath(names)}`;
    await waitFor200(url(16), { timeoutMs: 30_000 });
    for (const names of [1, 16]) await burst(url(names), pods, { requests: 100, seconds: 1 }); // warm-up
    const one = await burst(url(1), pods, CPU_BURST);
    const sixteen = await burst(url(16), pods, CPU_BURST);
    // The same split refused before any call (an empty name): what the splitter costs without its outgoing call.
    const refused = await burst(`${splitter.url}${REFUSED_SPLIT}`, pods, { ...CPU_BURST, status: 400 });
    log(`   ${HOST_LABELS[kind]}, splitter -> greeter, no Service: refused split (400, no call): ${cpuText(refused)}`);
    log(`   ${HOST_LABELS[kind]}, splitter -> greeter, no Service: 1 name: ${cpuText(one)}`);
    log(`   ${HOST_LABELS[kind]}, splitter -> greeter, no Service: 16 names: ${cpuText(sixteen)}`);
    return {
      greeterPerCall1: one.cpu.greeter!,
      splitter1: one.cpu.splitter!,
      splitterRefused: refused.cpu.splitter!,
      greeterPerCall16: sixteen.cpu.greeter! / 16,
      greeterSystemPerCall1: one.systemCpu.greeter!,
      greeterSystemPerCall16: sixteen.systemCpu.greeter! / 16,
      splitter16: sixteen.cpu.splitter!,
      clientPer16: sixteen.selfCpu,
    };
  } finally {
    await splitter.stop();
    await greeter.stop();
  }
}

export async function fanOut(): Promise<Row[]> {
  log(`== splitter fan-out: p50 at 1 connection, median of ${ROUNDS} rounds; pod memory after it; CPU per call (${CORES} cores)`);
  const cpuRows: Row[] = [];
  const rows: Row[] = [];
  const topologies = {} as Record<Engine, Awaited<ReturnType<typeof topologyFanOut>>>;
  for (const kind of ["local-jco", "local-wasmtime"] as const) {
    const e = engineName(kind);
    const cpu = await directCpu(kind);
    const topology = await topologyFanOut(kind);
    topologies[kind] = topology;
    // The machine's floor for a 16-name split: the CPU it needs (16 greeter calls at the cost of
    // one alone, and the splitter's own work) spread over every core, nothing waiting.
    const floor = (16 * cpu.greeterPerCall1 + cpu.splitter16) / CORES;
    const floorLabel = `CPU floor: (16 x one greeter call + splitter's own CPU) / ${CORES} cores`;
    const ownWork = row("cpu per call", `${e}: splitter's own CPU per /split, 1 name`, cpu.splitter1, "ms", { label: "greeter CPU per call", value: cpu.greeterPerCall1 });
    const topologyGreeterPerCall = topology.cpu.cpu.greeter! / 16;
    cpuRows.push(
      kind === "local-wasmtime" ? ratioTarget(ownWork, "<= 1.0x the greeter's CPU per call", 1) : ownWork,
      row("cpu per call", `${e}: splitter's CPU per /split refused before any call (400)`, cpu.splitterRefused, "ms", { label: "/split, 1 name", value: cpu.splitter1 }),
      row("cpu per call", `${e}: splitter's own CPU per /split, 16 names`, cpu.splitter16, "ms", { label: "1 name", value: cpu.splitter1 }),
      row("cpu per call", `${e}: greeter CPU per call, 16 at once on one greeter pod`, cpu.greeterPerCall16, "ms", { label: "one at a time", value: cpu.greeterPerCall1 }),
      row("cpu per call", `${e}: greeter system (kernel) CPU per call, 16 at once on one greeter pod`, cpu.greeterSystemPerCall16, "ms", { label: "one at a time", value: cpu.greeterSystemPerCall1 }),
      row("cpu per call", `${e}: greeter CPU per call, 16 at once over the topology's greeter pods`, topologyGreeterPerCall, "ms", { label: "one at a time", value: cpu.greeterPerCall1 }),
    );
    rows.push(
      ratioTarget(
        row("fan-out", `${e} topology /split, 16 names, p50`, topology.p50s[16], "ms", { label: floorLabel, value: floor }),
        "<= 1.25x the CPU floor",
        1.25,
      ),
      row("fan-out", `${e} topology: Services and client CPU per 16-name split (the bench's process)`, topology.cpu.selfCpu, "ms", {
        label: "the client alone, no Service",
        value: cpu.clientPer16,
      }),
      row("fan-out", `${e} topology /split, 16 names, p50`, topology.p50s[16], "ms", { label: "1 name", value: topology.p50s[1] }),
    );
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
  const jco = topologies["local-jco"];
  const wasmtime = topologies["local-wasmtime"];
  return [
    ...cpuRows,
    ...rows,
    row("fan-out", "jco topology /split, 4 names, p50", jco.p50s[4], "ms", { label: "1 name", value: jco.p50s[1] }),
    row("fan-out", "native Node /split, 16 names, p50", native[16], "ms", { label: "native, 1 name", value: native[1] }),
    row("memory", "greeter pod RSS, wasmtime", wasmtime.greeterRss, "B", { label: "jco", value: jco.greeterRss }),
    row("memory", "splitter pod RSS, wasmtime", wasmtime.splitterRss, "B", { label: "jco", value: jco.splitterRss }),
  ];
}
