// The image under runwasi's shim (containerd 2 + CRI, as k3s runs it) beside `wasmtime serve`
// 27 in the same run: start times, throughput, and the memory a task holds, against the
// manifests' own requests and limits. Runs only as root with the CRI tools installed.
import { readFileSync } from "node:fs";
import { rssKb } from "../../lib/processes";
import { IMAGE_TARBALL } from "../../lib/build";
import { cgroupDir, CRI_TOOLS, type CriNode, startCriNode } from "../../lib/cri";
import { type DeploymentLike, parseQuantity } from "../../lib/cri-spec";
import { freePort } from "../../lib/free-port";
import { findObject, renderOverlay } from "../../lib/kustomize";
import { median, type RoundResult, runLoad, summarize } from "../../lib/load";
import { findTool } from "../../lib/tools";
import { waitFor200 } from "../../lib/wait";
import { startHost } from "./hosts";
import { ratioTarget, type Row, row } from "./report";
import { fanOutPath, LOAD, log } from "./settings";


/** Why the shim rows cannot run here, or undefined when they can. */
function shimUnavailable(): string | undefined {
  const missing = [...CRI_TOOLS, "kustomize"].filter((tool) => !findTool(tool));
  if (missing.length) return `${missing.join(", ")} not installed (scripts/install-tools.sh)`;
  if (process.getuid?.() !== 0) return "containerd's CRI needs root";
  return undefined;
}

interface Load {
  connections: number;
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  maxRequests: number;
}

interface ShimPod {
  url: string;
  cgroup: string;
  pid: number;
}

/** The rendered k3s overlay's two Deployments, as the shim suite reads them. */
function deployments(): { greeter: DeploymentLike; splitter: DeploymentLike } {
  const objects = renderOverlay("k3s");
  return {
    greeter: findObject(objects, "Deployment", "name-greeter-pod") as DeploymentLike,
    splitter: findObject(objects, "Deployment", "name-splitter-pod") as DeploymentLike,
  };
}

async function startShimPod(node: CriNode, deployment: DeploymentLike, podName: string, env: Record<string, string> = {}): Promise<ShimPod & { startMs: number }> {
  const port = await freePort();
  const started = performance.now();
  const pod = await node.runPod(deployment, { podName, envOverrides: { WASMTIME_HTTP_PROXY_SOCKET_ADDR: `127.0.0.1:${port}`, ...env } });
  const url = `http://127.0.0.1:${port}`;
  const startMs = await waitFor200(`${url}/healthz`, { since: started, timeoutMs: 240_000 });
  const pid = await node.taskPid(pod);
  return { url, pid, cgroup: cgroupDir(pid, "memory"), startMs };
}

/** cgroup v1 memory: usage, the working set (usage less inactive file pages, as the kubelet counts it) and the peak. */
function cgroupMemory(dir: string): { usage: number; workingSet: number; peak: number } {
  const usage = Number(readFileSync(`${dir}/memory.usage_in_bytes`, "utf8"));
  const inactive = Number(/^total_inactive_file (\d+)$/m.exec(readFileSync(`${dir}/memory.stat`, "utf8"))?.[1] ?? 0);
  return { usage, workingSet: Math.max(0, usage - inactive), peak: Number(readFileSync(`${dir}/memory.max_usage_in_bytes`, "utf8")) };
}

/** Rounds interleaved between the two hosts, so drift in the machine's load hits both alike. */
async function interleaved(urls: { shim: string; wasmtime: string }, load: Load): Promise<{ shim: RoundResult; wasmtime: RoundResult }> {
  const rounds = { shim: [] as RoundResult[], wasmtime: [] as RoundResult[] };
  for (let round = 0; round <= load.rounds; round++) {
    for (const kind of ["shim", "wasmtime"] as const) {
      const seconds = round === 0 ? load.warmupSeconds : load.seconds;
      const result = await runLoad({ ...load, seconds, rounds: 1, warmupSeconds: 0, url: urls[kind] });
      if (result.median.non2xx || result.median.errors) throw new Error(`${kind}: non-2xx or errors under load`);
      if (round > 0) rounds[kind].push(result.median);
    }
  }
  return { shim: summarize(rounds.shim), wasmtime: summarize(rounds.wasmtime) };
}

/** The image under runwasi's shim through CRI, beside wasmtime serve 27; skipped, with its reason, where it cannot run. */
export async function shim(): Promise<Row[]> {
  const reason = shimUnavailable();
  if (reason) {
    log(`== runwasi shim rows skipped: ${reason}`);
    return [];
  }
  return shimRows(LOAD, fanOutPath(16));
}

