// The k3s topology of kustomize/overlays/k3s (plus the greeter-nodeport overlay),
// played on one machine: each pod a process, each Service a proxy in this one.
//
//   NodePort :30001  name-splitter-pod-service -> name-splitter-pod-1
//                                                  | GREETER_URL = the ClusterIP below
//   ClusterIP        name-greeter-pod-service  -> name-greeter-pod-1 | name-greeter-pod-2
//   NodePort :30002  name-greeter-pod-nodeport -> the same greeter pods
//
// The Deployments and Services are the rendered overlays' (host/topology.ts, generated
// from them; test/topology.test.ts renders again and fails when it is stale), so the
// twin follows the manifests.
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { COMPONENT, ensureBuilt } from "../lib/build";
import { pollUntil } from "../lib/wait";
import { guardedServer } from "./connections";
import { Kubelet, type PodEvent, type Probes } from "./kubelet";
import { portHolder } from "../lib/processes";
import { hostPort } from "../lib/address";
import type { Build, Runtime } from "./runtimes";
import { createService, type RequestRecord, type ServiceDoor, serviceDoor } from "./service";
import { errorText } from "../lib/errors";
import { TOPOLOGY } from "./topology";

/**
 * jco only: requests one pod serves at once (wasmtime and the shim run each request on
 * its own instance), and requests a slot serves before a fresh one replaces it. Twin
 * tuning, not a manifest fact, so it is kept here by role, with a default for any other.
 * The splitter waits on its greeters, so it gets several slots: behind a stalled greeter,
 * concurrent splits then time out together instead of one after another. A reused
 * instance grows: a greeter's barely, a splitter's by what its guest keeps of every
 * downstream call (StarlingMonkey releases those only on a GC that rarely runs), so
 * splitter slots are replaced sooner (npm run test:load measures both).
 */
const JCO_TUNING: Record<string, { slots: number; recycleAfter: number }> = {
  greeter: { slots: 2, recycleAfter: 1000 },
  splitter: { slots: 4, recycleAfter: 500 },
};
const JCO_DEFAULT_TUNING = { slots: 1, recycleAfter: 1000 };

export interface Deployment {
  name: string;
  role: string;
  replicas: number;
  /** The container's env as the overlay sets it (POD_NAME comes from the downward API). */
  env: Record<string, string>;
  probes: Probes;
  terminationGracePeriodSeconds: number;
  slots: number;
  recycleAfter: number;
}

/** The Deployments of the rendered overlays (host/topology.ts, generated from them). */
export const DEPLOYMENTS: readonly Deployment[] = TOPOLOGY.deployments.map((d) => ({
  name: d.name,
  role: d.role,
  replicas: d.replicas,
  env: { ...d.env },
  probes: d.probes,
  terminationGracePeriodSeconds: d.terminationGracePeriodSeconds,
  ...(JCO_TUNING[d.role] ?? JCO_DEFAULT_TUNING),
}));

function deploymentOf(role: string): Deployment {
  const found = DEPLOYMENTS.find((d) => d.role === role);
  if (!found) throw new Error(`the overlays have no Deployment with ROLE=${role}`);
  return found;
}

/** The Service in front of `role`'s pods: its ClusterIP one, or its NodePort one. */
function serviceOf(role: string, kind: "ClusterIP" | "NodePort") {
  const { name } = deploymentOf(role);
  const found = TOPOLOGY.services.find((s) => s.deployment === name && ("nodePort" in s) === (kind === "NodePort"));
  if (!found) throw new Error(`the overlays have no ${kind} Service for ${name}`);
  return found;
}

const greeterClusterIp = serviceOf("greeter", "ClusterIP");
const greeterNodePort = serviceOf("greeter", "NodePort");
const splitterNodePort = serviceOf("splitter", "NodePort");
export const GREETER_SERVICE = { name: greeterClusterIp.name, port: greeterClusterIp.port, nodePort: "nodePort" in greeterNodePort ? greeterNodePort.nodePort : 0 };
export const GREETER_NODEPORT_SERVICE = { name: greeterNodePort.name };
export const SPLITTER_SERVICE = { name: splitterNodePort.name, nodePort: "nodePort" in splitterNodePort ? splitterNodePort.nodePort : 0 };

/** The probes of the splitter's Deployment (the base gives both roles the same ones). */
export const PROBES: Probes = deploymentOf("splitter").probes;

/** Pods and the ClusterIP stay on loopback, whatever address the NodePorts bind. */
const INTERNAL_HOST = "127.0.0.1";
/**
 * No client of a Service waits longer than this for a pod's answer to start. A
 * healthy answer takes milliseconds; a split at most GREETER_TIMEOUT_MS (src/config.ts's
 * default unless the Deployment sets it). kube-proxy has no such limit; the twin adds it so nothing hangs.
 */
