// Throughput and latency of each role on every host, rounds interleaved across hosts; the
// greeter also beside an empty component on wasmtime (the engine's ceiling).
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { medianLatency, type RoundResult, runLoad, summarize } from "../../lib/load";
import { ROOT } from "../../lib/build";
import { bundleSync, COMPONENT_FLAGS } from "../../lib/esbuild";
import { waitFor200 } from "../../lib/wait";
import { burst, CpuMeter, pidsOf } from "./cpu";
import { HOST_LABELS, type HostKind, runtimeFor, startHost } from "./hosts";
import { ratioTarget, type Row, row } from "./report";
import { LATENCY, LOAD, log, ROUNDS } from "./settings";

/** scripts/bench/empty-component.ts as a component, precompiled for wasmtime; returns the .cwasm. */
export async function buildEmptyComponent(dir: string): Promise<string> {
  const bundle = join(dir, "empty.js");
  const component = join(dir, "empty.wasm");
  bundleSync("scripts/bench/empty-component.ts", bundle, COMPONENT_FLAGS, "bundling the empty component");
  const componentize = spawnSync(join(ROOT, "node_modules/.bin/tsx"), ["scripts/componentize.ts", bundle, component], { cwd: ROOT, stdio: "ignore" });
  if (componentize.status !== 0) throw new Error("componentizing the empty component failed");
  return (await runtimeFor("local-wasmtime").prepare(component)).artifact;
}

/** A role's app on one kind of host (a splitter gets a greeter of the same kind). */
async function startRole(kind: HostKind, role: "greeter" | "splitter") {
  const greeter = role === "splitter" ? await startHost(kind, { ROLE: "greeter", POD_NAME: "g" }) : undefined;
  const host = await startHost(kind, { ROLE: role, POD_NAME: role, ...(greeter ? { GREETER_URL: greeter.url } : {}) });
  const url = `${host.url}${role === "greeter" ? "/Sherlock" : "/split/Sherlock,Po"}`;
  await waitFor200(url, { timeoutMs: 30_000 });
  return {
    url,
    /** The role's pod and, for a splitter, its greeter: what the CPU meter reads. */
    pods: { [role]: [host], ...(greeter ? { greeter: [greeter] } : {}) } as Record<string, { pid?: number }[]>,
    stop: async () => {
      await host.stop();
      await greeter?.stop();
    },
  };
}

const THROUGHPUT_HOSTS: HostKind[] = ["native", "jco-serve", "local-jco", "local-wasmtime"];

/** A host's medians under load, and the CPU its pods used per request over the measured rounds (ms, by pod role). */
type Measured = RoundResult & {
  cpu: Record<string, number>;
  systemCpu: Record<string, number>;
  /** wasmtime and the empty component: the role pod's CPU per request one at a time (user + system, and system). */
  sequential?: { cpu: number; systemCpu: number };
};

/**
 * Rounds are interleaved across hosts (round 1 of each, then round 2 of each, ...)
 * so drift in the machine's load hits every host alike; medians of the rounds. CPU per
 * request: each pod's CPU over the measured rounds, over the requests they counted (the
 * few still in flight as a round stops, at most one per connection, are left uncounted).
 */
