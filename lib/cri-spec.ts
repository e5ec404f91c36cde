// Pure: what a kubelet asks containerd's CRI for, to run one container of a Deployment's pod
// template, in crictl's JSON (the CRI messages' field names). It mirrors the parts of
// pkg/kubelet/kuberuntime that matter to this project: the pod and container security
// context, env (literal values and metadata.name), and the CPU/memory resources as cgroup v1
// values. Everything else a kubelet adds (labels, service-link env, mounts, probes, log
// paths) is left out; scripts/cluster.sh runs a real kubelet for that.

/** The fields of a rendered Deployment this reads. */
export interface DeploymentLike {
  metadata: { name: string };
  spec?: { template?: { spec?: PodSpecLike } };
}

interface EnvVarLike {
  name: string;
  value?: string;
  valueFrom?: { fieldRef?: { fieldPath?: string } };
}

interface SecurityContextLike {
  runAsUser?: number;
  runAsGroup?: number;
  runAsNonRoot?: boolean;
  readOnlyRootFilesystem?: boolean;
  allowPrivilegeEscalation?: boolean;
  capabilities?: { add?: string[]; drop?: string[] };
  seccompProfile?: { type?: string };
}

interface ContainerLike {
  name: string;
  image: string;
  env?: EnvVarLike[];
  securityContext?: SecurityContextLike;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
}

interface PodSpecLike {
  runtimeClassName?: string;
  securityContext?: SecurityContextLike;
  containers?: ContainerLike[];
}

export interface CriPodOptions {
  /** The pod's name (what metadata.name resolves to in env). */
  podName: string;
  namespace: string;
  uid: string;
  /** Env values set over the manifest's, e.g. the listen address on a host-network pod. */
  envOverrides?: Readonly<Record<string, string>>;
  /** Host network: the pods of the shim suite share the node's loopback (no CNI). */
  hostNetwork: boolean;
  /** The pod's cgroup parent (cgroupfs), so a run's cgroups are found and removed together. */
  cgroupParent: string;
  logDirectory: string;
}

export interface CriPodPlan {
  /** `crictl runp` input (PodSandboxConfig). */
  sandbox: Record<string, unknown>;
  /** `crictl create` input (ContainerConfig). */
  container: Record<string, unknown>;
  /** The RuntimeClass's handler (`crictl runp --runtime`): k3s maps RuntimeClass wasmtime to handler wasmtime. */
  runtimeHandler: string;
}

// CRI enums, as numbers in crictl's JSON.
const NAMESPACE_MODE = { POD: 0, CONTAINER: 1, NODE: 2 } as const;
const SECCOMP_PROFILE = { RuntimeDefault: 0, Unconfined: 1, Localhost: 2 } as const;

const CPU_PERIOD_US = 100_000;
const MIN_CPU_SHARES = 2;

const BINARY_SUFFIXES: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL_SUFFIXES: Record<string, number> = { "": 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3 };

/** A Kubernetes quantity ("256Mi", "50m", "1") as a number of base units. */
export function parseQuantity(quantity: string): number {
  const match = /^(\d+(?:\.\d+)?)([KMGT]i|[kMGTm]?)$/.exec(quantity.trim());
  if (!match) throw new Error(`not a Kubernetes quantity: "${quantity}"`);
  const [, number, suffix = ""] = match;
  const factor = BINARY_SUFFIXES[suffix] ?? DECIMAL_SUFFIXES[suffix];
  if (factor === undefined) throw new Error(`unknown quantity suffix in "${quantity}"`);
  return Number(number) * factor;
}

function milliCpu(quantity: string | undefined): number | undefined {
  return quantity === undefined ? undefined : Math.round(parseQuantity(quantity) * 1000);
}

/** The kubelet's cgroup v1 values for a container's resources (pkg/kubelet/cm, helpers_linux.go). */
function linuxResources(resources: ContainerLike["resources"]): Record<string, number> {
  const out: Record<string, number> = {};
  const cpuRequest = milliCpu(resources?.requests?.cpu);
  const cpuLimit = milliCpu(resources?.limits?.cpu);
  const memoryLimit = resources?.limits?.memory;
  // Shares follow the request (or the limit when only that is set), never below 2.
  const sharesFrom = cpuRequest ?? cpuLimit;
  if (sharesFrom !== undefined) out.cpu_shares = Math.max(MIN_CPU_SHARES, Math.floor((sharesFrom * 1024) / 1000));
  if (cpuLimit !== undefined) {
    out.cpu_period = CPU_PERIOD_US;
    out.cpu_quota = Math.floor((cpuLimit * CPU_PERIOD_US) / 1000);
  }
  if (memoryLimit !== undefined) out.memory_limit_in_bytes = parseQuantity(memoryLimit);
  return out;
}

