// Fault injection against the local topology of `npm start` (2 greeter pods, 1
// splitter pod, ClusterIP + NodePorts), one scenario after the other in one
// topology: a greeter replica killed under load, both greeters down, both
// greeters stalled, and the splitter pod killed and restarted by the runner.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { LogEntry } from "../scripts/topology/format";
import { groupMembers } from "../scripts/topology/process-tree";
import { type PodHandle, startTopology, type Topology } from "../scripts/topology/topology";

const SEED_PATH = "/split/Sherlock,Po";
const SEED_ANSWER = "Hello Sherlock! and Greetings Po!";
/**
 * Shorter than the 2000 ms default so the stall scenario is quick, and long enough
 * that no healthy call under load on a busy 2-core machine comes near it.
 */
const GREETER_TIMEOUT_MS = 1_000;
/** Any single request taking longer than this is a hang, not a slow answer. */
const HANG_MS = 5_000;

interface Outcome {
  status: number;
  text: string;
  ms: number;
  /** Set when the request got no answer at all (cut connection, or no answer within HANG_MS). */
  error?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** One GET, bounded by HANG_MS; never throws, so a failed request is an outcome to check. */
async function get(url: string): Promise<Outcome> {
  const started = performance.now();
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(HANG_MS) });
    const text = await res.text();
    return { status: res.status, text, ms: performance.now() - started };
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    return { status: 0, text: "", ms: performance.now() - started, error: cause ?? String(error) };
  }
}

/** GETs `url` every 50 ms until it answers 200 with `expected`; the time it took, or undefined after `timeoutMs`. */
async function msUntilServed(url: string, expected: string, timeoutMs: number): Promise<number | undefined> {
  const started = performance.now();
  while (performance.now() - started < timeoutMs) {
    const outcome = await get(url);
    if (outcome.status === 200 && outcome.text === expected) return performance.now() - started;
    await sleep(50);
  }
  return undefined;
}

/** Whether an answer is one of the two acceptable ones: the exact greeting, or a 5xx that says why. */
function isExactOrClear5xx(outcome: Outcome): boolean {
  if (outcome.status === 200) return outcome.text === SEED_ANSWER;
  return outcome.status >= 500 && outcome.status <= 599 && outcome.text.trim().length > 0;
}

const round = (ms: number) => Math.round(ms);
const maxMs = (outcomes: readonly Outcome[]) => Math.max(...outcomes.map((o) => o.ms));