async function shimRows(load: Load, fanOutUrlPath: string): Promise<Row[]> {
  const { greeter: greeterDeployment, splitter: splitterDeployment } = deployments();
  const limits = (greeterDeployment as { spec: { template: { spec: { containers: { resources: { requests: Record<string, string>; limits: Record<string, string> } }[] } } } }).spec.template.spec.containers[0]!.resources;
  const request = parseQuantity(limits.requests.memory!);
  const limit = parseQuantity(limits.limits.memory!);
  const rows: Row[] = [];

  log("== runwasi shim v0.6.0 under containerd 2 CRI: first start (compile), later starts (precompiled layer)");
  const node = await startCriNode();
  const hosts: { stop(): Promise<void> }[] = [];
  try {
    await node.importImage(IMAGE_TARBALL);
    const greeter = await startShimPod(node, greeterDeployment, "name-greeter-pod-a");
    const warmStarts: number[] = [];
    for (let i = 0; i < 3; i++) {
      const extra = await startShimPod(node, greeterDeployment, `name-greeter-pod-start-${i}`);
      warmStarts.push(extra.startMs);
    }
    log(`   first start ${greeter.startMs.toFixed(0)} ms (1 sample: a fresh content store); later ${warmStarts.map((ms) => ms.toFixed(0)).join(", ")} ms`);
    rows.push(row("shim", "task start, first on the node (compile)", greeter.startMs, "ms", { label: "later starts (precompiled layer)", value: median(warmStarts) }));

    const splitter = await startShimPod(node, splitterDeployment, "name-splitter-pod-a", { GREETER_URL: greeter.url });
    const atRest = { greeter: cgroupMemory(greeter.cgroup), splitter: cgroupMemory(splitter.cgroup) };
    const restRss = { greeter: rssKb(greeter.pid) * 1024, splitter: rssKb(splitter.pid) * 1024 };

    // wasmtime serve 27 pods beside them: a greeter, and a splitter calling its own greeter.
    const wasmGreeter = await startHost("local-wasmtime", { ROLE: "greeter", POD_NAME: "g" });
    hosts.push(wasmGreeter);
    const wasmSplitter = await startHost("local-wasmtime", { ROLE: "splitter", POD_NAME: "s", GREETER_URL: wasmGreeter.url });
    hosts.push(wasmSplitter);

    for (const role of ["greeter", "splitter"] as const) {
      log(`== ${role} on the shim vs wasmtime serve 27: ${load.connections} connections, median of ${load.rounds} interleaved rounds of ${load.seconds} s`);
      const path = role === "greeter" ? "/Sherlock" : "/split/Sherlock,Po";
      const shimUrl = `${(role === "greeter" ? greeter : splitter).url}${path}`;
      const wasmUrl = `${(role === "greeter" ? wasmGreeter : wasmSplitter).url}${path}`;
      await waitFor200(wasmUrl, { timeoutMs: 30_000 });
      const result = await interleaved({ shim: shimUrl, wasmtime: wasmUrl }, load);
      log(`   shim ${result.shim.rps.toFixed(0)} req/s p99 ${result.shim.p99} ms; wasmtime serve ${result.wasmtime.rps.toFixed(0)} req/s p99 ${result.wasmtime.p99} ms`);
      rows.push(
        row("shim", `${role} req/s`, result.shim.rps, "req/s", { label: "wasmtime serve 27", value: result.wasmtime.rps }),
        row("shim", `${role} p99 at ${load.connections} connections`, result.shim.p99, "ms", { label: "wasmtime serve 27", value: result.wasmtime.p99 }),
      );
    }

    // The manifests' limit must hold the peak of a full fan-out (MAX_NAMES as shipped) under load.
    log(`== splitter memory under a MAX_NAMES fan-out: ${load.connections} connections, ${load.seconds} s`);
    await runLoad({ ...load, rounds: 1, warmupSeconds: 0, url: `${splitter.url}${fanOutUrlPath}` });
    const peak = { greeter: cgroupMemory(greeter.cgroup).peak, splitter: cgroupMemory(splitter.cgroup).peak };
    log(`   working set at rest: greeter ${(atRest.greeter.workingSet / 2 ** 20).toFixed(1)} MiB, splitter ${(atRest.splitter.workingSet / 2 ** 20).toFixed(1)} MiB; peak greeter ${(peak.greeter / 2 ** 20).toFixed(1)} MiB, splitter ${(peak.splitter / 2 ** 20).toFixed(1)} MiB; task RSS greeter ${(restRss.greeter / 2 ** 20).toFixed(1)} MiB, splitter ${(restRss.splitter / 2 ** 20).toFixed(1)} MiB`);
    const restMax = Math.max(atRest.greeter.workingSet, atRest.splitter.workingSet);
    const peakMax = Math.max(peak.greeter, peak.splitter);
    rows.push(
      ratioTarget(
        row("shim", "task working set at rest (largest role)", restMax, "B", { label: "requests.memory", value: request }),
        "<= 1.0x requests.memory",
        1,
      ),
      ratioTarget(
        row("shim", "task cgroup peak under MAX_NAMES fan-out (largest role)", peakMax, "B", { label: "limits.memory", value: limit }),
        "<= 0.5x limits.memory (headroom)",
        0.5,
      ),
      row("shim", "greeter task RSS at rest", restRss.greeter, "B", { label: "its cgroup's usage", value: atRest.greeter.usage }),
      row("shim", "splitter task RSS at rest", restRss.splitter, "B", { label: "its cgroup's usage", value: atRest.splitter.usage }),
    );
  } finally {
    await Promise.all(hosts.map((host) => host.stop()));
    await node.down();
  }
  return rows;
}
