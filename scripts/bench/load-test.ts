// `npm run test:load`: a fixed-size load against the local topology of `npm start`
// (on free ports), through both NodePorts, that fails on any non-2xx answer, any
// error or timeout, a wrong body, a pod restart, or a leak: a pod whose memory
// keeps growing over equal rounds, or (jco) a slot whose preview2-shim tables hold
// more than the guest's known per-request retention. Writes bench/load-results.json
// (bench/load-results-wasmtime.json with --runtime wasmtime). Not part of `npm test`.
import { mkdirSync, writeFileSync } from "node:fs";
import { cpus, loadavg, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { parseArgs } from "node:util";
import { type Cluster, startCluster } from "../../host/cluster";
import type { Kubelet } from "../../host/kubelet";
import { killAllGroupsNow } from "../../lib/processes";
import { requireRuntime } from "../../host/runtimes";
import { ROOT } from "../../lib/build";
import { type LoadResult, type RoundResult, runLoad } from "../../lib/load";
import { errorText } from "../../lib/errors";

const { values: args } = parseArgs({ options: { runtime: { type: "string", default: "jco" } } });
const RUNTIME = args.runtime === "wasmtime" ? "wasmtime" : "jco";
const RESULTS_FILE = join(ROOT, RUNTIME === "jco" ? "bench/load-results.json" : "bench/load-results-wasmtime.json");

/**
 * The same fixed plan for both targets: equal rounds, so memory can be compared
 * round to round. Each round is bounded by its duration and by maxRequests.
 */
const PLAN = { connections: 10, seconds: 8, rounds: 3, maxRequests: 50_000 };

/**
 * Every target is warmed up, before any is measured, until no pod's RSS grows by
 * more than WARMUP_SETTLED between two warm-up rounds (at most WARMUP_MAX_ROUNDS).
 * A pod grows until its V8 heaps reach their working size, and a splitter's slots
 * until they are replaced: that is not a leak. A leak never settles, so it shows
 * in the measured rounds anyway.
 */
const WARMUP = { roundSeconds: 5, settled: 0.02, maxRounds: 8 };

/**
 * A pod leaks when its RSS grows every measured round and ends above the highest RSS it
 * reached during the warm-up by more than both of these. A jco pod's RSS is a sawtooth
 * (slots grow, then are replaced, and freed memory returns to the system in bursts) whose
 * period can be longer than the three rounds: a few rounds of rise are normal, rising past
 * every earlier peak is not.
 */
const LEAK_MIN_GROWTH_RATIO = 0.05;
const LEAK_MIN_GROWTH_KB = 15 * 1024;
/**
 * The sharper check (jco): each slot's preview2-shim tables, after each round. A
 * greeter's must stay at a handful whatever it served (one entry per request was
 * the unread-body leak, a few KB each, which RSS hid). A splitter's guest keeps each
 * downstream call's stream, future and pollables until its own GC, which in
 * practice does not run: a few entries per name asked, bounded because a slot
 * is replaced every few hundred requests. More than that per request served is a leak.
 */
const MAX_IDLE_ENTRIES = 16;
const MAX_ENTRIES_PER_NAME = 8;
/** Names per /split the load sends (the splitter target's path). */
const SPLIT_NAMES = 2;

interface Target {
  name: string;
  /** Path on the target's NodePort. */
  path: string;
  expectedBody: string;
  nodePortUrl: (topology: Cluster) => string | undefined;
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
  /** RSS in MB of each pod, after each measured round. */
  rssMbPerRound: Record<string, number[]>;
  /** jco: per pod, after each round, every slot's shim table entries and requests served. */
  slotsPerRound?: Record<string, SlotAccount[][]>;
  sampleBodies: { before: string; after: string };
}

/** One jco slot after a round: its shim table entries, requests served and downstream requests still open. */
interface SlotAccount {
  entries: number;
  served: number;
  openRequests: number;
}

/** Why a jco pod's slot tables look like a leak, or undefined. */
function tableLeak(pod: Kubelet, slots: SlotAccount[], namesPerRequest: number): string | undefined {
  for (const slot of slots) {
    if (slot.openRequests > 0) return `${slot.openRequests} downstream requests still open at rest`;
    const limit = pod.role === "greeter" ? MAX_IDLE_ENTRIES : MAX_IDLE_ENTRIES + slot.served * namesPerRequest * MAX_ENTRIES_PER_NAME;
    if (slot.entries > limit) return `a slot holds ${slot.entries} shim entries after ${slot.served} requests (limit ${limit})`;
  }
  return undefined;
}

/** Why a pod's RSS samples look like a leak, or undefined. */
function leakReason(samplesKb: readonly number[], warmUpPeakKb: number): string | undefined {
  if (samplesKb.length < 2) return undefined;
  const growsEveryRound = samplesKb.every((kb, i) => i === 0 || kb > samplesKb[i - 1]!);
  const last = samplesKb[samplesKb.length - 1]!;
  const aboveKb = last - warmUpPeakKb;
  if (growsEveryRound && aboveKb > LEAK_MIN_GROWTH_KB && aboveKb > warmUpPeakKb * LEAK_MIN_GROWTH_RATIO) {
    return `RSS grew every round, ${mb(samplesKb[0]!)} -> ${mb(last)} MB, past its warm-up peak of ${mb(warmUpPeakKb)} MB`;
  }
  return undefined;
}

/** The highest RSS each pod reached during the warm-ups, by pod name. */
const warmUpPeakKb = new Map<string, number>();

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

async function loadTarget(topology: Cluster, target: Target, failures: string[]): Promise<TargetReport> {
  const base = target.nodePortUrl(topology);
  if (!base) throw new Error(`${target.name} is not exposed`);
  const url = `${base}${target.path}`;
  const expected = `200 ${target.expectedBody}`;

  const before = await sampleBody(url);
  const rssKb: Record<string, number[]> = Object.fromEntries(topology.pods.map((pod) => [pod.name, []]));
  const slots: Record<string, SlotAccount[][]> = Object.fromEntries(
    topology.pods.map((pod) => [pod.name, []]),
  );
  console.log(`\n${target.name}: GET ${url}, ${PLAN.connections} connections, ${PLAN.rounds} x ${PLAN.seconds} s`);
  const result: LoadResult = await runLoad({
    url,
    ...PLAN,
    warmupSeconds: 0, // done for every target before the first measured round (warmUp)
    afterRound: async (index) => {
      for (const pod of topology.pods) {
        const stats = await pod.stats();
        rssKb[pod.name]!.push((stats?.rssMb ?? 0) * 1024);
        if (stats?.pod) {
          slots[pod.name]!.push(
            stats.pod.slots.map((slot) => ({
              entries: slot.resources.streams + slot.resources.futures + slot.resources.polls,
              served: slot.served,
              openRequests: slot.resources.openRequests,
            })),
          );
        }
      }
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
    const leak = leakReason(samples, warmUpPeakKb.get(pod) ?? 0);
    if (leak) failures.push(`${target.name}: ${pod} may leak (${leak})`);
  }
  for (const pod of topology.pods) {
    for (const round of slots[pod.name]!) {
      const leak = tableLeak(pod, round, SPLIT_NAMES);
      if (leak) {
        failures.push(`${target.name}: ${pod.name} leaks in the shim (${leak})`);
        break;
      }
    }
  }

  return {
    name: target.name,
    url,
    rounds: result.rounds.map(tidy),
    median: tidy(median),
    rssMbPerRound: Object.fromEntries(Object.entries(rssKb).map(([pod, samples]) => [pod, samples.map(mb)])),
    ...(Object.values(slots).some((rounds) => rounds.length) ? { slotsPerRound: slots } : {}),
    sampleBodies: { before, after },
  };
}

async function warmUp(topology: Cluster, target: Target): Promise<void> {
  const url = `${target.nodePortUrl(topology)}${target.path}`;
  const sample = async () => {
    const stats = await Promise.all(topology.pods.map((pod) => pod.stats()));
    const rss = stats.map((stat) => (stat?.rssMb ?? 0) * 1024);
    topology.pods.forEach((pod, i) => warmUpPeakKb.set(pod.name, Math.max(warmUpPeakKb.get(pod.name) ?? 0, rss[i]!)));
    // jco: every slot replaced at least once, so the warm-up has seen a whole sawtooth (see LEAK_MIN_GROWTH_RATIO).
    const cycled = stats.every((stat) => !stat?.pod || stat.pod.replaced >= stat.pod.slots.length);
    return { rss, cycled };
  };
  let before = (await sample()).rss;
  for (let round = 1; round <= WARMUP.maxRounds; round++) {
    await runLoad({ ...PLAN, url, rounds: 0, warmupSeconds: WARMUP.roundSeconds });
    const { rss: after, cycled } = await sample();
    const growth = Math.max(...after.map((kb, i) => (kb - before[i]!) / before[i]!));
    console.log(
      `warm-up ${target.name} round ${round}: RSS ${after.map((kb) => `${mb(kb)} MB`).join(", ")} (largest growth ${(growth * 100).toFixed(1)}%${cycled ? "" : "; slots not all replaced yet"})`,
    );
    if (growth < WARMUP.settled && cycled) return;
    before = after;
  }
  console.log(`warm-up ${target.name}: not settled after ${WARMUP.maxRounds} rounds; measuring anyway`);
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

  const runtime = requireRuntime(RUNTIME);
  console.log(`runtime: ${runtime.version}`);
  const topology = await startCluster({ runtime, build: true, splitterPort: 0, greeterPort: 0 });

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
    runtime: runtime.version,
    machine,
    plan: {
      ...PLAN,
      warmUp: WARMUP,
      leak: { minGrowthRatio: LEAK_MIN_GROWTH_RATIO, minGrowthMb: LEAK_MIN_GROWTH_KB / 1024, maxIdleEntries: MAX_IDLE_ENTRIES, maxEntriesPerName: MAX_ENTRIES_PER_NAME },
    },
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

process.on("exit", killAllGroupsNow);
for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => process.exit(130));
main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`load: FAIL (${errorText(error)})`);
    process.exit(1);
  },
);