async function throughputOf(role: "greeter" | "splitter", empty?: string): Promise<Record<HostKind | "empty", Measured>> {
  const hosts: { stop(): Promise<void>; url: string; pods: Record<string, { pid?: number }[]> }[] = [];
  const kinds: (HostKind | "empty")[] = [...THROUGHPUT_HOSTS, ...(empty ? (["empty"] as const) : [])];
  try {
    for (const kind of THROUGHPUT_HOSTS) hosts.push(await startRole(kind, role));
    if (empty) {
      const pod = runtimeFor("local-wasmtime").launch({ name: "empty", host: "127.0.0.1", env: {}, slots: 1, build: { component: "", artifact: empty } });
      const url = `http://127.0.0.1:${await pod.port}/`;
      await waitFor200(url, { timeoutMs: 30_000 });
      hosts.push({ url, pods: { [role]: [{ pid: pod.group.pid }] }, stop: () => pod.group.stop() });
    }
    const rounds = new Map<HostKind | "empty", RoundResult[]>(kinds.map((kind) => [kind, []]));
    const cpuMs = new Map<HostKind | "empty", Record<string, number>>(kinds.map((kind) => [kind, {}]));
    const systemMs = new Map<HostKind | "empty", Record<string, number>>(kinds.map((kind) => [kind, {}]));
    for (let round = 0; round <= ROUNDS; round++) {
      for (const [i, kind] of kinds.entries()) {
        // Round 0 is each host's warm-up.
        const seconds = round === 0 ? LOAD.warmupSeconds : LOAD.seconds;
        const meter = new CpuMeter(pidsOf(hosts[i]!.pods));
        const result = await runLoad({ ...LOAD, seconds, rounds: 1, warmupSeconds: 0, url: hosts[i]!.url });
        const used = meter.perRequest(1);
        if (result.median.non2xx || result.median.errors) throw new Error(`${role} on ${kind}: non-2xx or errors under load`);
        if (round > 0) {
          rounds.get(kind)!.push(result.median);
          const sums = cpuMs.get(kind)!;
          const systemSums = systemMs.get(kind)!;
          for (const [pod, ms] of Object.entries(used.cpu)) sums[pod] = (sums[pod] ?? 0) + ms;
          for (const [pod, ms] of Object.entries(used.systemCpu)) systemSums[pod] = (systemSums[pod] ?? 0) + ms;
        }
      }
    }
    const measured = {} as Record<HostKind | "empty", Measured>;
    for (const kind of kinds) {
      const results = rounds.get(kind)!;
      const requests = results.reduce((sum, r) => sum + r.requests, 0);
      const cpu = Object.fromEntries(Object.entries(cpuMs.get(kind)!).map(([pod, ms]) => [pod, ms / requests]));
      const systemCpu = Object.fromEntries(Object.entries(systemMs.get(kind)!).map(([pod, ms]) => [pod, ms / requests]));
      measured[kind] = { ...summarize(results), cpu, systemCpu };
      const label = kind === "empty" ? "an empty component on wasmtime 27" : HOST_LABELS[kind];
      const cpuText = Object.entries(cpu).map(([pod, ms]) => `${pod} ${ms.toFixed(2)}`).join(", ");
      log(`   ${role} on ${label}: ${results.map((r) => r.rps.toFixed(0)).join(", ")} req/s; p99 ${measured[kind].p99} ms; CPU ms per request: ${cpuText}`);
    }
    if (empty) {
      // The same two one request at a time: each instance alone, with no other in its process.
      for (const kind of ["local-wasmtime", "empty"] as const) {
        const host = hosts[kinds.indexOf(kind)]!;
        const one = await burst(host.url, pidsOf(host.pods), { requests: 2_000, seconds: 3 });
        measured[kind].sequential = { cpu: one.cpu[role]!, systemCpu: one.systemCpu[role]! };
        log(`   ${role} on ${kind === "empty" ? "an empty component on wasmtime 27" : HOST_LABELS[kind]}, one request at a time: CPU ${one.cpu[role]!.toFixed(2)} ms per request (system ${one.systemCpu[role]!.toFixed(2)})`);
      }
    }
    return measured;
  } finally {
    await Promise.all(hosts.map((host) => host.stop()));
  }
}