const SERVICE_DEADLINE_MS = 10_000;
/** How often the Services' doors follow the endpoints besides the pods' events. */
const DOOR_SYNC_MS = 100;

export const DEFAULT_SPLITTER_PORT = SPLITTER_SERVICE.nodePort;
export const DEFAULT_GREETER_PORT = GREETER_SERVICE.nodePort;
export const DEFAULT_HOST = "127.0.0.1";

export type LogEntry = { kind: "request"; record: RequestRecord } | PodEvent | { kind: "rollout"; message: string };

export interface ClusterOptions {
  runtime: Runtime;
  /** Run ./build.sh first when dist/ is stale (after the ports are bound, so a busy one is reported first). */
  build?: boolean;
  /** Splitter NodePort (default 30001; 0 = any free port). */
  splitterPort?: number;
  /** Greeter NodePort (default 30002; 0 = any free port; null = none). */
  greeterPort?: number | null;
  /** Address the NodePorts bind to. */
  host?: string;
  log?: (entry: LogEntry) => void;
  /** Extra env for the splitter pods (e.g. a short GREETER_TIMEOUT_MS for fault tests). */
  splitterEnv?: Record<string, string>;
}

/** A Service of the overlays as the twin serves it. */
export interface ServiceListening {
  name: string;
  kind: "ClusterIP" | "NodePort";
  url: string;
  role: string;
  replicas: number;
  /** The Service's own port in the manifest (what cluster DNS names reach). */
  port: number;
}

export interface Cluster {
  /** Every Service that listens, in the overlays' order. */
  services: ServiceListening[];
  splitterUrl: string;
  greeterUrl: string | undefined;
  clusterIpUrl: string;
  pods: Kubelet[];
  /** From spawning the pods to every pod ready. */
  readyMs: number;
  /** How long ./build.sh took, when it ran. */
  buildMs: number | undefined;
  runtime: Runtime;
  /** The pod named `name` (throws for an unknown name). */
  pod(name: string): Kubelet;
  /**
   * Rolls every Deployment to `build` as a RollingUpdate with maxSurge 1 and
   * maxUnavailable 0 does: start a new pod, wait until it is ready (it joins its
   * Service), take an old one out of the Service, let its requests finish, stop it;
   * repeat. A new pod that does not start ends the rollout there: the old pods
   * keep serving. Resolves true when every pod runs `build`.
   */
  rollout(build: Build, label: string): Promise<boolean>;
  stop(): Promise<void>;
}

interface Listener {
  server: Server;
  host: string;
  /** The port it is bound to (the one asked for, or the one the system gave for 0). */
  port: number;
  url: string;
  close(): Promise<void>;
}

function listenFailureMessage(code: string | undefined, host: string, port: number, what: string, holder?: string): string {
  switch (code) {
    case "EADDRINUSE":
      return `port ${port} is already in use on ${host} (${what})${holder ? ` by ${holder}` : ""}; stop it or pick another port`;
    case "EACCES":
      return `not allowed to listen on ${hostPort(host, port)} (${what}); pick a port above 1023`;
    case "EADDRNOTAVAIL":
      return `address ${host} is not on this machine (${what} on port ${port})`;
    default:
      return `cannot listen on ${hostPort(host, port)} (${what}): ${code ?? "unknown error"}`;
  }
}

/**
 * Where "any free port" is looked for: below Linux's ephemeral range (32768-60999), from which
 * outgoing connections and other programs' port 0 take theirs. A Service's door closes while it
 * has no ready endpoint; a port from that range could be taken meanwhile by one of the twin's own
 * connections to a pod, and the door could not open again.
 */
const ANY_PORT_RANGE = { from: 20_000, to: 29_999 };
const ANY_PORT_TRIES = 50;

async function listen(host: string, port: number, what: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  if (port !== 0) return listenOn(host, port, what, handler);
  for (let tries = 1; ; tries++) {
    const candidate = ANY_PORT_RANGE.from + Math.floor(Math.random() * (ANY_PORT_RANGE.to - ANY_PORT_RANGE.from + 1));
    try {
      return await listenOn(host, candidate, what, handler);
    } catch (error) {
      if (tries >= ANY_PORT_TRIES || (error as NodeJS.ErrnoException).code !== "EADDRINUSE") throw error;
    }
  }
}

