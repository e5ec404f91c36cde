// `npm start` options: flags win over environment variables, which win over
// the defaults (the NodePorts of the k3s manifests). Pure: argv and env come in.

export type Runtime = "jco" | "wasmtime";

export interface StartOptions {
  /** The splitter's NodePort; 0 = any free port. */
  splitterPort: number;
  /** The optional greeter NodePort; undefined = not exposed. */
  greeterPort: number | undefined;
  /** Address the NodePorts bind to (the "node IP"). Pods and the ClusterIP stay on loopback. */
  host: string;
  runtime: Runtime;
  /** A fresh component instance per request, as the k3s shim does. */
  isolate: boolean;
  /** No per-request log lines (for load tests). */
  quiet: boolean;
  help: boolean;
}

export type ParsedArgs = { ok: true; options: StartOptions } | { ok: false; error: string };

export const DEFAULT_SPLITTER_PORT = 30001;
export const DEFAULT_GREETER_PORT = 30002;
export const DEFAULT_HOST = "127.0.0.1";

export const USAGE = `Usage: npm start -- [options]

Runs the k3s topology locally: 2 greeter pods behind a ClusterIP, 1 splitter pod,
NodePorts for the splitter and the greeters.

  --splitter-port PORT   splitter NodePort (env SPLITTER_PORT, default ${DEFAULT_SPLITTER_PORT}; 0 = any free port)
  --greeter-port PORT    greeter NodePort (env GREETER_PORT, default ${DEFAULT_GREETER_PORT}; "off" = none)
  --host ADDRESS         address the NodePorts bind to (env NODE_HOST, default ${DEFAULT_HOST})
  --runtime jco|wasmtime pod engine (env RUNTIME, default jco; wasmtime needs \`wasmtime\` on the PATH)
  --isolate              a fresh component instance per request, as in the cluster (jco runtime)
  --quiet                no per-request log lines
  --help                 this text`;

type Env = Readonly<Record<string, string | undefined>>;

const VALUE_FLAGS = new Set(["--splitter-port", "--greeter-port", "--host", "--runtime"]);
const BOOLEAN_FLAGS = new Set(["--isolate", "--quiet", "--help", "-h"]);

export function parseStartArgs(argv: readonly string[], env: Env = {}): ParsedArgs {
  const flags = new Map<string, string>();
  const switches = new Set<string>();
  // One pass over argv: every element is consumed at most twice (flag + value).
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const eq = arg.indexOf("=");
    const [flag, inlineValue] = arg.startsWith("--") && eq > 0 ? [arg.slice(0, eq), arg.slice(eq + 1)] : [arg, undefined];
    if (BOOLEAN_FLAGS.has(flag) && inlineValue === undefined) {
      switches.add(flag === "-h" ? "--help" : flag);
    } else if (VALUE_FLAGS.has(flag)) {
      const value = inlineValue ?? argv[++i];
      if (value === undefined || (inlineValue === undefined && value.startsWith("--"))) {
        return { ok: false, error: `${flag} needs a value` };
      }
      flags.set(flag, value);
    } else {
      return { ok: false, error: `unknown option "${arg}" (see --help)` };
    }
  }

  const splitterPort = parsePort(flags.get("--splitter-port") ?? env.SPLITTER_PORT, DEFAULT_SPLITTER_PORT, "splitter port");
  if (typeof splitterPort === "string") return { ok: false, error: splitterPort };
  const greeterRaw = flags.get("--greeter-port") ?? env.GREETER_PORT;
  const greeterPort = greeterRaw?.trim().toLowerCase() === "off" ? undefined : parsePort(greeterRaw, DEFAULT_GREETER_PORT, "greeter port");
  if (typeof greeterPort === "string") return { ok: false, error: greeterPort };

  const host = (flags.get("--host") ?? env.NODE_HOST ?? DEFAULT_HOST).trim();
  if (!isHostAddress(host)) return { ok: false, error: `--host must be an IP address or "localhost", got "${host}"` };

  const runtime = (flags.get("--runtime") ?? env.RUNTIME ?? "jco").trim();
  if (runtime !== "jco" && runtime !== "wasmtime") {
    return { ok: false, error: `--runtime must be "jco" or "wasmtime", got "${runtime}"` };
  }

  return {
    ok: true,
    options: {
      splitterPort,
      greeterPort,
      host: host.replace(/^\[|\]$/g, ""),
      runtime,
      isolate: switches.has("--isolate"),
      quiet: switches.has("--quiet"),
      help: switches.has("--help"),
    },
  };
}

/** A port number, or an error message naming `what`. */
function parsePort(raw: string | undefined, fallback: number, what: string): number | string {
  if (raw === undefined || raw.trim() === "") return fallback;
  const text = raw.trim();
  const port = /^\d{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 0 && port <= 65535)) return `${what} must be a whole number from 0 to 65535, got "${raw}"`;
  return port;
}

function isHostAddress(host: string): boolean {
  return host === "localhost" || /^\d{1,3}(\.\d{1,3}){3}$/.test(host) || /^\[?[0-9a-fA-F:]+\]?$/.test(host);
}
