// The built image under what k3s runs it with: containerd 2 through its CRI plugin, pods in the
// runtime handler `wasmtime` (runwasi's containerd-shim-wasmtime v0.6.0), driven with crictl as
// a kubelet drives CRI. Each pod's sandbox, security context, env and resources come from the
// rendered kustomize/overlays/k3s (lib/cri-spec.ts maps them as the kubelet does).
//
// What differs from a node, and why: the pods use the host network, each with its own
// WASMTIME_HTTP_PROXY_SOCKET_ADDR on 127.0.0.1, and the splitter's GREETER_URL names its
// greeter's address, since this suite runs no CNI, kube-proxy or cluster DNS. The node of
// scripts/cluster.sh runs those (test/kube-node.test.ts).
import { readdirSync, readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IMAGE_TARBALL } from "../lib/build";
import { cgroupDir, CRI_TOOLS, type CriNode, type CriPod, processStatus, rootMountOptions, startCriNode } from "../lib/cri";
import { type DeploymentLike, parseQuantity } from "../lib/cri-spec";
import { freePort } from "../lib/free-port";
import { findObject, renderOverlay } from "../lib/kustomize";
import { waitFor200 } from "../lib/wait";
import { rawRequest } from "./support/raw-http";
import { BUSY_MACHINE_MARGIN_MS, IN_CI, requireTools, suiteTitle } from "./support/tools";

const SUITE = "the image under containerd CRI and runwasi's shim";
const tools = requireTools(SUITE, [...CRI_TOOLS, "kustomize"], "scripts/install-tools.sh installs them; the shim comes from ../shared/tools/runwasi");
const isRoot = process.getuid?.() === 0;
if (tools.available && !isRoot) {
  console.warn(`${SUITE}: ${IN_CI ? "FAILING (CI=true)" : "skipped"}: containerd's CRI needs root`);
  if (IN_CI) it(`${SUITE} needs root (CI=true)`, () => expect.fail("CI=true but not root: containerd's CRI needs it"));
}
const runnable = tools.available && isRoot;
const title = runnable ? SUITE : suiteTitle(SUITE, tools.available ? { ...tools, available: false, reason: "needs root" } : tools);

/** The only capability the restricted profile keeps: CAP_NET_BIND_SERVICE is bit 10. */
const ONLY_NET_BIND_SERVICE = "0000000000000400";
const SEED = "Hello Sherlock! and Greetings Po!";
/** The splitter's deadline for one greeter call when GREETER_TIMEOUT_MS is unset (README contract). */
const DEFAULT_GREETER_TIMEOUT_MS = 2_000;
/** A first start compiles the component inside CRI's StartContainer: tens of seconds on a busy 2-core machine. */
const START_TIMEOUT_MS = 240_000;

interface RunningPod {
  readonly pod: CriPod;
  readonly url: string;
}