describe("faults: the local topology under pod failures", () => {
  let topology: Topology;
  let greeters: PodHandle[];
  let splitter: PodHandle;
  const log: LogEntry[] = [];
  /** Every pod pid seen, so afterAll can check that no process group outlived the topology. */
  const pids = new Set<number>();
  const notePids = () => topology.pods.forEach((pod) => pod.pid !== undefined && pids.add(pod.pid));

  beforeAll(async () => {
    topology = await startTopology({
      splitterPort: 0,
      greeterPort: 0,
      splitterEnv: { GREETER_TIMEOUT_MS: String(GREETER_TIMEOUT_MS) },
      log: (entry) => log.push(entry),
    });
    greeters = topology.pods.filter((pod) => pod.role === "greeter");
    splitter = topology.pods.find((pod) => pod.role === "splitter")!;
    notePids();
  });

  afterAll(async () => {
    if (!topology) return;
    // A stopped process cannot act on SIGTERM: resume any stalled pod first (harmless otherwise).
    for (const pod of greeters) topology.killPod(pod.name, "SIGCONT");
    notePids();
    await topology.stop();
    expect(groupMembers([...pids])).toEqual([]);
  });

  it("one greeter replica SIGKILLed under load: >= 99% of split requests succeed, none hangs", async () => {
    const victim = greeters[0]!;
    const oldPid = victim.pid!;
    const total = 480;
    const connections = 6;
    const killAfter = 120; // well inside the run, so requests are in flight at the kill and after the restart
    const outcomes: Outcome[] = [];
    let issued = 0;
    let killedAt: number | undefined;

    // A fixed number of requests shared by a few concurrent clients: bounded, and every answer is kept.
    const client = async () => {
      while (issued < total) {
        issued++;
        outcomes.push(await get(`${topology.splitterUrl}${SEED_PATH}`));
        if (killedAt === undefined && outcomes.length >= killAfter) {
          killedAt = outcomes.length;
          // A crash, not a kill through the runner: killPod() would also take the pod out of
          // the endpoints at once, so the ClusterIP would never route to the dead replica.
          // Signalled directly, it stays an endpoint until the runner sees the exit.
          process.kill(-oldPid, "SIGKILL");
        }
      }
    };
    const logBefore = log.length;
    const started = performance.now();
    await Promise.all(Array.from({ length: connections }, client));
    const seconds = (performance.now() - started) / 1000;
    await victim.whenReady();
    notePids();

    const succeeded = outcomes.filter((o) => o.status === 200 && o.text === SEED_ANSWER).length;
    const ratio = succeeded / outcomes.length;
    const failures = outcomes.filter((o) => !(o.status === 200 && o.text === SEED_ANSWER));
    // Greeter calls the ClusterIP sent on to the other replica after the dead one refused the connection.
    const skippedDead = log
      .slice(logBefore)
      .filter((e) => e.kind === "request" && e.record.via.startsWith("ClusterIP") && e.record.skipped.includes(victim.name)).length;
    console.log(
      `faults: ${succeeded}/${outcomes.length} split requests succeeded (${(ratio * 100).toFixed(2)}%) ` +
        `while ${victim.name} was killed (after request ${killedAt}; ${connections} connections, ${seconds.toFixed(1)} s, ` +
        `slowest ${round(maxMs(outcomes))} ms; ${skippedDead} greeter calls skipped the dead replica; ` +
        `restarted: ${victim.restarts}, pid ${oldPid} -> ${victim.pid})`,
    );
    for (const failure of failures.slice(0, 5)) console.log(`  failed: ${failure.status} ${failure.error ?? failure.text}`);

    expect(outcomes).toHaveLength(total);
    expect(killedAt).toBeDefined();
    expect(outcomes.filter((o) => !isExactOrClear5xx(o))).toEqual([]);
    expect(ratio).toBeGreaterThanOrEqual(0.99);
    expect(victim.restarts).toBe(1);
    expect(victim.pid).not.toBe(oldPid);
  });

  it("both greeters down: every split answers 502 within 1 s, naming the name and why", async () => {
    const heldPids = greeters.map((pod) => topology.holdPodDown(pod.name)!);
    try {
      // Sequential and concurrent requests alike: nothing waits on a greeter that is not there.
      const sequential: Outcome[] = [];
      for (let i = 0; i < 5; i++) sequential.push(await get(`${topology.splitterUrl}${SEED_PATH}`));
      const concurrent = await Promise.all(Array.from({ length: 5 }, () => get(`${topology.splitterUrl}${SEED_PATH}`)));
      const outcomes = [...sequential, ...concurrent];

      console.log(
        `faults: both greeters down: ${outcomes.filter((o) => o.status === 502).length}/${outcomes.length} answered 502, ` +
          `slowest ${round(maxMs(outcomes))} ms; body: ${outcomes[0]!.text.trim()}`,
      );
      for (const outcome of outcomes) {
        expect(outcome.status, outcome.error ?? outcome.text).toBe(502);
        expect(outcome.ms).toBeLessThan(1_000);
        expect(outcome.text).toMatch(/could not greet "Sherlock": .+/);
        expect(outcome.text).toMatch(/could not greet "Po": .+/);
      }
      // Down means down: the supervisor did not bring them back meanwhile.
      expect(groupMembers(heldPids)).toEqual([]);
      expect(greeters.every((pod) => !pod.ready)).toBe(true);
    } finally {
      for (const pod of greeters) topology.releasePod(pod.name);
    }
    await Promise.all(greeters.map((pod) => pod.whenReady()));
    notePids();
    const recoveredMs = await msUntilServed(`${topology.splitterUrl}${SEED_PATH}`, SEED_ANSWER, 5_000);
    console.log(`faults: greeters released: split served again ${round(recoveredMs ?? NaN)} ms after both were ready`);
    expect(recoveredMs).toBeDefined();
  });

  it(`both greeters stalled (SIGSTOP): 504 within GREETER_TIMEOUT_MS (${GREETER_TIMEOUT_MS}) + 250 ms, then recovery on SIGCONT`, async () => {
    const restartsBefore = greeters.map((pod) => pod.restarts);
    for (const pod of greeters) topology.killPod(pod.name, "SIGSTOP");
    // One at a time: a jco pod runs one request at a time (preview2-shim calls the
    // component's handler synchronously), so concurrent requests to a stalled
    // greeter would queue in the splitter pod and the k-th would take k timeouts.
    const outcomes: Outcome[] = [];
    try {
      for (let i = 0; i < 3; i++) outcomes.push(await get(`${topology.splitterUrl}${SEED_PATH}`));
    } finally {
      for (const pod of greeters) topology.killPod(pod.name, "SIGCONT");
    }
    const resumedAt = performance.now();
    const recoveredMs = await msUntilServed(`${topology.splitterUrl}${SEED_PATH}`, SEED_ANSWER, 5_000);

    console.log(
      `faults: both greeters stalled: ${outcomes.filter((o) => o.status === 504).length}/${outcomes.length} answered 504, ` +
        `${round(Math.min(...outcomes.map((o) => o.ms)))}-${round(maxMs(outcomes))} ms ` +
        `(bound ${GREETER_TIMEOUT_MS + 250} ms); body: ${outcomes[0]!.text.trim()}`,
    );
    console.log(`faults: after SIGCONT: first 200 ${round(recoveredMs ?? NaN)} ms after resuming`);
    for (const outcome of outcomes) {
      expect(outcome.status, outcome.error ?? outcome.text).toBe(504);
      expect(outcome.ms).toBeLessThan(GREETER_TIMEOUT_MS + 250);
      expect(outcome.text).toContain(`the greeter did not answer within ${GREETER_TIMEOUT_MS} ms`);
    }
    expect(recoveredMs).toBeDefined();
    expect(performance.now() - resumedAt).toBeLessThan(5_500);
    // A stall is not a crash: nobody restarted them.
    expect(greeters.map((pod) => pod.restarts)).toEqual(restartsBefore);
  });

  it("the splitter pod SIGKILLed: the runner restarts it and NodePort requests succeed again, no manual step", async () => {
    const oldPid = splitter.pid!;
    const restartsBefore = splitter.restarts;
    topology.killPod(splitter.name, "SIGKILL");
    const servedAgainMs = await msUntilServed(`${topology.splitterUrl}${SEED_PATH}`, SEED_ANSWER, 10_000);
    notePids();

    console.log(
      `faults: splitter killed: served again through the NodePort after ${round(servedAgainMs ?? NaN)} ms; ` +
        `restarts ${restartsBefore} -> ${splitter.restarts}, pid ${oldPid} -> ${splitter.pid}`,
    );
    expect(servedAgainMs).toBeDefined();
    expect(splitter.restarts).toBe(restartsBefore + 1);
    expect(splitter.pid).not.toBe(oldPid);
    expect(groupMembers([oldPid])).toEqual([]);
  });
});
