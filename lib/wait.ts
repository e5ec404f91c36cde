// Waiting for something, bounded: the one readiness poll of the tests and the benchmark.

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` every `everyMs` until it returns true; false if `timeoutMs` passes first. */
export async function pollUntil(check: () => boolean | Promise<boolean>, timeoutMs: number, everyMs = 20): Promise<boolean> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    if (await check()) return true;
    await sleep(everyMs);
  }
  return check();
}

/**
 * Polls GET `url` until it answers 200; resolves with the ms since `since`.
 * Throws after `timeoutMs`, or at once when `gaveUp()` returns a reason.
 */
export async function waitFor200(
  url: string,
  { since = performance.now(), timeoutMs = 10_000, gaveUp = () => undefined as string | undefined } = {},
): Promise<number> {
  while (performance.now() - since < timeoutMs) {
    const reason = gaveUp();
    if (reason) throw new Error(reason);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1_000) });
      await response.arrayBuffer();
      if (response.status === 200) return performance.now() - since;
    } catch {
      // not listening yet
    }
    await sleep(5);
  }
  throw new Error(`${url} did not answer 200 within ${timeoutMs} ms`);
}
