// scripts/pod.ts --concurrency N: the main thread proxies each request to one of
// N worker threads, each serving its own instance, so a splitter waiting on a
// stalled greeter no longer holds every other request back.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningPod, stopPod, waitHealthy } from "../scripts/lib/pods";
import { ensureTranspiled } from "../scripts/lib/transpile";
import { podFleet } from "./support/pod-fleet";
import { startStubGreeter, type StubGreeter } from "./support/stub-greeter";

const TIMEOUT_MS = 500;
/** Slack over GREETER_TIMEOUT_MS for a 504: proxying, scheduling, a loaded test machine. */
const SLACK_MS = 250;
const CONCURRENCY = 4;

describe("pod --concurrency", () => {
  const { pods, start: startPod, stopAll } = podFleet();
  let stalling: StubGreeter;
  let greeter: RunningPod;
  let splitter: RunningPod;
  let stalledSplitter: RunningPod;
  let singleSplitter: RunningPod;

  const start = (name: string, env: Record<string, string>, concurrency?: number) => startPod(name, env, { concurrency });

  beforeAll(async () => {
    ensureTranspiled();
    stalling = await startStubGreeter("stall");
    greeter = await start("greeter-1", { ROLE: "greeter" });
    splitter = await start("splitter-c4", { ROLE: "splitter", GREETER_URL: greeter.url, GREETER_TIMEOUT_MS: "2000" }, CONCURRENCY);
    stalledSplitter = await start(
      "splitter-stalled-c4",
      { ROLE: "splitter", GREETER_URL: stalling.url, GREETER_TIMEOUT_MS: String(TIMEOUT_MS) },
      CONCURRENCY,
    );
    singleSplitter = await start("splitter-c1", { ROLE: "splitter", GREETER_URL: greeter.url, GREETER_TIMEOUT_MS: "2000" }, 1);
    await Promise.all(pods.map((pod) => waitHealthy(pod, 20_000)));
  }, 30_000);

  afterAll(async () => {
    await stopAll();
    await stalling?.close();
  });

  /** CONCURRENCY requests to the stalled splitter at once: each one's status and ms since the first was sent. */
  function splitAllAtOnce() {
    const started = performance.now();
    return Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, i) => {
        const res = await fetch(`${stalledSplitter.url}/split/Sherlock,Po${i}`);
        await res.text();
        return { status: res.status, ms: performance.now() - started };
      }),
    );
  }

  it(`${CONCURRENCY} concurrent requests behind a stalled greeter all time out together, not one after another`, async () => {
    // A worker's first request pays for warming its instance up (~200 ms, measured);
    // the stall holds each worker, so this round warms every one of them.
    const cold = await splitAllAtOnce();
    const warm = await splitAllAtOnce();
    const spread = (round: { ms: number }[]) => round.map((t) => Math.round(t.ms)).join("/");
    console.log(`pod-concurrency: ${CONCURRENCY} stalled splits, 504 after ${spread(cold)} ms cold, ${spread(warm)} ms warm`);
    expect(cold.map((t) => t.status)).toEqual(Array(CONCURRENCY).fill(504));
    // Cold, not yet the bound above; but queued one after another the 3rd and 4th would take >= 1500 and 2000 ms.
    for (const { ms } of cold) expect(ms).toBeLessThan(2 * TIMEOUT_MS + SLACK_MS);
    expect(warm.map((t) => t.status)).toEqual(Array(CONCURRENCY).fill(504));
    for (const { ms } of warm) expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it("clients that give up, in a worker or still queued, leave no worker held", async () => {
    const aborted = await Promise.allSettled(
      Array.from({ length: CONCURRENCY * 2 }, (_, i) =>
        fetch(`${stalledSplitter.url}/split/Gone${i}`, { signal: AbortSignal.timeout(100) }),
      ),
    );
    expect(aborted.every((result) => result.status === "rejected")).toBe(true);
    // The guest calls already under way still run to their timeout; after that every worker is free.
    await new Promise((resolve) => setTimeout(resolve, TIMEOUT_MS + 100));
    const after = await splitAllAtOnce();
    expect(after.map((t) => t.status)).toEqual(Array(CONCURRENCY).fill(504));
    for (const { ms } of after) expect(ms).toBeLessThan(TIMEOUT_MS + SLACK_MS);
  });

  it("splitter -> greeter: the seed example, with the guest seeing the pod's env in worker mode", async () => {
    for (let i = 0; i < 5; i++) {
      const res = await fetch(`${splitter.url}/split/Sherlock,Po`);
      expect(res.status).toBe(200);
      expect(res.headers.get("x-served-by")).toBe("splitter-c4");
      expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
    }
    const json = await fetch(`${splitter.url}/split/Sherlock,Po`, {
      headers: { accept: "application/json", "x-request-id": "trace-c4" },
    });
    expect(json.headers.get("x-request-id")).toBe("trace-c4");
    const body = (await json.json()) as { parts: { servedBy: string }[]; servedBy: string };
    expect(body.servedBy).toBe("splitter-c4");
    expect(body.parts.map((p) => p.servedBy)).toEqual(["greeter-1", "greeter-1"]);
  });

  it("more concurrent requests than workers queue and all succeed", async () => {
    const statuses = await Promise.all(
      Array.from({ length: CONCURRENCY * 3 }, async () => {
        const res = await fetch(`${splitter.url}/split/Sherlock,Po`);
        expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
        return res.status;
      }),
    );
    expect(statuses).toEqual(Array(CONCURRENCY * 3).fill(200));
  });

  it("POST -> 405 with Allow, and HEAD answers without a body, through the proxy", async () => {
    const post = await fetch(`${splitter.url}/split/Sherlock`, { method: "POST", body: "x" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toBe("GET, HEAD");
    await post.text();
    const head = await fetch(`${splitter.url}/split/Sherlock,Po`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect(await (await fetch(`${splitter.url}/split/Sam`)).text()).toBe("Hello Sam!");
  });

  it("concurrency 1 behaves as before", async () => {
    const res = await fetch(`${singleSplitter.url}/split/Sherlock,Po`);
    expect(res.status).toBe(200);
    expect(res.headers.get("x-served-by")).toBe("splitter-c1");
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
  });

  it("SIGTERM stops a concurrency pod promptly and cleanly", async () => {
    const pod = await start("splitter-stop-c4", { ROLE: "splitter", GREETER_URL: greeter.url }, CONCURRENCY);
    await waitHealthy(pod, 20_000);
    const started = performance.now();
    await stopPod(pod);
    expect(await pod.exited).toBe(0);
    expect(performance.now() - started).toBeLessThan(1000);
  });
});
