// Pods on a real containerd 2 + CRI + runwasi shim, driven with crictl the way a kubelet drives
// CRI: a pod sandbox (the pause image) under the runtime handler `wasmtime`, then the
// component's container in it. Used by the shim suite (test/shim.test.ts) and the benchmark.
// containerd itself is started and stopped by scripts/node/containerd.sh, the same script the
// node of scripts/cluster.sh uses.
import { execFile } from "node:child_process";
import { randomUUID } from "node:crypto";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./build";
import { type CriPodPlan, criPodPlan, type DeploymentLike } from "./cri-spec";
import { findTool } from "./tools";

const run = promisify(execFile);

/** The tools a CRI node needs, all from scripts/install-tools.sh. */
export const CRI_TOOLS = ["containerd2", "ctr2", "crictl", "containerd-shim-wasmtime-v1"] as const;

/** Longer than the shim's first compile of the component inside CreateContainer/StartContainer. */
const CRI_TIMEOUT = "180s";

export interface CriPod {
  readonly name: string;
  readonly podId: string;
  readonly containerId: string;
  readonly plan: CriPodPlan;
}

export interface CriNode {
  readonly dir: string;
  readonly socket: string;
  /** Runs crictl against this node; rejects with its stderr. */
  crictl(args: readonly string[]): Promise<string>;
  ctr(args: readonly string[]): Promise<string>;
  /** Imports an OCI tarball into the k8s.io namespace, as `k3s ctr images import` does. */
  importImage(tarball: string): Promise<void>;
  /** runp + create + start; resolves once CRI has started the container (compiled, on a first start). */
  runPod(deployment: DeploymentLike, options: { podName: string; envOverrides?: Record<string, string> }): Promise<CriPod>;
  /** The container's init process on the host (its task), from `crictl inspect`. */
  taskPid(pod: CriPod): Promise<number>;
  containerState(pod: CriPod): Promise<string>;
  /** `crictl stop` (the image's StopSignal, then SIGKILL after `timeoutSeconds`), then removes the pod. */
  removePod(pod: CriPod, timeoutSeconds?: number): Promise<void>;
  /** Stops every pod, containerd and its shims; unmounts and deletes the state folder. */
  down(): Promise<void>;
}

function tool(command: string): string {
  const path = findTool(command);
  if (!path) throw new Error(`${command} not found (scripts/install-tools.sh installs it)`);
  return path;
}

async function exec(command: string, args: readonly string[]): Promise<string> {
  try {
    const { stdout } = await run(command, [...args], { maxBuffer: 64 * 2 ** 20 });
    return stdout;
  } catch (error) {
    const { stderr = "", code } = error as { stderr?: string; code?: number };
    throw new Error(`${command} ${args.join(" ")} failed (exit ${code}): ${stderr.trim()}`);
  }
}

const CONTAINERD_SH = join(ROOT, "scripts/node/containerd.sh");

/** Starts a private containerd with CRI (scripts/node/containerd.sh up) in a new temp folder. */
export async function startCriNode(): Promise<CriNode> {
  // Short: the sockets under it must fit in 108 bytes.
  const dir = mkdtempSync(join(tmpdir(), "wp-cri-"));
  const socket = join(dir, "containerd.sock");
  // All of this node's pod cgroups under one parent, removed with it.
  const cgroupParent = `/wasm-pods-${dir.slice(-6)}`;
  const down = async () => {
    await exec(CONTAINERD_SH, ["down", dir]);
    removeCgroups(cgroupParent);
  };
  try {
    await exec(CONTAINERD_SH, ["up", dir]);
  } catch (error) {
    await down().catch(() => undefined);
    throw error;
  }
  const endpoint = `unix://${socket}`;
  const crictl = (args: readonly string[]) => exec(tool("crictl"), ["--runtime-endpoint", endpoint, "--image-endpoint", endpoint, "--timeout", CRI_TIMEOUT, ...args]);
  const ctr = (args: readonly string[]) => exec(tool("ctr2"), ["--address", socket, ...args]);

  return {
    dir,
    socket,
    crictl,
    ctr,
    async importImage(tarball) {
      await ctr(["-n", "k8s.io", "images", "import", "--all-platforms", "--local", tarball]);
    },
    async runPod(deployment, { podName, envOverrides }) {
      const plan = criPodPlan(deployment, {
        podName,
        namespace: "wasm-pods",
        uid: randomUUID(),
        envOverrides,
        hostNetwork: true,
        cgroupParent,
        logDirectory: join(dir, "logs", podName),
      });
      const sandboxFile = join(dir, `${podName}.sandbox.json`);
      const containerFile = join(dir, `${podName}.container.json`);
      writeFileSync(sandboxFile, JSON.stringify(plan.sandbox));
      writeFileSync(containerFile, JSON.stringify(plan.container));
      const podId = (await crictl(["runp", "--runtime", plan.runtimeHandler, sandboxFile])).trim();
      const containerId = (await crictl(["create", podId, containerFile, sandboxFile])).trim();
      await crictl(["start", containerId]);
      return { name: podName, podId, containerId, plan };
    },
    async taskPid(pod) {
      const inspected = JSON.parse(await crictl(["inspect", pod.containerId])) as { info?: { pid?: number } };
      const pid = inspected.info?.pid;
      if (!pid) throw new Error(`crictl inspect ${pod.containerId} gave no pid`);
      return pid;
    },
    async containerState(pod) {
      const inspected = JSON.parse(await crictl(["inspect", pod.containerId])) as { status?: { state?: string } };
      return inspected.status?.state ?? "unknown";
    },
    async removePod(pod, timeoutSeconds = 30) {
      await crictl(["stop", "--timeout", String(timeoutSeconds), pod.containerId]);
      await crictl(["stopp", pod.podId]);
      await crictl(["rmp", pod.podId]);
    },
    down,
  };
}

/** cgroup v1: removes `parent` in every controller, children first (each is empty once its pod is gone). */
function removeCgroups(parent: string): void {
  for (const controller of readdirSync("/sys/fs/cgroup")) {
    const base = join("/sys/fs/cgroup", controller, parent);
    if (!existsSync(base)) continue;
    const folders = readdirSync(base, { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => join(entry.parentPath, entry.name))
      .sort((a, b) => b.length - a.length);
    for (const folder of [...folders, base]) tryRmdir(folder);
  }
}

function tryRmdir(path: string): void {
  try {
    rmdirSync(path);
  } catch {
    // still busy, or gone: the next run's parent differs
  }
}

/** /proc/<pid>/status as a map of its fields. */
export function processStatus(pid: number): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of readFileSync(`/proc/${pid}/status`, "utf8").split("\n")) {
    const colon = line.indexOf(":");
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

/** The options of the mount at `/` as the process sees it (its own mount namespace). */
export function rootMountOptions(pid: number): string[] {
  for (const line of readFileSync(`/proc/${pid}/mountinfo`, "utf8").split("\n")) {
    const fields = line.split(" ");
    if (fields[4] === "/") return (fields[5] ?? "").split(",");
  }
  throw new Error(`no / mount in /proc/${pid}/mountinfo`);
}

/** The process's cgroup v1 folder of `controller` on the host. */
export function cgroupDir(pid: number, controller: string): string {
  for (const line of readFileSync(`/proc/${pid}/cgroup`, "utf8").split("\n")) {
    const [, controllers = "", path = ""] = line.split(":");
    if (controllers.split(",").includes(controller)) return join("/sys/fs/cgroup", controller, path);
  }
  throw new Error(`process ${pid} has no ${controller} cgroup`);
}
