// CPU time per request, from the kernel's own accounting: the bench reads utime + stime of
// every process in a pod's process group (/proc/<pid>/stat: all threads of a process, those
// that ended included) before and after a bounded run of requests, and divides the difference
// by the requests served. Each pod is a process group of its own (a `wasmtime serve`; a jco
// pod's front with its slots' threads; `jco serve` and the server it starts), so a splitter's
// figure holds its own work and none of its greeter's.
import { readdirSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { median } from "../../lib/load";

/** Clock ticks per second of /proc/<pid>/stat's times (USER_HZ: 100 on every Linux ABI Node runs on). */
const TICKS_PER_SECOND = 100;

/** Cores the floor divides by: what Node may run on at once here. */
export const CORES = availableParallelism();

/** Process group and CPU ms (user + system, and system alone) of every live process. */
function processes(): { pgrp: number; ms: number; systemMs: number }[] {
  const found: { pgrp: number; ms: number; systemMs: number }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // it ended meanwhile
    }
    // The command name (field 2) is in parentheses and may hold spaces: count the fields after it
    // (state is field 3, pgrp 5, utime 14, stime 15).
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    const [utime, stime] = [Number(fields[11]), Number(fields[12])];
    found.push({ pgrp: Number(fields[2]), ms: ((utime + stime) * 1000) / TICKS_PER_SECOND, systemMs: (stime * 1000) / TICKS_PER_SECOND });
  }
  return found;
}

interface Snapshot {
  /** CPU ms (user + system) of each named group. */
  groups: Record<string, number>;
  /** System CPU ms alone of each named group: the kernel's share (memory mapping, sockets). */
  system: Record<string, number>;
  self: number;
}

/** CPU ms of each named set of process groups (the pods' pids: each leads its own group), and of this process. */
function snapshot(groups: Record<string, number[]>): Snapshot {
  const all = processes();
  const sums: Record<string, number> = {};
  const system: Record<string, number> = {};
  for (const [name, leaders] of Object.entries(groups)) {
    if (!leaders.every((leader) => all.some((p) => p.pgrp === leader))) throw new Error(`a process of ${name} is gone`);
    const members = all.filter((p) => leaders.includes(p.pgrp));
    sums[name] = members.reduce((sum, p) => sum + p.ms, 0);
    system[name] = members.reduce((sum, p) => sum + p.systemMs, 0);
  }
  const self = process.cpuUsage();
  return { groups: sums, system, self: (self.user + self.system) / 1000 };
}

/** CPU ms per request of each group, and of this process, between two snapshots. */
export class CpuMeter {
  private readonly start;
  constructor(private readonly groups: Record<string, number[]>) {
    this.start = snapshot(groups);
  }
  perRequest(requests: number): { cpu: Record<string, number>; systemCpu: Record<string, number>; selfCpu: number } {
    const end = snapshot(this.groups);
    const cpu: Record<string, number> = {};
    const systemCpu: Record<string, number> = {};
    for (const name of Object.keys(this.groups)) {
      cpu[name] = (end.groups[name]! - this.start.groups[name]!) / requests;
      systemCpu[name] = (end.system[name]! - this.start.system[name]!) / requests;
    }
    return { cpu, systemCpu, selfCpu: (end.self - this.start.self) / requests };
  }
}

/** The pids of `hosts`, checked: a host without one cannot be metered. */
export function pidsOf(hosts: Record<string, { pid?: number }[]>): Record<string, number[]> {
  const out: Record<string, number[]> = {};
  for (const [name, list] of Object.entries(hosts)) {
    out[name] = list.map((host) => {
      if (host.pid === undefined) throw new Error(`no process id for ${name}`);
      return host.pid;
    });
  }
  return out;
}

export interface Burst {
  requests: number;
  /** p50 of the burst's own requests, timed as lib/load.ts's latency samples are. */
  p50: number;
  /** CPU ms per request of each group of `pids`. */
  cpu: Record<string, number>;
  /** Of which system (kernel) CPU ms per request. */
  systemCpu: Record<string, number>;
  /** CPU ms per request of this process: the client (and the Services, on npm start's topology). */
  selfCpu: number;
}

/**
 * Sequential GETs of `url` on one keep-alive connection (each answering 2xx, or `status`), bounded by count and time, with
 * the CPU each group of processes used meanwhile. Long enough for the tick-grained
 * counters (10 ms) to be read to about a percent: `seconds` of work at least.
 */
export async function burst(url: string, groups: Record<string, number[]>, options: { requests: number; seconds: number; status?: number }): Promise<Burst> {
  const samples: number[] = [];
  const meter = new CpuMeter(groups);
  const deadline = performance.now() + options.seconds * 1000;
  while (samples.length < options.requests && performance.now() < deadline) {
    const started = performance.now();
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    if (options.status === undefined ? !response.ok : response.status !== options.status) throw new Error(`${url} answered ${response.status}`);
    samples.push(performance.now() - started);
  }
  return { requests: samples.length, p50: median(samples), ...meter.perRequest(samples.length) };
}
