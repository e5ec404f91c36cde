// Whether the external tools a suite drives are installed, and what to do when one is not:
// skip visibly on a developer machine; under CI=true fail, naming the tool, because .ci/run
// installs every one of them (scripts/install-tools.sh), so a missing tool there is a broken
// setup that must not pass by skipping. Tools are found as lib/tools.ts finds them:
// ~/.cache/wasm-pods-tools/bin first, then the PATH.
import { it } from "vitest";
import { findTool } from "../../lib/tools";

/**
 * Whether a value of CI says "this is CI". CI systems spell it differently (GitHub
 * Actions `true`, others `1` or `yes`, some in capitals); any of them must make a
 * missing tool fail the run, not skip it.
 */
export function ciFlag(value: string | undefined): boolean {
  return /^(?:true|1|yes)$/i.test(value?.trim() ?? "");
}

export const IN_CI = ciFlag(process.env.CI);

export interface ToolCheck {
  readonly available: boolean;
  /** Why the suite is skipped, for titles and warnings; "" when available. */
  readonly reason: string;
  /** Absolute path of each tool found, by command name. */
  readonly paths: Readonly<Record<string, string>>;
}

export function checkTools(commands: readonly string[], hint: string): ToolCheck {
  const paths: Record<string, string> = {};
  const missing: string[] = [];
  for (const command of commands) {
    const path = findTool(command);
    if (path) paths[command] = path;
    else missing.push(command);
  }
  if (missing.length === 0) return { available: true, reason: "", paths };
  return { available: false, reason: `${missing.join(", ")} not found (${hint})`, paths };
}

/** Title for a suite: names the reason when it is skipped, so the skip shows in the report. */
export function suiteTitle(title: string, check: ToolCheck): string {
  return check.available ? title : `${title} [SKIPPED: ${check.reason}]`;
}

/**
 * Call at a test file's top level. When a tool is missing it warns and, under CI=true,
 * registers a failing test that names it. Returns the check, for `describe.skipIf`.
 */
export function requireTools(suite: string, commands: readonly string[], hint: string): ToolCheck {
  const check = checkTools(commands, hint);
  if (!check.available) {
    console.warn(`${suite}: ${IN_CI ? "FAILING (CI=true)" : "skipped"}: ${check.reason}`);
    if (IN_CI) {
      it(`${suite} needs ${commands.join(", ")} (CI=true)`, () => {
        throw new Error(`CI=true but ${check.reason}`);
      });
    }
  }
  return check;
}

/** The path of a tool `requireTools` found; throws when called for a missing one. */
export function toolPath(check: ToolCheck, command: string): string {
  const path = check.paths[command];
  if (!path) throw new Error(`${command} was not found: ${check.reason}`);
  return path;
}

/**
 * The margin a time bound in a test allows over what it bounds: enough for a 2-core
 * machine running the suite with a core busy elsewhere, far below what a hang or a
 * queue (a second timeout) would take. The tight targets live in `npm run bench`.
 */
export const BUSY_MACHINE_MARGIN_MS = 1_000;
