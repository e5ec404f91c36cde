// Bounded HTTP load on loopback, shared by the load test and the benchmark:
// a warm-up, then N equal measured rounds, reported per round and as medians.
import autocannon from "autocannon";

export interface LoadPlan {
  url: string;
  /** Concurrent keep-alive connections. */
  connections: number;
  /** Length of each measured round, in seconds (a round also stops at `maxRequests`). */
  seconds: number;
  rounds: number;
  warmupSeconds: number;
  /** Hard cap per round, so no loop is unbounded even against a very fast server. */
  maxRequests?: number;
  headers?: Record<string, string>;
  /** Hook between rounds (e.g. to sample a process's memory). */
  afterRound?: (round: number) => Promise<void> | void;
}

export interface RoundResult {
  requests: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

export interface LoadResult {
  rounds: RoundResult[];
  median: RoundResult;
}

function onLoopback(url: string) {
  const { hostname } = new URL(url);
  if (!/^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/.test(hostname)) {
    throw new Error(`load is only ever sent to loopback addresses, not ${hostname}`);
  }
}

async function round(plan: LoadPlan, seconds: number): Promise<RoundResult> {
  // Not autocannon's `amount`: it overrides `duration`, so a slow server would run for ages.
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const options = { url: plan.url, connections: plan.connections, duration: seconds, headers: plan.headers, timeout: 10 };
    const instance = autocannon(options, (error, done) => (error ? reject(error) : resolve(done)));
    let responses = 0;
    instance.on("response", () => {
      if (plan.maxRequests && ++responses === plan.maxRequests) instance.stop();
    });
  });
  return {
    requests: result.requests.total,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
  };
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

export async function runLoad(plan: LoadPlan): Promise<LoadResult> {
  onLoopback(plan.url);
  if (plan.warmupSeconds > 0) await round(plan, plan.warmupSeconds);
  const rounds: RoundResult[] = [];
  for (let i = 0; i < plan.rounds; i++) {
    rounds.push(await round(plan, plan.seconds));
    await plan.afterRound?.(i);
  }
  return { rounds, median: summarize(rounds) };
}

/** Medians of the rounds' rates and latencies; totals of their failures. */
export function summarize(rounds: readonly RoundResult[]): RoundResult {
  const pick = (key: keyof RoundResult) => median(rounds.map((r) => r[key]));
  const total = (key: keyof RoundResult) => rounds.reduce((sum, r) => sum + r[key], 0);
  return {
    requests: pick("requests"),
    rps: pick("rps"),
    p50: pick("p50"),
    p99: pick("p99"),
    non2xx: total("non2xx"),
    errors: total("errors"),
    timeouts: total("timeouts"),
  };
}

export interface LatencyResult {
  requests: number;
  p50: number;
  p99: number;
}

/**
 * Sequential requests on one keep-alive connection, timed with sub-millisecond
 * resolution (autocannon's histogram counts whole milliseconds, too coarse for
 * a native server). Bounded by count and by time; any non-2xx fails the sample.
 */
async function sampleLatency(url: string, options: { requests: number; seconds: number }): Promise<LatencyResult> {
  onLoopback(url);
  const samples: number[] = [];
  const deadline = performance.now() + options.seconds * 1000;
  while (samples.length < options.requests && performance.now() < deadline) {
    const started = performance.now();
    const response = await fetch(url, { signal: AbortSignal.timeout(10_000) });
    await response.arrayBuffer();
    if (!response.ok) throw new Error(`${url} answered ${response.status}`);
    samples.push(performance.now() - started);
  }
  const sorted = samples.sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
  return { requests: sorted.length, p50: at(0.5), p99: at(0.99) };
}

/** Warm-up, then `rounds` samples; the median of the rounds' p50 and p99. */
export async function medianLatency(url: string, rounds: number, options: { requests: number; seconds: number }): Promise<LatencyResult> {
  await sampleLatency(url, { requests: Math.ceil(options.requests / 4), seconds: 1 });
  const results: LatencyResult[] = [];
  for (let i = 0; i < rounds; i++) results.push(await sampleLatency(url, options));
  return {
    requests: results.reduce((sum, r) => sum + r.requests, 0),
    p50: median(results.map((r) => r.p50)),
    p99: median(results.map((r) => r.p99)),
  };
}
