// Whether an external tool the k8s/image/engine tests drive is available, and what to do
// when it is not: skip visibly on a developer machine, fail in CI (CI=true) where
// .ci/run installs it, so a broken CI setup cannot pass by skipping.
import { spawnSync } from "node:child_process";

export interface ToolCheck {
  readonly available: boolean;
  /** Why the tests are skipped, for titles and warnings; "" when available. */
  readonly reason: string;
}

export function commandOnPath(command: string): boolean {
  return spawnSync("sh", ["-c", 'command -v "$1" >/dev/null 2>&1', "sh", command]).status === 0;
}

export function checkTools(commands: readonly string[], hint: string): ToolCheck {
  const missing = commands.filter((command) => !commandOnPath(command));
  if (missing.length === 0) return { available: true, reason: "" };
  return { available: false, reason: `${missing.join(", ")} not on PATH (${hint})` };
}

export const IN_CI = process.env.CI === "true";

/** Title for the suite: names the reason when it is skipped, so the skip shows in the report. */
export function suiteTitle(title: string, check: ToolCheck): string {
  return check.available ? title : `${title} [SKIPPED: ${check.reason}]`;
}

/** Warns about a skip (or explains a CI failure); returns whether the suite must fail instead. */
export function reportMissing(suite: string, check: ToolCheck, { failInCi }: { failInCi: boolean }): boolean {
  if (check.available) return false;
  const mustFail = failInCi && IN_CI;
  console.warn(`${suite}: ${mustFail ? "FAILING (CI=true)" : "skipped"}: ${check.reason}`);
  return mustFail;
}