describe.skipIf(!runnable)(title, () => {
  let node: CriNode;
  let greeterDeployment: DeploymentLike;
  let splitterDeployment: DeploymentLike;
  let greeter: RunningPod;
  let splitter: RunningPod;

  /** Starts a pod of `deployment` on a free loopback port and waits until /healthz answers. */
  async function startPod(deployment: DeploymentLike, podName: string, env: Record<string, string> = {}): Promise<RunningPod> {
    const port = await freePort();
    const pod = await node.runPod(deployment, { podName, envOverrides: { WASMTIME_HTTP_PROXY_SOCKET_ADDR: `127.0.0.1:${port}`, ...env } });
    const url = `http://127.0.0.1:${port}`;
    await waitFor200(`${url}/healthz`, { timeoutMs: 30_000 });
    return { pod, url };
  }

  beforeAll(async () => {
    const objects = renderOverlay("k3s");
    greeterDeployment = findObject(objects, "Deployment", "name-greeter-pod") as DeploymentLike;
    splitterDeployment = findObject(objects, "Deployment", "name-splitter-pod") as DeploymentLike;
    node = await startCriNode();
    await node.importImage(IMAGE_TARBALL);
    greeter = await startPod(greeterDeployment, "name-greeter-pod-a");
    splitter = await startPod(splitterDeployment, "name-splitter-pod-a", { GREETER_URL: greeter.url });
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    if (!node) return;
    await node.down();
    // Nothing left behind: no shim or task of this node, no mount under its folder.
    expect(readFileSync("/proc/self/mounts", "utf8")).not.toContain(node.dir);
    const leftovers = readdirSync("/proc")
      .filter((entry) => /^\d+$/.test(entry))
      .filter((pid) => {
        try {
          return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(node.socket);
        } catch {
          return false;
        }
      });
    expect(leftovers).toEqual([]);
  }, 60_000);

  it("answers the seed example through the shim's outgoing wasi:http", async () => {
    const response = await fetch(`${splitter.url}/split/Sherlock,Po`);
    expect(response.status).toBe(200);
    expect(await response.text()).toBe(SEED);
    expect(response.headers.get("x-served-by")).toBe("name-splitter-pod-a");
  });

  it("names the greeter pod that served each part, from POD_NAME (metadata.name)", async () => {
    const response = await fetch(`${splitter.url}/split/Sherlock,Po`, { headers: { accept: "application/json" } });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { greeting: string; parts: { name: string; servedBy: string }[]; servedBy: string };
    expect(body.greeting).toBe(SEED);
    expect(body.parts.map((part) => [part.name, part.servedBy])).toEqual([
      ["Sherlock", "name-greeter-pod-a"],
      ["Po", "name-greeter-pod-a"],
    ]);
    expect(body.servedBy).toBe("name-splitter-pod-a");
  });

  it("runs each task as the restricted profile says: uid/gid 65532, only CAP_NET_BIND_SERVICE, no_new_privs, seccomp, read-only root", async () => {
    for (const { pod } of [greeter, splitter]) {
      const pid = await node.taskPid(pod);
      const status = processStatus(pid);
      expect(status.get("Uid"), pod.name).toBe("65532\t65532\t65532\t65532");
      expect(status.get("Gid"), pod.name).toBe("65532\t65532\t65532\t65532");
      // The shim's own host code (wasmtime, hyper) runs in this process: the capabilities it
      // keeps are what an exploit of it would get.
      expect({ pod: pod.name, effective: status.get("CapEff"), permitted: status.get("CapPrm"), bounding: status.get("CapBnd") }).toEqual({
        pod: pod.name,
        effective: ONLY_NET_BIND_SERVICE,
        permitted: ONLY_NET_BIND_SERVICE,
        bounding: ONLY_NET_BIND_SERVICE,
      });
      expect(status.get("NoNewPrivs"), pod.name).toBe("1");
      expect(status.get("Seccomp"), `${pod.name}: 2 is a seccomp filter`).toBe("2");
      expect(rootMountOptions(pid), pod.name).toContain("ro");
    }
  });

  it("puts the manifest's memory and CPU limits on the task's cgroup", async () => {
    const container = (greeterDeployment as { spec: { template: { spec: { containers: { resources: { limits: Record<string, string> } }[] } } } }).spec.template.spec.containers[0]!;
    const pid = await node.taskPid(greeter.pod);
    const memoryLimit = Number(readFileSync(`${cgroupDir(pid, "memory")}/memory.limit_in_bytes`, "utf8"));
    expect(memoryLimit).toBe(parseQuantity(container.resources.limits.memory!));
    const quota = Number(readFileSync(`${cgroupDir(pid, "cpu")}/cpu.cfs_quota_us`, "utf8"));
    const period = Number(readFileSync(`${cgroupDir(pid, "cpu")}/cpu.cfs_period_us`, "utf8"));
    expect(quota / period).toBe(parseQuantity(container.resources.limits.cpu!));
  });

  it("keeps the contract's 400s, 405 and HEAD on the shim", async () => {
    const badName = await fetch(`${greeter.url}/%00Sherlock`);
    expect(badName.status).toBe(400);
    expect(await badName.text()).toMatch(/name/i);

    const badHost = await rawRequest(greeter.url, "GET /Sherlock HTTP/1.1\r\nHost: h:99999\r\nConnection: close\r\n\r\n");
    expect(badHost.status).toBe(400);
    expect(badHost.body).toMatch(/Host/);

    const post = await fetch(`${greeter.url}/Sherlock`, { method: "POST" });
    expect(post.status).toBe(405);
    expect(post.headers.get("allow")).toMatch(/GET/);

    const get = await fetch(`${greeter.url}/Sherlock`);
    const getBody = await get.text();
    const head = await fetch(`${greeter.url}/Sherlock`, { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe("");
    expect(head.headers.get("content-length")).toBe(String(Buffer.byteLength(getBody)));
  });

  it("serves an answer over 16 KiB whole (a 256-name split)", { timeout: START_TIMEOUT_MS }, async () => {
    const wide = await startPod(splitterDeployment, "name-splitter-pod-wide", {
      GREETER_URL: greeter.url,
      MAX_NAMES: "256",
      // This row is about the answer's size: 256 fresh greeter instances on a busy 2-core
      // machine may take longer than the default deadline.
      GREETER_TIMEOUT_MS: "30000",
    });
    try {
      const names = Array.from({ length: 256 }, (_, i) => `Sherlock${i}`);
      const response = await fetch(`${wide.url}/split/${names.join(",")}`, { headers: { accept: "application/json" } });
      const text = await response.text();
      expect(response.status).toBe(200);
      expect(Buffer.byteLength(text)).toBeGreaterThan(16 * 1024);
      const body = JSON.parse(text) as { parts: { greeting: string }[] };
      expect(body.parts.map((part) => part.greeting)).toEqual(names.map((name) => `Hello ${name}!`));
    } finally {
      await node.removePod(wide.pod);
    }
  });

  it("answers 500 on every route when ROLE is bad, and the task stays up", { timeout: START_TIMEOUT_MS }, async () => {
    const broken = await startPodExpecting500(greeterDeployment, "name-greeter-pod-badrole", { ROLE: "gre\u001b[31meter" });
    try {
      for (const path of ["/", "/healthz", "/readyz", "/Sherlock", "/split/Sherlock,Po"]) {
        const response = await fetch(`${broken.url}${path}`);
        expect(response.status, path).toBe(500);
        expect(await response.text(), path).toMatch(/ROLE/);
      }
      expect(await node.containerState(broken.pod)).toBe("CONTAINER_RUNNING");
    } finally {
      await node.removePod(broken.pod);
    }
  });

  it("answers 504 within the deadline when its greeter is SIGSTOPped", async () => {
    const pid = await node.taskPid(greeter.pod);
    process.kill(pid, "SIGSTOP");
    try {
      const started = performance.now();
      const response = await fetch(`${splitter.url}/split/Sherlock`);
      const elapsed = performance.now() - started;
      expect(response.status).toBe(504);
      expect(await response.text()).toMatch(/Sherlock/);
      // Not early (the deadline held), and far from a second deadline (no hidden serial wait).
      expect(elapsed).toBeGreaterThanOrEqual(DEFAULT_GREETER_TIMEOUT_MS - 50);
      expect(elapsed).toBeLessThan(DEFAULT_GREETER_TIMEOUT_MS + BUSY_MACHINE_MARGIN_MS);
    } finally {
      process.kill(pid, "SIGCONT");
    }
  });

  it("lets in-flight requests finish with their own answer when CRI stops the task (the image's StopSignal, SIGINT)", { timeout: START_TIMEOUT_MS }, async () => {
    const draining = await startPod(splitterDeployment, "name-splitter-pod-draining", { GREETER_URL: greeter.url });
    const greeterPid = await node.taskPid(greeter.pod);
    // Hold the greeter so the splits are in flight when the stop arrives.
    process.kill(greeterPid, "SIGSTOP");
    let stopping: Promise<string> | undefined;
    try {
      const inFlight = [1, 2, 3].map(() => fetch(`${draining.url}/split/Sherlock,Po`).then(async (r) => [r.status, await r.text()] as const));
      await new Promise((resolve) => setTimeout(resolve, 300));
      stopping = node.crictl(["stop", "--timeout", "30", draining.pod.containerId]);
      await new Promise((resolve) => setTimeout(resolve, 300));
      process.kill(greeterPid, "SIGCONT");
      expect(await Promise.all(inFlight)).toEqual([
        [200, SEED],
        [200, SEED],
        [200, SEED],
      ]);
      await stopping;
      expect(await node.containerState(draining.pod)).toBe("CONTAINER_EXITED");
      await expect(fetch(`${draining.url}/healthz`)).rejects.toThrow();
    } finally {
      process.kill(greeterPid, "SIGCONT");
      await stopping?.catch(() => undefined);
      await node.crictl(["rmp", "--force", draining.pod.podId]).catch(() => undefined);
    }
  });

  /** A pod whose every answer is a 500 (a config error) never passes /healthz: wait for any answer. */
  async function startPodExpecting500(deployment: DeploymentLike, podName: string, env: Record<string, string>): Promise<RunningPod> {
    const port = await freePort();
    const pod = await node.runPod(deployment, { podName, envOverrides: { WASMTIME_HTTP_PROXY_SOCKET_ADDR: `127.0.0.1:${port}`, ...env } });
    const url = `http://127.0.0.1:${port}`;
    const deadline = performance.now() + 30_000;
    for (;;) {
      try {
        await (await fetch(`${url}/healthz`)).arrayBuffer();
        return { pod, url };
      } catch (error) {
        if (performance.now() > deadline) throw error;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
  }
});
