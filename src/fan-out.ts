// Starting a split's calls, or refusing the split. Each call has its own deadline
// from the moment it starts, so a split answers by the time its last call started
// plus GREETER_TIMEOUT_MS. On an overloaded host starting the calls is itself slow
// (under jco each start is a blocking call into the host's I/O worker): a split that
// kept going would answer long after its deadline. So the calls must all start
// within a share of the deadline; a split that cannot do that ends the calls it
// started and is refused (503, Retry-After) while the client can still go elsewhere.
import { askGreeter, type GreeterCall, type Outcome } from "./greeter-client";

/** The share of GREETER_TIMEOUT_MS a split may spend starting its calls. */
export const START_BUDGET_SHARE = 0.25;

export type FanOut = { ok: true; outcomes: Promise<Outcome[]> } | { ok: false; error: string };

/** The time a split may spend starting its calls: a share of the deadline, at least 1 ms. */
export function startBudgetMs(timeoutMs: number): number {
  return Math.max(1, Math.floor(timeoutMs * START_BUDGET_SHARE));
}

export function startCalls(names: readonly string[], call: Omit<GreeterCall, "signal">): FanOut {
  const budgetMs = startBudgetMs(call.timeoutMs);
  const split = new AbortController();
  const started = Date.now();
  const outcomes: Promise<Outcome>[] = [];
  for (const name of names) {
    if (Date.now() - started > budgetMs) {
      split.abort();
      return {
        ok: false,
        error: `the splitter is overloaded: it started ${outcomes.length} of ${names.length} greeter calls in ${budgetMs} ms, the share of GREETER_TIMEOUT_MS (${call.timeoutMs} ms) a split may spend starting them; retry later`,
      };
    }
    outcomes.push(askGreeter(name, { ...call, signal: split.signal }));
  }
  return { ok: true, outcomes: Promise.all(outcomes) };
}
