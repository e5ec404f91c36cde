// The whole k3s topology in one process tree, for `npm start`, the tests, the
// fault-injection suite and the load test:
//
//   NodePort :30001 -> splitter pod -> ClusterIP -> greeter pod 1 | greeter pod 2
//   NodePort :30002 -----------------> ClusterIP's pods
//
// Pods are separate OS processes (scripts/pod.ts, or `wasmtime serve`); the
// Services are HTTP proxies in this process.
import { COMPONENT, ensureBuilt } from "../lib/build";
import { spawnPod } from "../lib/pods";
import { ensureTranspiled } from "../lib/transpile";
import type { Runtime } from "./args";
import { DEFAULT_GREETER_PORT, DEFAULT_HOST, DEFAULT_SPLITTER_PORT } from "./args";
import type { BackoffPolicy } from "./backoff";
import type { Endpoint } from "./balancer";
import type { BannerInfo, LogEntry } from "./format";
import { type Listener, listen, StartError } from "./listen";
import { GREETER_SERVICE, planPods, SPLITTER_CONCURRENCY, SPLITTER_SERVICE } from "./plan";
import { createService, type RequestRecord, type Service } from "./service-proxy";
import { type Launcher, PodSupervisor } from "./supervisor";
import { findExecutable, spawnWasmtimePod } from "./wasmtime";

/** Pods and the ClusterIP are internal: loopback only, whatever the NodePorts bind to. */
const INTERNAL_HOST = "127.0.0.1";

export interface TopologyOptions {
  /** Splitter NodePort (default 30001; 0 = any free port). */
  splitterPort?: number;
  /** Greeter NodePort (default 30002; 0 = any free port; null = not exposed). */
  greeterPort?: number | null;
  /** Address the NodePorts bind to (default 127.0.0.1). */
  host?: string;
  runtime?: Runtime;
  /** A fresh component instance per request (jco runtime; wasmtime always does). */
  isolate?: boolean;
  log?: (entry: LogEntry) => void;
  /** Run ./build.sh and jco transpile when dist/ is stale (default true). */
  build?: boolean;
  backoff?: BackoffPolicy;
  /** Per pod start; wasmtime compiles the component on start (~9 s on 2 cores). */
  healthTimeoutMs?: number;
  /** PATH searched for `wasmtime` (default process.env.PATH). */
  path?: string;
  /** Extra env for the splitter pod, over its Deployment's (e.g. a short GREETER_TIMEOUT_MS for fault tests). */
  splitterEnv?: Record<string, string>;
}

export interface PodHandle {
  name: string;
  role: string;
  env: Record<string, string>;
  /** The current process (changes on restart). */
  readonly pid: number | undefined;
  readonly url: string | undefined;
  readonly ready: boolean;
  readonly restarts: number;
  /** Resolves the next time the pod is healthy (at once when it is). */
  whenReady(): Promise<void>;
}

export interface Topology {
  splitterUrl: string;
  greeterUrl: string | undefined;
  clusterIpUrl: string;
  pods: PodHandle[];
  /** Time from spawning the pods to every pod answering /healthz. */
  readyMs: number;
  banner: BannerInfo;
  /**
   * Sends `signal` to a pod's processes (SIGKILL by default; the supervisor restarts it).
   * SIGSTOP/SIGCONT stall and resume it, leaving it in the endpoints. Returns the pid.
   */
  killPod(name: string, signal?: NodeJS.Signals): number | undefined;
  /** Kills a pod and keeps it down (no restart) until releasePod(name). Returns the pid. */
  holdPodDown(name: string): number | undefined;
  /** Lets a held pod start again; await its handle's whenReady() for it to serve. */
  releasePod(name: string): void;
  /** Stops every pod (SIGTERM, SIGKILL after 1 s) and closes every port. */
  stop(): Promise<void>;
}