export async function throughput(emptyComponent: string): Promise<Row[]> {
  const rows: Row[] = [];
  for (const role of ["greeter", "splitter"] as const) {
    log(`== ${role} throughput: ${LOAD.connections} connections, warm-up ${LOAD.warmupSeconds} s, median of ${ROUNDS} interleaved rounds of ${LOAD.seconds} s`);
    const medians = await throughputOf(role, role === "greeter" ? emptyComponent : undefined);
    const { native, "jco-serve": jco, "local-jco": local, "local-wasmtime": wasmtime } = medians;
    const section = `${role} load`;
    rows.push(
      ratioTarget(row(section, "local host (jco) req/s", local.rps, "req/s", { label: "plain jco serve", value: jco.rps }), ">= 1.0x plain jco serve", 1),
      row(section, "local host (jco) req/s", local.rps, "req/s", { label: "native Node", value: native.rps }),
    );
    const p99 = row(section, "local host (jco) p99 at 10 connections", local.p99, "ms", { label: "plain jco serve", value: jco.p99 });
    rows.push(role === "greeter" ? ratioTarget(p99, "<= 1.3x plain jco serve", 1.3) : p99);
    // Where a jco host's time goes: the CPU of the role's pod per request (a splitter's own work, without its greeter's).
    rows.push(row(section, `local host (jco): ${role} pod CPU per request`, local.cpu[role]!, "ms", { label: "plain jco serve", value: jco.cpu[role]! }));
    if (role === "greeter") {
      rows.push(
        // The engine's ceiling: a fresh StarlingMonkey instance per request, whatever the handler does.
        ratioTarget(
          row(section, "wasmtime req/s", wasmtime.rps, "req/s", { label: "an empty component on wasmtime", value: medians.empty.rps }),
          ">= 0.9x an empty component on wasmtime",
          0.9,
        ),
        row(section, "wasmtime: greeter CPU per request", wasmtime.cpu.greeter!, "ms", { label: "an empty component", value: medians.empty.cpu.greeter! }),
        row(section, "wasmtime: greeter system (kernel) CPU per request", wasmtime.systemCpu.greeter!, "ms", { label: "an empty component", value: medians.empty.systemCpu.greeter! }),
        row(section, "wasmtime: greeter CPU per request, one at a time", wasmtime.sequential!.cpu, "ms", { label: "an empty component, one at a time", value: medians.empty.sequential!.cpu }),
        row(section, "wasmtime req/s", wasmtime.rps, "req/s", { label: "local host (jco)", value: local.rps }),
      );
    } else {
      rows.push(
        row(section, "wasmtime req/s", wasmtime.rps, "req/s", { label: "local host (jco)", value: local.rps }),
        row(section, "wasmtime: splitter pod CPU per request", wasmtime.cpu.splitter!, "ms", { label: "its greeter's CPU per split (2 calls)", value: wasmtime.cpu.greeter! }),
      );
    }
    rows.push(
      row(section, "wasmtime p50 at 10 connections", wasmtime.p50, "ms", { label: "local host (jco)", value: local.p50 }),
      row(section, "wasmtime p99 at 10 connections", wasmtime.p99, "ms", { label: "local host (jco)", value: local.p99 }),
    );
  }
  return rows;
}

export async function latency(): Promise<Row[]> {
  log(`== latency at 1 connection (sequential, sub-ms timer), median of ${ROUNDS} rounds of <= ${LATENCY.requests} requests`);
  const rows: Row[] = [];
  for (const role of ["greeter", "splitter"] as const) {
    const measure = async (kind: HostKind) => {
      const host = await startRole(kind, role);
      try {
        const result = await medianLatency(host.url, ROUNDS, LATENCY);
        log(`   ${role} on ${HOST_LABELS[kind]}: p50 ${result.p50.toFixed(2)} ms, p99 ${result.p99.toFixed(2)} ms`);
        return result;
      } finally {
        await host.stop();
      }
    };
    const native = await measure("native");
    const jco = await measure("jco-serve");
    const local = await measure("local-jco");
    const wasmtime = await measure("local-wasmtime");
    const section = `${role} latency`;
    rows.push(
      row(section, "local host (jco) p50", local.p50, "ms", { label: "native Node", value: native.p50 }),
      row(section, "local host (jco) p99", local.p99, "ms", { label: "native Node", value: native.p99 }),
      row(section, "local host (jco) p50", local.p50, "ms", { label: "plain jco serve", value: jco.p50 }),
      row(section, "wasmtime p50", wasmtime.p50, "ms", { label: "local host (jco)", value: local.p50 }),
    );
  }
  return rows;
}
