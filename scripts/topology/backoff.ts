// Restart backoff for crashed pods, like the kubelet's for `restartPolicy:
// Always`, scaled down for a laptop: short enough that a killed pod is back in
// about a second, capped so a crash loop does not spin the CPU.

export interface BackoffPolicy {
  /** Delay before the first restart. */
  initialMs: number;
  /** The delay doubles per consecutive crash up to this cap. */
  maxMs: number;
  /** A pod that stayed healthy this long before it died starts again from `initialMs`. */
  resetAfterMs: number;
}

export const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 5_000, resetAfterMs: 10_000 };

/** Delay before restarting a pod that has now crashed `crashesInARow` times in a row (1 = the first). */
export function restartDelayMs(crashesInARow: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  // Bound the exponent: 2 ** 1000 is Infinity, and the cap is reached long before.
  const exponent = Math.min(Math.max(0, Math.floor(crashesInARow) - 1), 30);
  return Math.min(policy.initialMs * 2 ** exponent, policy.maxMs);
}

/**
 * Crashes in a row, counting the one at `diedAtMs`: back to 1 when the pod had
 * been healthy for at least `resetAfterMs` (it was not crash-looping).
 */
export function nextCrashCount(
  previousCrashes: number,
  healthySinceMs: number | undefined,
  diedAtMs: number,
  policy: BackoffPolicy = DEFAULT_BACKOFF,
): number {
  const stayedHealthy = healthySinceMs !== undefined && diedAtMs - healthySinceMs >= policy.resetAfterMs;
  return stayedHealthy ? 1 : previousCrashes + 1;
}