export async function startTopology(options: TopologyOptions = {}): Promise<Topology> {
  const host = options.host ?? DEFAULT_HOST;
  const runtime = options.runtime ?? "jco";
  const isolate = options.isolate ?? false;
  const log = options.log ?? (() => {});
  const launch = launcherFor(runtime, options.path ?? process.env.PATH ?? "");
  const healthTimeoutMs = options.healthTimeoutMs ?? (runtime === "wasmtime" ? 120_000 : 20_000);

  // Services first: a busy NodePort is reported before anything is built or spawned.
  const supervisors: PodSupervisor[] = [];
  const readyEndpoints = (role: string) => () =>
    supervisors.filter((s) => s.role === role).flatMap((s): Endpoint[] => {
      const endpoint = s.endpoint();
      return endpoint ? [endpoint] : [];
    });
  const onRequest = (record: RequestRecord) => log({ kind: "request", record });
  const greeters = createService(GREETER_SERVICE, readyEndpoints("greeter"), onRequest);
  const splitters = createService(SPLITTER_SERVICE, readyEndpoints("splitter"), onRequest);
  const services: Service[] = [greeters, splitters];
  const listeners: Listener[] = [];
  const closeNetwork = async () => {
    await Promise.all(listeners.map((l) => l.close()));
    for (const service of services) service.close();
  };

  let splitterNodePort: Listener;
  let greeterNodePort: Listener | undefined;
  let clusterIp: Listener;
  try {
    const splitterPort = options.splitterPort ?? DEFAULT_SPLITTER_PORT;
    splitterNodePort = await listen(host, splitterPort, "splitter NodePort", (req, res) =>
      splitters.handle(`NodePort :${splitterNodePort.port} ${SPLITTER_SERVICE}`, req, res),
    );
    listeners.push(splitterNodePort);
    const greeterPort = options.greeterPort === undefined ? DEFAULT_GREETER_PORT : options.greeterPort;
    if (greeterPort !== null) {
      greeterNodePort = await listen(host, greeterPort, "greeter NodePort", (req, res) =>
        greeters.handle(`NodePort :${greeterNodePort!.port} ${GREETER_SERVICE}`, req, res),
      );
      listeners.push(greeterNodePort);
    }
    clusterIp = await listen(INTERNAL_HOST, 0, "greeter ClusterIP", (req, res) =>
      greeters.handle(`ClusterIP ${GREETER_SERVICE}`, req, res),
    );
    listeners.push(clusterIp);
  } catch (error) {
    await closeNetwork();
    throw error;
  }

  let built = false;
  const buildStarted = performance.now();
  try {
    if (options.build ?? true) {
      built = ensureBuilt([COMPONENT]).built;
      if (runtime === "jco") ensureTranspiled();
    }
  } catch (error) {
    await closeNetwork();
    throw new StartError(error instanceof Error ? error.message : String(error));
  }
  const buildMs = performance.now() - buildStarted;

  const plans = planPods(clusterIp.url).map((plan) =>
    plan.role === "splitter" && options.splitterEnv ? { ...plan, env: { ...plan.env, ...options.splitterEnv } } : plan,
  );
  for (const plan of plans) {
    supervisors.push(
      new PodSupervisor({
        ...plan,
        host: INTERNAL_HOST,
        isolate,
        // The splitter waits on greeters, so it serves several requests at once (see SPLITTER_CONCURRENCY).
        launch: plan.role === "splitter" ? (spec) => launch({ ...spec, concurrency: SPLITTER_CONCURRENCY }) : launch,
        healthTimeoutMs,
        backoff: options.backoff,
        onEvent: log,
      }),
    );
  }
  const stop = async () => {
    await Promise.all([closeNetwork(), ...supervisors.map((s) => s.stop())]);
  };

  const spawnStarted = performance.now();
  try {
    await Promise.all(supervisors.map((s) => s.start()));
  } catch (error) {
    await stop();
    throw new StartError(`a pod did not start: ${error instanceof Error ? error.message : String(error)}`);
  }
  const readyMs = performance.now() - spawnStarted;

  const supervisorNamed = (name: string) => {
    const supervisor = supervisors.find((s) => s.name === name);
    if (!supervisor) throw new Error(`no pod named "${name}" (pods: ${supervisors.map((s) => s.name).join(", ")})`);
    return supervisor;
  };

  const pods: PodHandle[] = supervisors.map((s, i) => ({
    name: s.name,
    role: s.role,
    env: plans[i]!.env,
    get pid() {
      return s.pid;
    },
    get url() {
      return s.url;
    },
    get ready() {
      return s.isReady();
    },
    get restarts() {
      return s.restarts;
    },
    whenReady: () => s.whenReady(),
  }));

  return {
    splitterUrl: splitterNodePort.url,
    greeterUrl: greeterNodePort?.url,
    clusterIpUrl: clusterIp.url,
    pods,
    readyMs,
    banner: {
      runtime,
      isolate,
      readyMs,
      buildMs,
      built,
      pods: pods.map((p) => ({ name: p.name, role: p.role, url: p.url, env: p.env })),
      clusterIpUrl: clusterIp.url,
      splitterUrl: splitterNodePort.url,
      greeterUrl: greeterNodePort?.url,
    },
    killPod(name, signal = "SIGKILL") {
      return supervisorNamed(name).kill(signal);
    },
    holdPodDown(name) {
      return supervisorNamed(name).holdDown();
    },
    releasePod(name) {
      supervisorNamed(name).release();
    },
    stop,
  };
}

function launcherFor(runtime: Runtime, pathVariable: string): Launcher {
  if (runtime === "jco") return (spec) => spawnPod({ ...spec, processGroup: true }, "pipe");
  const wasmtime = findExecutable("wasmtime", pathVariable);
  if (!wasmtime) {
    throw new StartError(
      "--runtime wasmtime needs the wasmtime CLI on the PATH (https://wasmtime.dev); it is not there. Use the default runtime (jco) instead.",
    );
  }
  return (spec) => spawnWasmtimePod(wasmtime, COMPONENT, spec);
}
