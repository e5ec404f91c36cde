// Overload on a jco pod: a request that cannot get a slot within the guest's own
// deadline (GREETER_TIMEOUT_MS) is refused by the pod's front with a 503 and
// Retry-After, instead of waiting its turn and answering late (at worst at the
// Service's 10 s deadline, after queueing behind whole splits).
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultQueueWaitMs } from "../host/pod";
import { requireRuntime } from "../host/runtimes";
import { TWIN_ANSWER_HEADER } from "../host/twin-answer";
import { startTestGreeter, type TestGreeter } from "./support/greeters";
import { BUSY_MACHINE_MARGIN_MS } from "./support/tools";
import { podFleet, type TestPod } from "./support/pods";

const jco = requireRuntime("jco");

const TIMEOUT_MS = 800;

describe("a jco pod refuses early what it could only answer late", () => {
  const fleet = podFleet(jco);
  let stalled: TestGreeter;
  let splitter: TestPod;

  beforeAll(async () => {
    stalled = await startTestGreeter("stall");
    // One slot: each split holds it for the guest's whole deadline.
    splitter = await fleet.start("splitter-overload", { ROLE: "splitter", GREETER_URL: stalled.url, GREETER_TIMEOUT_MS: String(TIMEOUT_MS) }, { slots: 1 });
  });
  afterAll(async () => {
    await fleet.stopAll();
    await stalled?.close();
  });

  it("the wait for a slot is bounded by GREETER_TIMEOUT_MS", () => {
    expect(defaultQueueWaitMs("800")).toBe(800);
    expect(defaultQueueWaitMs(undefined)).toBe(2_000);
    expect(defaultQueueWaitMs("not a number")).toBe(2_000);
  });

  it("splits queued behind a busy slot get a 503 with Retry-After from the pod's front, none answers after twice the deadline", async () => {
    const started = performance.now();
    const split = async (name: string) => {
      const res = await fetch(`${splitter.url}/split/${name}`, { signal: AbortSignal.timeout(20_000) });
      return { status: res.status, retryAfter: res.headers.get("retry-after"), madeBy: res.headers.get(TWIN_ANSWER_HEADER), text: await res.text(), ms: performance.now() - started };
    };
    const first = split("Sam");
    await new Promise((resolve) => setTimeout(resolve, 100));
    const queued = await Promise.all(["Po", "Aang", "Zuko"].map(split));
    expect((await first).status).toBe(504);
    // The slot frees at the first split's deadline: one waiter may still get it in time
    // (and answers 504 from the guest); the others have waited a whole deadline and are refused.
    const refused = queued.filter((answer) => answer.status === 503);
    expect(refused.length).toBeGreaterThanOrEqual(2);
    for (const answer of refused) {
      expect(answer.retryAfter).toBe("1");
      expect(answer.madeBy).toBe("pod-front");
      expect(answer.text).toBe(`pod: no slot was free within ${TIMEOUT_MS} ms; try again later\n`);
    }
    for (const answer of queued) {
      expect([503, 504], answer.text).toContain(answer.status);
      // Queued behind one another, the last would have answered at four deadlines.
      expect(answer.ms).toBeLessThan(2 * TIMEOUT_MS + BUSY_MACHINE_MARGIN_MS);
    }
    // Refused requests never reached a guest: at most the first and one waiter called the greeter.
    expect(stalled.requests.length).toBeLessThanOrEqual(2);
  });
});

describe("a jco pod's queue, at its real default", () => {
  /** The README's figure: at most 256 requests wait for a slot; the next ones are refused at once. */
  const MAX_QUEUED = 256;
  /** Long enough for every request below to arrive while the first holds the one slot. */
  const QUEUE_TIMEOUT_MS = 3_000;
  const fleet = podFleet(jco);
  let stalled: TestGreeter;
  let splitter: TestPod;

  beforeAll(async () => {
    stalled = await startTestGreeter("stall");
    // No --max-queued: the pod's own default.
    splitter = await fleet.start("splitter-queue", { ROLE: "splitter", GREETER_URL: stalled.url, GREETER_TIMEOUT_MS: String(QUEUE_TIMEOUT_MS) }, { slots: 1 });
  });
  afterAll(async () => {
    await fleet.stopAll();
    await stalled?.close();
  });

  it(`holds ${MAX_QUEUED} requests waiting for a slot and refuses the next ones at once: 503, Retry-After, from the pod's front`, { timeout: 60_000 }, async () => {
    const split = async (name: string) => {
      const started = performance.now();
      const res = await fetch(`${splitter.url}/split/${name}`, { signal: AbortSignal.timeout(30_000) });
      return { status: res.status, retryAfter: res.headers.get("retry-after"), madeBy: res.headers.get(TWIN_ANSWER_HEADER), text: await res.text(), ms: performance.now() - started };
    };
    const first = split("Sam");
    await new Promise((resolve) => setTimeout(resolve, 300));
    const extra = 3;
    const rest = await Promise.all(Array.from({ length: MAX_QUEUED + extra }, (_, i) => split(`N${i}`)));
    await first;
    const overflow = rest.filter((answer) => answer.text === `pod: every slot is busy and ${MAX_QUEUED} requests already wait for one; try again later\n`);
    expect(overflow).toHaveLength(extra);
    for (const answer of overflow) {
      expect(answer.status).toBe(503);
      expect(answer.retryAfter).toBe("1");
      expect(answer.madeBy).toBe("pod-front");
      // At once, not after waiting for a slot.
      expect(answer.ms).toBeLessThan(QUEUE_TIMEOUT_MS);
    }
    // The queued ones waited and were refused for want of a slot (or one got it and timed out).
    const waited = rest.filter((answer) => !overflow.includes(answer));
    expect(waited).toHaveLength(MAX_QUEUED);
    for (const answer of waited) expect([503, 504], answer.text).toContain(answer.status);
  });
});
