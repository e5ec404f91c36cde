// `npm run test:load`: a fixed-size load against the local topology of `npm start`
// (on free ports), through both NodePorts, that fails on any non-2xx answer, any
// error or timeout, a wrong body, a pod restart, or a pod whose memory keeps
// growing over equal rounds (a leak). Prints the figures and writes them to
// bench/load-results.json. Not part of `npm test`: it takes ~40 s of both cores.
import { readFileSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { ROOT } from "./lib/build";
import { type LoadResult, type RoundResult, runLoad } from "./lib/load";
import { groupMembers } from "./topology/process-tree";
import { type PodHandle, startTopology, type Topology } from "./topology/topology";

const RESULTS_FILE = join(ROOT, "bench/load-results.json");

/**
 * The same fixed plan for both targets: equal rounds, so memory can be compared
 * round to round. Each round is bounded by its duration and by maxRequests.
 */
const PLAN = { connections: 10, seconds: 8, rounds: 3, maxRequests: 50_000 };

/**
 * Every target is warmed up, before any is measured, until no pod's RSS grows by
 * more than WARMUP_SETTLED between two warm-up rounds (at most WARMUP_MAX_ROUNDS).
 * A pod grows until its V8 heaps and instance pool reach their working size (a
 * splitter levels off near 285 MB after ~2,500 requests, measured): that is not a
 * leak. A leak never settles, so it shows in the measured rounds anyway.
 */
const WARMUP = { roundSeconds: 5, settled: 0.02, maxRounds: 8 };

/** A pod leaks when its RSS grows every round, and from round 1 to the last by more than both of these. */
const LEAK_MIN_GROWTH_RATIO = 0.05;
const LEAK_MIN_GROWTH_KB = 15 * 1024;

interface Target {
  name: string;
  /** Path on the target's NodePort. */
  path: string;
  expectedBody: string;
  nodePortUrl: (topology: Topology) => string | undefined;
}

const TARGETS: Target[] = [
  {
    name: "splitter NodePort",
    path: "/split/Sherlock,Po",
    expectedBody: "Hello Sherlock! and Greetings Po!",
    nodePortUrl: (t) => t.splitterUrl,
  },
  { name: "greeter NodePort", path: "/Sherlock", expectedBody: "Hello Sherlock!", nodePortUrl: (t) => t.greeterUrl },
];

interface TargetReport {
  name: string;
  url: string;
  rounds: RoundResult[];
  median: RoundResult;
  /** RSS in MB of each pod (its whole process group), after each measured round. */
  rssMbPerRound: Record<string, number[]>;
  sampleBodies: { before: string; after: string };
}

/** Resident memory of a pod: the sum over its process group (a pod may be more than one process). */
function podRssKb(pod: PodHandle): number {
  if (pod.pid === undefined) return 0;
  return groupMembers([pod.pid]).reduce((sum, pid) => sum + processRssKb(pid), 0);
}

function processRssKb(pid: number): number {
  try {
    const match = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0; // gone between listing and reading
  }
}

/** Why a pod's RSS samples look like a leak, or undefined. */
function leakReason(samplesKb: readonly number[]): string | undefined {
  if (samplesKb.length < 2) return undefined;
  const growsEveryRound = samplesKb.every((kb, i) => i === 0 || kb > samplesKb[i - 1]!);
  const first = samplesKb[0]!;
  const growthKb = samplesKb[samplesKb.length - 1]! - first;
  if (growsEveryRound && growthKb > LEAK_MIN_GROWTH_KB && growthKb > first * LEAK_MIN_GROWTH_RATIO) {
    return `RSS grew every round, ${mb(first)} -> ${mb(first + growthKb)} MB`;
  }
  return undefined;
}

const mb = (kb: number) => Math.round(kb / 102.4) / 10;
const ms = (value: number) => Math.round(value * 10) / 10;

/** Round figures to what is worth reading, so the JSON file stays small and diffable. */
function tidy(round: RoundResult): RoundResult {
  return { ...round, rps: Math.round(round.rps * 10) / 10, p50: ms(round.p50), p99: ms(round.p99) };
}

async function sampleBody(url: string): Promise<string> {
  const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
  return `${res.status} ${await res.text()}`;
}

async function loadTarget(topology: Topology, target: Target, failures: string[]): Promise<TargetReport> {
  const base = target.nodePortUrl(topology);
  if (!base) throw new Error(`${target.name} is not exposed`);
  const url = `${base}${target.path}`;
  const expected = `200 ${target.expectedBody}`;

  const before = await sampleBody(url);
  const rssKb: Record<string, number[]> = Object.fromEntries(topology.pods.map((pod) => [pod.name, []]));
  console.log(`\n${target.name}: GET ${url}, ${PLAN.connections} connections, ${PLAN.rounds} x ${PLAN.seconds} s`);
  const result: LoadResult = await runLoad({
    url,
    ...PLAN,
    warmupSeconds: 0, // done for every target before the first measured round (warmUp)
    afterRound: (index) => {
      for (const pod of topology.pods) rssKb[pod.name]!.push(podRssKb(pod));
      console.log(`  round ${index + 1}: RSS ${topology.pods.map((pod) => `${pod.name} ${mb(rssKb[pod.name]!.at(-1)!)} MB`).join(", ")}`);
    },
  });
  const after = await sampleBody(url);

  result.rounds.forEach((round, i) => {
    console.log(
      `  round ${i + 1}: ${round.requests} requests, ${round.rps.toFixed(1)} req/s, p50 ${ms(round.p50)} ms, p99 ${ms(round.p99)} ms, ` +
        `non-2xx ${round.non2xx}, errors ${round.errors}, timeouts ${round.timeouts}`,
    );
  });
  const { median } = result;
  console.log(`  median: ${median.rps.toFixed(1)} req/s, p50 ${ms(median.p50)} ms, p99 ${ms(median.p99)} ms`);

  if (median.non2xx > 0) failures.push(`${target.name}: ${median.non2xx} non-2xx answers`);
  if (median.errors > 0) failures.push(`${target.name}: ${median.errors} errors`);
  if (median.timeouts > 0) failures.push(`${target.name}: ${median.timeouts} timeouts`);
  if (result.rounds.some((round) => round.requests === 0)) failures.push(`${target.name}: a round answered no request`);
  for (const [label, body] of [["before", before], ["after", after]] as const) {
    if (body !== expected) failures.push(`${target.name}: sample body ${label} the load was ${JSON.stringify(body)}, not ${JSON.stringify(expected)}`);
  }
  for (const [pod, samples] of Object.entries(rssKb)) {
    const leak = leakReason(samples);
    if (leak) failures.push(`${target.name}: ${pod} may leak (${leak})`);
  }

  return {
    name: target.name,
    url,
    rounds: result.rounds.map(tidy),
    median: tidy(median),
    rssMbPerRound: Object.fromEntries(Object.entries(rssKb).map(([pod, samples]) => [pod, samples.map(mb)])),
    sampleBodies: { before, after },
  };
}

async function warmUp(topology: Topology, target: Target): Promise<void> {
  const url = `${target.nodePortUrl(topology)}${target.path}`;
  let before = topology.pods.map(podRssKb);
  for (let round = 1; round <= WARMUP.maxRounds; round++) {
    await runLoad({ ...PLAN, url, rounds: 0, warmupSeconds: WARMUP.roundSeconds });
    const after = topology.pods.map(podRssKb);
    const growth = Math.max(...after.map((kb, i) => (kb - before[i]!) / before[i]!));
    console.log(`warm-up ${target.name} round ${round}: RSS ${after.map((kb) => `${mb(kb)} MB`).join(", ")} (largest growth ${(growth * 100).toFixed(1)}%)`);
    if (growth < WARMUP.settled) return;
    before = after;
  }
  console.log(`warm-up ${target.name}: memory still growing after ${WARMUP.maxRounds} rounds; measuring anyway`);
}

async function main(): Promise<number> {
  const machine = {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? "unknown",
    node: process.version,
    totalMemoryMb: Math.round(totalmem() / 1024 / 1024),
    // Other work on the machine skews throughput: recorded, not corrected for.
    loadAverageAtStart: loadavg().map((value) => Math.round(value * 100) / 100),
  };
  console.log(`machine: ${machine.cpus} CPUs (${machine.cpuModel}), Node ${machine.node}, load average ${machine.loadAverageAtStart.join(" ")}`);

  const topology = await startTopology({ splitterPort: 0, greeterPort: 0 });
  const stopOnSignal = () => void topology.stop().then(() => process.exit(130));
  process.once("SIGINT", stopOnSignal);
  process.once("SIGTERM", stopOnSignal);

  const failures: string[] = [];
  const reports: TargetReport[] = [];
  try {
    console.log(`topology ready in ${Math.round(topology.readyMs)} ms: splitter ${topology.splitterUrl}, greeters ${topology.greeterUrl}`);
    for (const target of TARGETS) await warmUp(topology, target);
    for (const target of TARGETS) reports.push(await loadTarget(topology, target, failures));
    for (const pod of topology.pods) {
      if (pod.restarts > 0) failures.push(`${pod.name} restarted ${pod.restarts} time(s) during the load`);
    }
  } finally {
    await topology.stop();
  }

  const verdict = failures.length === 0 ? "PASS" : "FAIL";
  const results = {
    machine,
    plan: { ...PLAN, warmUp: WARMUP, leak: { minGrowthRatio: LEAK_MIN_GROWTH_RATIO, minGrowthMb: LEAK_MIN_GROWTH_KB / 1024 } },
    targets: reports,
    verdict,
    failures,
  };
  mkdirSync(dirname(RESULTS_FILE), { recursive: true });
  writeFileSync(RESULTS_FILE, `${JSON.stringify(results, null, 2)}\n`);
  console.log(`\nresults: ${RESULTS_FILE}`);
  console.log(verdict === "PASS" ? "load: PASS" : `load: FAIL (${failures.join("; ")})`);
  return verdict === "PASS" ? 0 : 1;
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`load: FAIL (${error instanceof Error ? error.message : String(error)})`);
    process.exit(1);
  },
);
