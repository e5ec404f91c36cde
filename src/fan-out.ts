// Starting a split's calls under one deadline, or refusing the split. The deadline
// (GREETER_TIMEOUT_MS) runs from the split's start for every call, so a call started
// late gets what is left of it and the answer is never late because starting was
// slow. And starting can be slow: on a host starved of CPU (under jco each start is a
// blocking call into the host's I/O worker) a split may not even get its calls going
// before its deadline. Such a split is refused (503, Retry-After) and the calls it
// started are ended: the client learns the splitter is overloaded, not that the
// greeters were slow.
import { askGreeter, type GreeterCall, type Outcome } from "./greeter-client";

export type FanOut = { ok: true; outcomes: Promise<Outcome[]> } | { ok: false; error: string };

export function startCalls(names: readonly string[], call: Omit<GreeterCall, "signal">): FanOut {
  const started = Date.now();
  const split = new AbortController();
  const deadline = setTimeout(() => split.abort(), call.timeoutMs);
  const outcomes: Promise<Outcome>[] = [];
  for (const name of names) {
    if (Date.now() - started >= call.timeoutMs) {
      clearTimeout(deadline);
      split.abort();
      return {
        ok: false,
        error: `the splitter is overloaded: it started ${outcomes.length} of ${names.length} greeter calls before its deadline (GREETER_TIMEOUT_MS, ${call.timeoutMs} ms) passed; retry later`,
      };
    }
    outcomes.push(askGreeter(name, { ...call, signal: split.signal }));
  }
  return { ok: true, outcomes: Promise.all(outcomes).finally(() => clearTimeout(deadline)) };
}
