// host/pod.ts, the jco pod host: its slots serve concurrently (no queueing behind
// a stalled greeter), a slot is replaced without failing a request, and what a
// request leaves open in preview2-shim is released (the I/O worker's resource
// counts stay flat however many requests it serves).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseListen, type PodStats } from "../host/pod";
import { pollUntil } from "../lib/wait";
import { requireRuntime } from "../host/runtimes";
import { startTestGreeter, type TestGreeter } from "./support/greeters";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";
import { podFleet, type TestPod } from "./support/pods";

const jco = requireRuntime("jco");

const TIMEOUT_MS = 1_000;
/**
 * The README's number ("greeters 2, the splitter 4"), stated here rather than read from
 * host/cluster.ts. That npm start gives the splitter these 4 is checked live by
 * test/faults.test.ts: 4 concurrent splits behind stalled greeters all answer 504 in one deadline.
 */
const SPLITTER_SLOTS = 4;

async function statsOf(pod: TestPod): Promise<PodStats> {
  const stats = (await pod.process.stats()).pod;
  if (!stats) throw new Error(`${pod.name} did not report its stats`);
  return stats;
}

const sum = (stats: PodStats, key: keyof PodStats["slots"][number]["resources"]) =>
  stats.slots.reduce((total, slot) => total + slot.resources[key], 0);

describe("parseListen", () => {
  it.each([
    ["127.0.0.1:8080", { host: "127.0.0.1", port: 8080 }],
    ["[::1]:0", { host: "::1", port: 0 }],
  ])("%s", (listen, expected) => expect(parseListen(listen)).toEqual(expected));
  it.each(["8080", "host:", "h:70000", "::1:80"])("refuses %j", (listen) => expect(() => parseListen(listen)).toThrow(/--listen must be HOST:PORT/));
});

