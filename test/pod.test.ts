// host/pod.ts, the jco pod host: its slots serve concurrently (no queueing behind
// a stalled greeter), a slot is replaced without failing a request, and what a
// request leaves open in preview2-shim is released (the I/O worker's resource
// counts stay flat however many requests it serves).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DEPLOYMENTS } from "../host/cluster";
import { parseListen, type PodStats } from "../host/pod";
import { pollUntil } from "../scripts/lib/wait";
import { runtimeNamed } from "../host/runtimes";
import { startTestGreeter, type TestGreeter } from "./support/greeters";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";
import { podFleet, type TestPod } from "./support/pods";

const jco = runtimeNamed("jco");
if (typeof jco === "string") throw new Error(jco);

const TIMEOUT_MS = 1_000;
const SPLITTER_SLOTS = DEPLOYMENTS.find((d) => d.role === "splitter")!.slots;

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
    recycling = await fleet.start("greeter-recycling", { ROLE: "greeter" }, { slots: 2, recycleAfter: 25 });
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
    const answers = await Promise.all([1, 2, 3].map(() => fetch(`${stalledSplitter.url}/split/Sam,Po`).then((res) => res.status)));
    expect(answers).toEqual([504, 504, 504]);
    expect(greeters.stall!.requests.length).toBeGreaterThanOrEqual(6);
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

  it("slots are replaced after --recycle-after requests without failing a request", async () => {
    const failures: string[] = [];
    const client = async () => {
      for (let i = 0; i < 100; i++) {
        const res = await fetch(`${recycling.url}/Sam`);
        const text = await res.text();
        if (res.status !== 200 || text !== "Hello Sam!") failures.push(`${res.status} ${text}`);
      }
    };
    await Promise.all([client(), client(), client()]);
    const stats = await statsOf(recycling);
    expect(failures).toEqual([]);
    // A slot keeps serving while its replacement boots, so fewer than 300 / 25 replacements.
    expect(stats.replaced).toBeGreaterThanOrEqual(2);
    expect(stats.slots).toHaveLength(2);
  });
});
