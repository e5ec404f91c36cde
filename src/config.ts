// Configuration is the environment the host hands each instance, parsed once per
// request into a typed object. Nothing here touches the host: the caller passes
// the variables in, so the rules are pure and testable. A value is quoted back
// in its error through the one echo rule (src/echo.ts): env is input too.
import { quote } from "./echo";
import { INSTANCE_NAME_RULE, isInstanceName } from "./instance-name";
import { type Role, ROLE_NAMES } from "./roles";

export type { Role };

export interface Config {
  role: Role;
  /** Base URL of the greeter service the splitter calls (no trailing slash). */
  greeterUrl: string;
  /** Deadline of a split's downstream calls, from the split's start, retries included. */
  greeterTimeoutMs: number;
  /** Most names one /split request may carry. */
  maxNames: number;
  /** Who answers: POD_NAME, else HOSTNAME. Sent back as X-Served-By. */
  instanceName: string;
}

export type EnvVars = Readonly<Record<string, string | undefined>>;

export type ConfigResult =
  | { ok: true; config: Config }
  | { ok: false; error: string; instanceName: string };

export const DEFAULTS = {
  greeterUrl: "http://name-greeter-pod-service:70",
  greeterTimeoutMs: 2000,
  maxNames: 16,
} as const;

/** Bounds that keep a typo (an extra zero) from turning into an unbounded wait or fan-out. */
const TIMEOUT_RANGE = { min: 1, max: 60_000 };
const MAX_NAMES_RANGE = { min: 1, max: 256 };

/** Who answers: POD_NAME, else HOSTNAME, else "unknown"; a set value that is no name is a config error. */
export function instanceNameFrom(env: EnvVars): { ok: true; name: string } | { ok: false; error: string } {
  for (const variable of ["POD_NAME", "HOSTNAME"] as const) {
    const value = env[variable]?.trim();
    if (!value) continue;
    // It goes into a header of every answer: a control character there would break every answer.
    if (!isInstanceName(value)) return { ok: false, error: `${variable} must be ${INSTANCE_NAME_RULE}, got ${quote(value)}` };
    return { ok: true, name: value };
  }
  return { ok: true, name: "unknown" };
}

export function parseConfig(env: EnvVars): ConfigResult {
  const instance = instanceNameFrom(env);
  if (!instance.ok) return { ok: false, error: instance.error, instanceName: "unknown" };
  const instanceName = instance.name;
  const fail = (error: string): ConfigResult => ({ ok: false, error, instanceName });

  const role = ROLE_NAMES.find((name) => name === env.ROLE);
  if (role === undefined) return fail(`ROLE must be ${oneOf(ROLE_NAMES)}, got ${quote(env.ROLE ?? "")}`);

  const greeterUrl = parseHttpUrl(env.GREETER_URL, DEFAULTS.greeterUrl);
  if (greeterUrl === undefined) {
    return fail(`GREETER_URL must be an http:// or https:// URL, got ${quote(env.GREETER_URL ?? "")}`);
  }
  const greeterTimeoutMs = parseInteger(env.GREETER_TIMEOUT_MS, DEFAULTS.greeterTimeoutMs, TIMEOUT_RANGE);
  if (greeterTimeoutMs === undefined) {
    return fail(
      `GREETER_TIMEOUT_MS must be a whole number of milliseconds from ${TIMEOUT_RANGE.min} to ${TIMEOUT_RANGE.max}, got ${quote(env.GREETER_TIMEOUT_MS ?? "")}`,
    );
  }
  const maxNames = parseInteger(env.MAX_NAMES, DEFAULTS.maxNames, MAX_NAMES_RANGE);
  if (maxNames === undefined) {
    return fail(
      `MAX_NAMES must be a whole number from ${MAX_NAMES_RANGE.min} to ${MAX_NAMES_RANGE.max}, got ${quote(env.MAX_NAMES ?? "")}`,
    );
  }

  return { ok: true, config: { role, greeterUrl, greeterTimeoutMs, maxNames, instanceName } };
}

/** `"a" or "b"`, `"a", "b" or "c"`. */
function oneOf(names: readonly string[]): string {
  const quoted = names.map((name) => `"${name}"`);
  return quoted.length < 2 ? quoted.join("") : `${quoted.slice(0, -1).join(", ")} or ${quoted.at(-1)}`;
}

/** An unset or empty variable takes the default; anything else must be valid. */
function parseInteger(raw: string | undefined, fallback: number, range: { min: number; max: number }) {
  if (raw === undefined || raw.trim() === "") return fallback;
  if (!/^\d+$/.test(raw.trim())) return undefined;
  const value = Number(raw.trim());
  return value >= range.min && value <= range.max ? value : undefined;
}

function parseHttpUrl(raw: string | undefined, fallback: string) {
  if (raw === undefined || raw.trim() === "") return fallback;
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return undefined;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return undefined;
  if (url.search || url.hash || url.username || url.password) return undefined;
  return url.href.replace(/\/+$/, "");
}