/**
 * The container's effective security context: the container's fields over the pod's, as the
 * kubelet's determineEffectiveSecurityContext does, in CRI's LinuxContainerSecurityContext.
 */
function containerSecurityContext(pod: SecurityContextLike | undefined, container: SecurityContextLike | undefined, hostNetwork: boolean): Record<string, unknown> {
  const user = container?.runAsUser ?? pod?.runAsUser;
  const group = container?.runAsGroup ?? pod?.runAsGroup;
  const seccomp = container?.seccompProfile?.type ?? pod?.seccompProfile?.type;
  const context: Record<string, unknown> = {
    namespace_options: { network: hostNetwork ? NAMESPACE_MODE.NODE : NAMESPACE_MODE.POD, pid: NAMESPACE_MODE.CONTAINER, ipc: NAMESPACE_MODE.POD },
    readonly_rootfs: container?.readOnlyRootFilesystem === true,
    // allowPrivilegeEscalation: false is what sets no_new_privs.
    no_new_privs: container?.allowPrivilegeEscalation === false,
    capabilities: {
      add_capabilities: container?.capabilities?.add ?? [],
      drop_capabilities: container?.capabilities?.drop ?? [],
    },
  };
  if (user !== undefined) context.run_as_user = { value: user };
  if (group !== undefined) context.run_as_group = { value: group };
  if (seccomp !== undefined) {
    const profile = SECCOMP_PROFILE[seccomp as keyof typeof SECCOMP_PROFILE];
    if (profile === undefined || profile === SECCOMP_PROFILE.Localhost) throw new Error(`seccomp profile type ${seccomp} is not mapped here`);
    context.seccomp = { profile_type: profile };
  }
  return context;
}

/** The container's env, as the kubelet resolves it: literal values and metadata.name. */
function containerEnv(env: readonly EnvVarLike[] | undefined, podName: string, overrides: Readonly<Record<string, string>> = {}): { key: string; value: string }[] {
  const values = new Map<string, string>();
  for (const variable of env ?? []) {
    if (variable.value !== undefined) values.set(variable.name, variable.value);
    else if (variable.valueFrom?.fieldRef?.fieldPath === "metadata.name") values.set(variable.name, podName);
    else throw new Error(`env ${variable.name}: only literal values and metadata.name are mapped here`);
  }
  for (const [key, value] of Object.entries(overrides)) values.set(key, value);
  return [...values].map(([key, value]) => ({ key, value }));
}

/** The sandbox and container a kubelet would ask CRI for, for the first container of `deployment`. */
export function criPodPlan(deployment: DeploymentLike, options: CriPodOptions): CriPodPlan {
  const pod = deployment.spec?.template?.spec;
  const container = pod?.containers?.[0];
  if (!pod || !container) throw new Error(`Deployment ${deployment.metadata.name} has no container`);
  const metadata = { name: options.podName, namespace: options.namespace, uid: options.uid, attempt: 0 };
  const podContext = pod.securityContext;
  const sandboxContext: Record<string, unknown> = {
    namespace_options: { network: options.hostNetwork ? NAMESPACE_MODE.NODE : NAMESPACE_MODE.POD, pid: NAMESPACE_MODE.CONTAINER, ipc: NAMESPACE_MODE.POD },
  };
  if (podContext?.runAsUser !== undefined) sandboxContext.run_as_user = { value: podContext.runAsUser };
  if (podContext?.runAsGroup !== undefined) sandboxContext.run_as_group = { value: podContext.runAsGroup };
  if (podContext?.seccompProfile?.type === "RuntimeDefault") sandboxContext.seccomp = { profile_type: SECCOMP_PROFILE.RuntimeDefault };
  return {
    runtimeHandler: pod.runtimeClassName ?? "",
    sandbox: {
      metadata,
      hostname: options.podName,
      log_directory: options.logDirectory,
      linux: { cgroup_parent: options.cgroupParent, security_context: sandboxContext },
    },
    container: {
      metadata: { name: container.name, attempt: 0 },
      image: { image: container.image },
      envs: containerEnv(container.env, options.podName, options.envOverrides),
      log_path: `${container.name}.log`,
      linux: {
        resources: linuxResources(container.resources),
        security_context: containerSecurityContext(podContext, container.securityContext, options.hostNetwork),
      },
    },
  };
}
