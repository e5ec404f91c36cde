// `npm start`: the k3s topology on this machine (host/cluster.ts), with a banner
// and a request log, until Ctrl-C. One process (node with tsx's loader, no
// wrapper), so a signal or the death of npm above it reaches it directly.
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { findTool } from "../lib/tools";
import { type Cluster, DEFAULT_GREETER_PORT, DEFAULT_HOST, DEFAULT_SPLITTER_PORT, DEPLOYMENTS, startCluster } from "./cluster";
import { formatBanner, formatLogEntry, seconds } from "./format";
import { ROOT } from "../lib/build";
import { watchAndRoll } from "./dev";
import { killAllGroupsNow, watchParent } from "../lib/processes";
import { type RuntimeName, runtimeNamed } from "./runtimes";
import { errorText } from "../lib/errors";

export interface StartOptions {
  splitterPort: number;
  /** null: no greeter NodePort. */
  greeterPort: number | null;
  host: string;
  runtime: RuntimeName;
  quiet: boolean;
  /** npm run dev: rebuild and roll the pods on every change to src/ or wit/. */
  watch: boolean;
  help: boolean;
}

export const USAGE = `Usage: npm start -- [options]

Runs the k3s topology locally: 2 greeter pods behind a ClusterIP, 1 splitter pod,
NodePorts for the splitter and the greeters.

  --splitter-port PORT   splitter NodePort (env SPLITTER_PORT, default ${DEFAULT_SPLITTER_PORT}; 0 = any free port)
  --greeter-port PORT    greeter NodePort (env GREETER_PORT, default ${DEFAULT_GREETER_PORT}; "off" = none)
  --host ADDRESS         address the NodePorts bind to (env NODE_HOST, default ${DEFAULT_HOST})
  --runtime jco|wasmtime pod engine (env RUNTIME, default jco; wasmtime is the k3s shim's engine,
                         see scripts/install-tools.sh)
  --quiet                no per-request log lines
  --watch                rebuild on every change to src/ or wit/ and roll the pods to it (npm run dev)
  --help                 this text`;

type Env = Readonly<Record<string, string | undefined>>;

/** Flags win over env vars, which win over the manifests' defaults. Pure: argv and env come in. */
export function parseStartOptions(argv: readonly string[], env: Env = {}): { ok: true; options: StartOptions } | { ok: false; error: string } {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...argv],
      options: {
        "splitter-port": { type: "string" },
        "greeter-port": { type: "string" },
        host: { type: "string" },
        runtime: { type: "string" },
        quiet: { type: "boolean", default: false },
        watch: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (error) {
    return { ok: false, error: `${errorText(error)} (see --help)` };
  }
  const text = (flag: string, envName: string) => (values[flag] as string | undefined) ?? env[envName];

  const splitter = parsePort(text("splitter-port", "SPLITTER_PORT"), DEFAULT_SPLITTER_PORT, "splitter port");
  if (!splitter.ok) return splitter;
  const splitterPort = splitter.port;
  const greeterRaw = text("greeter-port", "GREETER_PORT");
  let greeterPort: number | null = null;
  if (greeterRaw?.trim().toLowerCase() !== "off") {
    const greeter = parsePort(greeterRaw, DEFAULT_GREETER_PORT, "greeter port");
    if (!greeter.ok) return greeter;
    greeterPort = greeter.port;
  }
  const host = (text("host", "NODE_HOST") ?? DEFAULT_HOST).trim().replace(/^\[|\]$/g, "");
  if (!/^(localhost|\d{1,3}(\.\d{1,3}){3}|[0-9a-fA-F:]+)$/.test(host)) {
    return { ok: false, error: `--host must be an IP address or "localhost", got "${host}"` };
  }
  const runtime = (text("runtime", "RUNTIME") ?? "jco").trim();
  if (runtime !== "jco" && runtime !== "wasmtime") return { ok: false, error: `--runtime must be "jco" or "wasmtime", got "${runtime}"` };
  return {
    ok: true,
    options: { splitterPort, greeterPort, host, runtime, quiet: values.quiet === true, watch: values.watch === true, help: values.help === true },
  };
}