describe("the jco pod host", () => {
  const fleet = podFleet(jco);
  const greeters: Partial<Record<"json" | "stall" | "endless", TestGreeter>> = {};
  let stalledSplitter: TestPod;
  let greeter: TestPod;
  let recycling: TestPod;
  let recyclingFresh: number;
  let splitter: TestPod;

  beforeAll(async () => {
    for (const behaviour of ["json", "stall", "endless"] as const) greeters[behaviour] = await startTestGreeter(behaviour);
    // The splitter's slots as npm start runs it.
    stalledSplitter = await fleet.start(
      "splitter-stalled",
      { ROLE: "splitter", GREETER_URL: greeters.stall!.url, GREETER_TIMEOUT_MS: String(TIMEOUT_MS) },
      { slots: SPLITTER_SLOTS },
    );
    greeter = await fleet.start("greeter", { ROLE: "greeter" }, { slots: 1 });
    recycling = await fleet.start("greeter-recycling", { ROLE: "greeter" }, { slots: 2, recycleAfter: 25 }); // RECYCLE_AFTER
    // What its slots report before any request (each asked its guest for the probe answers).
    recyclingFresh = Math.max(...(await statsOf(recycling)).slots.map((slot) => slot.served));
    splitter = await fleet.start("splitter", { ROLE: "splitter", GREETER_URL: greeters.json!.url, GREETER_TIMEOUT_MS: String(TIMEOUT_MS) });
  });

  afterAll(async () => {
    await Promise.all([fleet.stopAll(), ...Object.values(greeters).map((g) => g.close())]);
  });

  it(`${SPLITTER_SLOTS} concurrent splits behind a stalled greeter all answer 504 within GREETER_TIMEOUT_MS + the margin of a busy machine`, async () => {
    const started = performance.now();
    const answers = await Promise.all(
      Array.from({ length: SPLITTER_SLOTS }, async (_, i) => {
        const res = await fetch(`${stalledSplitter.url}/split/Sam${i}`, { signal: AbortSignal.timeout(10_000) });
        return { status: res.status, ms: performance.now() - started, text: await res.text() };
      }),
    );
    for (const answer of answers) {
      expect(answer.status, answer.text).toBe(504);
      expect(answer.ms).toBeLessThan(TIMEOUT_MS + BUSY_MACHINE_MARGIN_MS);
    }
  });

  it("a stalled downstream call is closed once the guest has answered, not left open", async () => {
    const before = greeters.stall!.requests.length;
    const answers = await Promise.all([1, 2, 3].map(() => fetch(`${stalledSplitter.url}/split/Sam,Po`).then((res) => res.status)));
    expect(answers).toEqual([504, 504, 504]);
    expect(greeters.stall!.requests.length - before).toBe(6);
    const closed = await pollUntil(() => greeters.stall!.openConnections() === 0, 5_000);
    expect(closed, `${greeters.stall!.openConnections()} connections to the stalled greeter still open`).toBe(true);
    expect(sum(await statsOf(stalledSplitter), "openRequests")).toBe(0);
  });

  it("an endless answer is cut at 64 KiB and its connection closed; memory does not follow it", async () => {
    const endless = await fleet.start("splitter-endless", { ROLE: "splitter", GREETER_URL: greeters.endless!.url });
    for (let i = 0; i < 20; i++) {
      const res = await fetch(`${endless.url}/split/Sam,Po`);
      expect(res.status).toBe(502);
      await res.arrayBuffer();
    }
    expect(await pollUntil(() => greeters.endless!.openConnections() === 0, 5_000)).toBe(true);
    expect(sum(await statsOf(endless), "openRequests")).toBe(0);
  });

  it("request bodies the guest never reads are released: the shim's tables stay flat over 300 requests", async () => {
    const before = await statsOf(greeter);
    for (let i = 0; i < 300; i++) {
      const res = await fetch(`${greeter.url}/Po`, { method: i % 3 === 0 ? "POST" : "GET", body: i % 3 === 0 ? "x".repeat(100) : undefined });
      await res.arrayBuffer();
    }
    const after = await statsOf(greeter);
    expect(after.slots[0]!.served - before.slots[0]!.served).toBeGreaterThanOrEqual(300);
    // One entry per request would be +300; what is left is the instance's own few.
    expect(sum(after, "streams") - sum(before, "streams")).toBeLessThan(20);
    expect(sum(after, "polls")).toBeLessThan(20);
  });

  it("splits keep working through many requests (downstream calls complete, nothing is abandoned)", async () => {
    for (let i = 0; i < 40; i++) {
      const res = await fetch(`${splitter.url}/split/Sherlock,Po`);
      expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
    }
    // Every call ended: none tracked, and no connection left open to the greeter.
    expect(sum(await statsOf(splitter), "openRequests")).toBe(0);
    expect(await pollUntil(() => greeters.json!.openConnections() === 0, 5_000)).toBe(true);
  });

  // README: "A slot is replaced by a fresh one after N requests ...; the new slot boots on its own
  // thread first, so no request waits for it". With N = 25 and 300 requests, 300 / 25 = 12.
  const RECYCLE_AFTER = 25;
  const REQUESTS = 300;
  /** Until every slot that served its share has been replaced. `fresh`: what a new slot reports before any request (its probe answers). */
  const settled = async (pod: TestPod, fresh: number) =>
    pollUntil(async () => {
      const stats = await statsOf(pod);
      return stats.slots.length === 2 && stats.slots.every((slot) => slot.served - fresh < RECYCLE_AFTER);
    }, 10_000, 50);

  it(`slots are replaced after --recycle-after requests without failing a request: under load, at most ${REQUESTS} / ${RECYCLE_AFTER} = 12 replacements`, async () => {
    const before = (await statsOf(recycling)).replaced;
    const failures: string[] = [];
    const client = async () => {
      for (let i = 0; i < REQUESTS / 3; i++) {
        const res = await fetch(`${recycling.url}/Sam`);
        const text = await res.text();
        if (res.status !== 200 || text !== "Hello Sam!") failures.push(`${res.status} ${text}`);
      }
    };
    await Promise.all([client(), client(), client()]);
    expect(failures).toEqual([]);
    // Every slot that has served its share is replaced once its successor is up.
    expect(await settled(recycling, recyclingFresh)).toBe(true);
    const replaced = (await statsOf(recycling)).replaced - before;
    // Never before 25 requests: at most 12. A slot keeps serving while its successor boots (about
    // 25 more requests each at 3 connections here: 5 replacements measured), so the count under load
    // depends on the machine's speed; both first slots served far more than 25, so at least 2.
    expect(replaced).toBeLessThanOrEqual(REQUESTS / RECYCLE_AFTER);
    expect(replaced).toBeGreaterThanOrEqual(2);
  }, 90_000);

  it(`slots are replaced after exactly --recycle-after requests: ${REQUESTS} requests, each given the time to boot a replacement, leave every retired slot with exactly ${RECYCLE_AFTER}`, async () => {
    const paced = await fleet.start("greeter-paced", { ROLE: "greeter" }, { slots: 2, recycleAfter: RECYCLE_AFTER });
    // A slot asks its guest for the probe answers when it starts: those count in its own tally.
    const fresh = Math.max(...(await statsOf(paced)).slots.map((slot) => slot.served));
    for (let i = 0; i < REQUESTS; i++) {
      const res = await fetch(`${paced.url}/Sam`);
      expect([res.status, await res.text()]).toEqual([200, "Hello Sam!"]);
      // No request overlaps a boot, so no slot serves past its share.
      expect(await settled(paced, fresh), `request ${i + 1}: a slot still holds ${RECYCLE_AFTER} or more requests`).toBe(true);
    }
    const stats = await statsOf(paced);
    const inService = stats.slots.reduce((total, slot) => total + slot.served - fresh, 0);
    // Every retired slot served exactly 25: 300 = 25 x replaced + what the two slots now in service
    // served (each under 25). So 12 replacements, or 11 when the two share 25 between them.
    expect(RECYCLE_AFTER * stats.replaced + inService).toBe(REQUESTS);
    expect(stats.replaced).toBeGreaterThanOrEqual(REQUESTS / RECYCLE_AFTER - 1);
  }, 120_000); // 300 requests and 12 boots, one at a time: about 5 s idle, 30 s and more on a machine loaded far past its cores

  it("the kubelet's probes never wait behind traffic: answered at once while every slot is busy", async () => {
    const busy = Array.from({ length: SPLITTER_SLOTS + 2 }, () => fetch(`${stalledSplitter.url}/split/Sam`).then((res) => res.status));
    await new Promise((resolve) => setTimeout(resolve, 100));
    const started = performance.now();
    const probe = await fetch(`${stalledSplitter.url}/readyz`, { headers: { "user-agent": "kube-probe/1.32" } });
    const probeMs = performance.now() - started;
    expect([probe.status, await probe.text()]).toEqual([200, "ok"]);
    // Every slot is busy for GREETER_TIMEOUT_MS, and two more splits wait for a slot: a probe in that queue would wait too.
    expect(probeMs).toBeLessThan(TIMEOUT_MS);
    // The two that waited a whole deadline for a slot may be refused (503) rather than answered late.
    const statuses = await Promise.all(busy);
    expect(statuses.filter((status) => status === 504).length).toBeGreaterThanOrEqual(SPLITTER_SLOTS);
    expect(statuses.every((status) => status === 504 || status === 503)).toBe(true);
  });

  it("the probe answer is the component's own: a misconfigured pod fails its probes", async () => {
    const bogus = await fleet.start("bogus", { ROLE: "bogus" });
    const probe = await fetch(`${bogus.url}/healthz`, { headers: { "user-agent": "kube-probe/1.32" } });
    expect([probe.status, await probe.text()]).toEqual([500, 'ROLE must be "greeter" or "splitter", got "bogus"']);
  });

  it("a slot still in guest code past its deadline is replaced; its client gets a 504 and the pod serves on", async () => {
    const slow = await fleet.start(
      "splitter-slow",
      { ROLE: "splitter", GREETER_URL: greeters.stall!.url, GREETER_TIMEOUT_MS: "5000" },
      { slots: 1, slotDeadlineMs: 500 },
    );
    const res = await fetch(`${slow.url}/split/Sam`);
    expect(res.status).toBe(504);
    expect(await res.text()).toMatch(/^pod splitter-slow \(slot \d+\) sent no answer within 500 ms/);
    // The stuck slot goes a moment after its client's 504; a fresh one takes its place.
    expect(await pollUntil(async () => (await statsOf(slow)).died === 1, 10_000, 100)).toBe(true);
    expect(await pollUntil(async () => (await statsOf(slow)).slots.length === 1, 10_000, 100)).toBe(true);
    expect((await fetch(`${slow.url}/healthz`)).status).toBe(200);
  });

  it("a client that leaves does not free its slot while the guest still runs", async () => {
    const single = await fleet.start(
      "splitter-single",
      { ROLE: "splitter", GREETER_URL: greeters.stall!.url, GREETER_TIMEOUT_MS: String(TIMEOUT_MS) },
      { slots: 1 },
    );
    const servedBefore = (await statsOf(single)).slots[0]!.served;
    // The client gives up long before the guest's deadline.
    await expect(fetch(`${single.url}/split/Sam`, { signal: AbortSignal.timeout(100) })).rejects.toThrow();
    const started = performance.now();
    const next = await fetch(`${single.url}/healthz`);
    // It waited for the one slot, busy until the guest's deadline: it was not handed to a guest still at work.
    // It either got the slot when the guest was done, or was refused at its own wait limit (503).
    expect(performance.now() - started).toBeGreaterThan(TIMEOUT_MS / 2);
    expect([200, 503]).toContain(next.status);
    const served = (await statsOf(single)).slots[0]!.served - servedBefore;
    expect(served).toBe(next.status === 200 ? 2 : 1);
  });
});