function listenOn(host: string, port: number, what: string, handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Listener> {
  // A Service's connections get an ingress's limits (idle, stalled, pipelined: host/connections.ts).
  const server = guardedServer(handler, "service");
  return new Promise((resolveListener, reject) => {
    server.once("error", (error: NodeJS.ErrnoException) => {
      const holder = error.code === "EADDRINUSE" ? portHolder(port) : undefined;
      reject(Object.assign(new Error(listenFailureMessage(error.code, host, port, what, holder)), { code: error.code }));
    });
    server.listen(port, host, () => {
      const bound = (server.address() as AddressInfo).port;
      resolveListener({
        server,
        host,
        port: bound,
        url: `http://${hostPort(host, bound)}`,
        close: () =>
          new Promise<void>((closed) => {
            server.close(() => closed());
            server.closeAllConnections();
          }),
      });
    });
  });
}

/** Starts the twin; a failure to start rejects with an Error whose message is the whole story (the CLI prints it without a stack). */
export async function startCluster(options: ClusterOptions): Promise<Cluster> {
  const host = options.host ?? DEFAULT_HOST;
  const log = options.log ?? (() => {});
  const deadlineMs = SERVICE_DEADLINE_MS;
  const kubelets: Kubelet[] = [];
  const endpointsOf = (role: string) => () => kubelets.filter((k) => k.role === role).flatMap((k) => k.endpoint() ?? []);
  const onRequest = (record: RequestRecord) => log({ kind: "request", record });
  // Every Service of the overlays, each its own round robin over its Deployment's ready pods.
  const services = TOPOLOGY.services.map((spec) => {
    const deployment = DEPLOYMENTS.find((d) => d.name === spec.deployment)!;
    return { spec, deployment, service: createService({ name: spec.name, endpoints: endpointsOf(deployment.role), onRequest, deadlineMs }) };
  });
  const listeners: Listener[] = [];
  /** Each listener's door: open while its Service has a ready endpoint, refusing connections while it has none. */
  const doors: ServiceDoor[] = [];
  const syncDoors = () => {
    for (const door of doors) door.sync();
  };
  // kube-proxy follows the endpoints as they change; so do the doors, on every pod event and
  // at a short period besides (a pod leaves its endpoints without an event of its own, e.g. when it is stopped).
  const doorSync = setInterval(syncDoors, DOOR_SYNC_MS);
  doorSync.unref();
  const closeNetwork = async () => {
    clearInterval(doorSync);
    for (const door of doors) door.shut();
    await Promise.all(listeners.map((l) => l.close()));
    for (const { service } of services) service.close();
  };

  /** Where each Service listens: its NodePort on `host` (the CLI may move or drop the two it names), else a ClusterIP on loopback. */
  const portOf = (spec: (typeof services)[number]["spec"]): number | null => {
    if (!("nodePort" in spec)) return 0;
    if (spec.name === SPLITTER_SERVICE.name) return options.splitterPort ?? spec.nodePort;
    if (spec.name === GREETER_NODEPORT_SERVICE.name) return options.greeterPort === undefined ? spec.nodePort : options.greeterPort;
    return spec.nodePort;
  };
  /** By the overlays' order: listening[i] is services[i]'s, or undefined when the CLI dropped it. */
  const listening: (ServiceListening | undefined)[] = [];

  // The Services first, NodePorts before ClusterIPs: a busy NodePort is reported before any pod starts.
  const order = [...services.keys()].sort((a, b) => Number("nodePort" in services[b]!.spec) - Number("nodePort" in services[a]!.spec));
  try {
    for (const index of order) {
      const { spec, deployment, service } = services[index]!;
      const { role } = deployment;
      const port = portOf(spec);
      if (port === null) continue;
      const kind = "nodePort" in spec ? "NodePort" : "ClusterIP";
      const what = `${role} ${kind}`;
      let via = `ClusterIP ${spec.name}`;
      const listener = await listen(kind === "NodePort" ? host : INTERNAL_HOST, port, what, (req, res) => service.handle(via, req, res));
      if (kind === "NodePort") via = `NodePort :${listener.port} ${spec.name}`;
      listeners.push(listener);
      listening[index] = { name: spec.name, kind, url: listener.url, role, replicas: deployment.replicas, port: spec.port };
      doors.push(
        serviceDoor(listener.server, listener.host, listener.port, () => endpointsOf(role)().length > 0, (error) =>
          log({ kind: "rollout", message: `${what}: cannot listen again on ${hostPort(listener.host, listener.port)} (${error.code ?? error.message}); retrying` }),
        ),
      );
    }
    // No pod is ready yet: the ports are ours (a busy one was reported above), closed until one is.
    syncDoors();
  } catch (error) {
    await closeNetwork();
    throw error;
  }
  const served = listening.filter((l): l is ServiceListening => l !== undefined);
  const urlOf = (name: string) => served.find((l) => l.name === name)?.url;
  const splitterUrl = urlOf(SPLITTER_SERVICE.name)!;
  const greeterUrl = urlOf(GREETER_NODEPORT_SERVICE.name);
  const clusterIpUrl = urlOf(GREETER_SERVICE.name)!;
  /**
   * Cluster DNS, played: an env value that is a URL of a Service (`http://<name>:<port>`)
   * reaches that Service's local ClusterIP instead.
   */
  const resolveServices = (env: Record<string, string>) =>
    Object.fromEntries(
      Object.entries(env).map(([name, value]) => {
        const target = served.find((l) => l.kind === "ClusterIP" && value.startsWith(`http://${l.name}:${l.port}`));
        return [name, target ? target.url + value.slice(`http://${target.name}:${target.port}`.length) : value];
      }),
    );

  let buildMs: number | undefined;
  try {
    const buildStarted = performance.now();
    if (options.build && ensureBuilt([COMPONENT]).built) buildMs = performance.now() - buildStarted;
  } catch (error) {
    await closeNetwork();
    throw new Error(errorText(error));
  }

  let build: Build;
  try {
    build = await options.runtime.prepare();
  } catch (error) {
    await closeNetwork();
    throw new Error(errorText(error));
  }
  /** Pod names as `<deployment>-<n>`, n counting up over rollouts (k8s adds a ReplicaSet hash instead). */
  const podCount = new Map<string, number>();
  const newPod = (deployment: Deployment, podBuild: Build) => {
    const n = (podCount.get(deployment.name) ?? 0) + 1;
    podCount.set(deployment.name, n);
    const env = { ...resolveServices(deployment.env), ...(deployment.role === "splitter" ? options.splitterEnv : {}) };
    return new Kubelet({
      name: `${deployment.name}-${n}`,
      role: deployment.role,
      env,
      slots: deployment.slots,
      recycleAfter: deployment.recycleAfter,
      runtime: options.runtime,
      build: podBuild,
      host: INTERNAL_HOST,
      probes: deployment.probes,
      terminationGracePeriodSeconds: deployment.terminationGracePeriodSeconds,
      onEvent: (event) => {
        log(event);
        // After the kubelet has acted on what it reports (a pod ready joins its endpoints then).
        setImmediate(syncDoors);
      },
    });
  };
  for (const deployment of DEPLOYMENTS) {
    for (let i = 0; i < deployment.replicas; i++) kubelets.push(newPod(deployment, build));
  }

  const rollout = async (next: Build, label: string): Promise<boolean> => {
    for (const deployment of DEPLOYMENTS) {
      const old = kubelets.filter((k) => k.role === deployment.role);
      for (const pod of old) {
        const fresh = newPod(deployment, next);
        kubelets.push(fresh);
        log({ kind: "rollout", message: `${deployment.name} -> ${label}: starting ${fresh.name}` });
        try {
          await fresh.start();
        } catch (error) {
          kubelets.splice(kubelets.indexOf(fresh), 1);
          await fresh.stop();
          log({ kind: "rollout", message: `${deployment.name} -> ${label}: stopped, ${errorText(error)}; the pods not yet replaced keep serving` });
          return false;
        }
        syncDoors();
        pod.beginTermination();
        // Requests already sent to it finish there; none are sent any more.
        const drained = await pollUntil(() => services.every(({ service }) => service.inFlight(pod.name) === 0), 10_000);
        await pod.stop();
        kubelets.splice(kubelets.indexOf(pod), 1);
        const how = drained ? "drained and stopped" : "stopped with requests still in flight after 10 s";
        log({ kind: "rollout", message: `${deployment.name} -> ${label}: ${fresh.name} ready and in the Service, ${pod.name} ${how}` });
      }
    }
    log({ kind: "rollout", message: `every pod runs ${label}` });
    return true;
  };

  const stop = async () => {
    await Promise.all([closeNetwork(), ...kubelets.map((k) => k.stop())]);
  };

  const spawned = performance.now();
  try {
    await Promise.all(kubelets.map((k) => k.start()));
  } catch (error) {
    await stop();
    throw new Error(`a pod did not start: ${errorText(error)}`);
  }
  // Every pod is ready: the Services take connections from now on.
  syncDoors();

  return {
    splitterUrl,
    greeterUrl,
    clusterIpUrl,
    services: served,
    pods: kubelets,
    readyMs: performance.now() - spawned,
    buildMs,
    runtime: options.runtime,
    pod(name) {
      const found = kubelets.find((k) => k.name === name);
      if (!found) throw new Error(`no pod named "${name}" (pods: ${kubelets.map((k) => k.name).join(", ")})`);
      return found;
    },
    rollout,
    stop,
  };
}