/** A port number, or an error naming `what`. */
function parsePort(raw: string | undefined, fallback: number, what: string): { ok: true; port: number } | { ok: false; error: string } {
  if (raw === undefined || raw.trim() === "") return { ok: true, port: fallback };
  const port = /^\d{1,5}$/.test(raw.trim()) ? Number(raw.trim()) : NaN;
  return port >= 0 && port <= 65535 ? { ok: true, port } : { ok: false, error: `${what} must be a whole number from 0 to 65535, got "${raw}"` };
}

function fail(message: string, code: number): never {
  console.error(`npm start: ${message}`);
  process.exit(code);
}

async function main(): Promise<void> {
  const parsed = parseStartOptions(process.argv.slice(2), process.env);
  if (!parsed.ok) fail(parsed.error, 2);
  const { options } = parsed;
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const named = runtimeNamed(options.runtime);
  if (!named.ok) fail(named.error, 1);
  const { runtime } = named;

  // Whatever happens, no pod outlives this process.
  process.on("exit", killAllGroupsNow);
  let cluster: Cluster | undefined;
  let stopping = false;
  const shutdown = (reason: string) => {
    if (stopping) {
      process.exit(130); // a second Ctrl-C: no more waiting (the exit hook kills the pods)
    }
    stopping = true;
    console.log(`\n${reason}: stopping every pod`);
    if (!cluster) process.exit(130);
    const started = Date.now();
    void cluster.stop().then(() => {
      console.log(`stopped in ${Date.now() - started} ms`);
      process.exit(0);
    });
  };
  process.on("SIGINT", () => shutdown("SIGINT"));
  process.on("SIGTERM", () => shutdown("SIGTERM"));
  process.on("SIGHUP", () => shutdown("SIGHUP"));
  // npm (or whatever started us) is gone, even by SIGKILL: nobody will send us a signal now.
  watchParent(() => shutdown("parent process gone"));

  try {
    cluster = await startCluster({
      runtime,
      build: true,
      splitterPort: options.splitterPort,
      greeterPort: options.greeterPort,
      host: options.host,
      log: (entry) => {
        if (options.quiet && entry.kind === "request") return;
        console.log(formatLogEntry(entry));
      },
    });
  } catch (error) {
    fail(errorText(error), 1);
  }
  if (stopping) return;
  const onWasmtime = runtime.name === "wasmtime";
  const wasmtime = onWasmtime ? undefined : findTool("wasmtime");
  console.log(
    formatBanner({
      runtime: runtime.version,
      instances: onWasmtime
        ? "a fresh instance per request, as the k3s shim"
        : `instances reused per slot, replaced every ${DEPLOYMENTS.map((d) => `${d.recycleAfter} requests (${d.role})`).join(" / ")}`,
      readyMs: cluster.readyMs,
      build: cluster.buildMs === undefined ? "build up to date" : `built in ${seconds(cluster.buildMs)}`,
      pods: cluster.pods.map((pod) => ({ name: pod.name, url: pod.url, env: pod.env })),
      services: cluster.services,
      splitterUrl: cluster.splitterUrl,
      greeterUrl: cluster.greeterUrl,
      hint: onWasmtime
        ? findTool("setpriv")
          ? undefined
          : "Without setpriv (util-linux) the wasmtime pods cannot learn that npm start died: stop it with Ctrl-C, not kill -9."
        : wasmtime
          ? `On the k3s shim's engine: npm start -- --runtime wasmtime (found ${wasmtime})`
          : undefined,
    }),
  );
  if (options.watch) watchAndRoll(cluster, { root: ROOT, log: (entry) => console.log(formatLogEntry(entry)) });
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => fail(error instanceof Error ? (error.stack ?? error.message) : String(error), 1));
}
