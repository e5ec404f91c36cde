// What runs: the k3s manifests' objects (kustomize/overlays/k3s), as plain data.
// Pod names are `<deployment>-<n>` (k8s would add a ReplicaSet hash); each pod's
// env is what its Deployment sets, with GREETER_URL pointing at the local ClusterIP.

export const GREETER_SERVICE = "name-greeter-pod-service";
export const SPLITTER_SERVICE = "name-splitter-pod-service";
export const GREETER_REPLICAS = 2;
/**
 * Requests the splitter pod serves at once (scripts/pod.ts --concurrency). jco
 * calls the component synchronously, so a one-instance splitter waiting on its
 * greeters holds every other request back, and behind a stalled greeter the
 * k-th queued request times out only after k timeouts; the k3s shim runs an
 * instance per request concurrently. With 4 workers the splitter served 25-80%
 * more splits, but its RSS kept climbing under `npm run test:load` (437 -> 604 MB
 * over three 8 s rounds, not yet explained), so npm start stays at 1 until that
 * is understood; the pod host's worker mode itself is tested
 * (test/pod-concurrency.test.ts). Greeters are CPU-bound and never wait.
 */
export const SPLITTER_CONCURRENCY = 1;

export interface PodPlan {
  name: string;
  role: "greeter" | "splitter";
  env: Record<string, string>;
}

/** The pods, given where the greeter ClusterIP listens. */
export function planPods(greeterClusterIpUrl: string): PodPlan[] {
  const greeters = Array.from({ length: GREETER_REPLICAS }, (_, i): PodPlan => ({
    name: `name-greeter-pod-${i + 1}`,
    role: "greeter",
    env: { ROLE: "greeter" },
  }));
  const splitter: PodPlan = {
    name: "name-splitter-pod-1",
    role: "splitter",
    env: { ROLE: "splitter", GREETER_URL: greeterClusterIpUrl },
  };
  return [...greeters, splitter];
}

/**
 * The env a pod process gets once its port is known: the Deployment's env plus
 * the shim's listen address (kustomize/base/deployment.yaml sets
 * WASMTIME_HTTP_PROXY_SOCKET_ADDR to match containerPort; here it matches the
 * pod's local port). POD_NAME and HOSTNAME are added by the spawner.
 */
export function podEnv(plan: Pick<PodPlan, "env">, host: string, port: number): Record<string, string> {
  const address = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  return { ...plan.env, WASMTIME_HTTP_PROXY_SOCKET_ADDR: address };
}
