// The local twin of the k3s topology (host/cluster.ts): its Services behave like
// kube-proxy (each request to one ready endpoint, never retried; no endpoint, no
// connection), its kubelet probes pods as the manifests declare, and its objects
// are the overlays' own (rendered with the kustomize CLI).
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, DEPLOYMENTS, GREETER_SERVICE, type LogEntry, PROBES, SPLITTER_SERVICE, startCluster } from "../host/cluster";
import { restartDelayMs, nextCrashCount, scaledProbe } from "../host/kubelet";
import { runtimeNamed } from "../host/runtimes";
import { createService, type Endpoint, type RequestRecord } from "../host/service";
import { endToEndHeaders } from "../host/proxy";
import { ROOT } from "../scripts/lib/build";
import { pollUntil } from "../scripts/lib/wait";
import { requireTools, suiteTitle, toolPath } from "./support/tools";

const jco = runtimeNamed("jco");
if (typeof jco === "string") throw new Error(jco);

/** A Node server standing for a pod: answers its port number, or never. */
async function fakePod(behaviour: "answer" | "stall"): Promise<{ server: Server; endpoint: Endpoint; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    if (behaviour === "answer") res.end(`pod on ${(server.address() as AddressInfo).port}: ${req.headers["x-hop"] ?? "no hop header"}`);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    server,
    endpoint: { pod: `fake-${port}`, host: "127.0.0.1", port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A Service on a loopback port, over `endpoints`. */
async function serviceOn(endpoints: () => Endpoint[], deadlineMs = 2_000) {
  const records: RequestRecord[] = [];
  const service = createService({ name: "svc", endpoints, onRequest: (r) => records.push(r), deadlineMs });
  const server = createServer((req, res) => service.handle("test", req, res));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    records,
    close: () =>
      new Promise<void>((resolve) => {
        service.close();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe("a Service, like kube-proxy", () => {
  it("sends each request to the next ready endpoint, once", async () => {
    const pods = [await fakePod("answer"), await fakePod("answer")];
    const svc = await serviceOn(() => pods.map((p) => p.endpoint));
    try {
      const answers = new Set<string>();
      for (let i = 0; i < 4; i++) answers.add((await (await fetch(svc.url)).text()).split(":")[0]!);
      expect(answers.size).toBe(2);
      expect(svc.records.map((r) => r.outcome)).toEqual(["200", "200", "200", "200"]);
    } finally {
      await Promise.all([svc.close(), ...pods.map((p) => p.close())]);
    }
  });

  it("never retries: a request sent to an endpoint that just died fails as a connection failure", async () => {
    const live = await fakePod("answer");
    const dead = await fakePod("answer");
    await dead.close();
    const svc = await serviceOn(() => [dead.endpoint, live.endpoint]);
    try {
      await expect(fetch(svc.url)).rejects.toThrow(); // the dead one's turn: no made-up answer, no second try
      expect(await (await fetch(svc.url)).text()).toMatch(/^pod on/);
      expect(svc.records.map((r) => [r.pod, r.outcome])).toEqual([
        [dead.endpoint.pod, "reset (ECONNREFUSED)"],
        [live.endpoint.pod, "200"],
      ]);
    } finally {
      await Promise.all([svc.close(), live.close()]);
    }
  });

  it("no ready endpoint: the connection is refused (reset), not answered", async () => {
    const svc = await serviceOn(() => []);
    try {
      await expect(fetch(svc.url)).rejects.toThrow();
      expect(svc.records.map((r) => r.outcome)).toEqual(["reset (no ready endpoints)"]);
    } finally {
      await svc.close();
    }
  });

  it("a pod that never answers: the client gets a 504 saying who, at the Service's deadline", async () => {
    const stuck = await fakePod("stall");
    const svc = await serviceOn(() => [stuck.endpoint], 300);
    try {
      const res = await fetch(svc.url, { signal: AbortSignal.timeout(10_000) });
      expect(res.status).toBe(504);
      expect(await res.text()).toBe(`svc: pod ${stuck.endpoint.pod} sent no answer within 300 ms\n`);
    } finally {
      await Promise.all([svc.close(), stuck.close()]);
    }
  });

  it("forwards end-to-end headers only (RFC 9110 7.6.1)", () => {
    expect(
      endToEndHeaders({ connection: "keep-alive, x-hop", "keep-alive": "timeout=5", "x-hop": "1", te: "trailers", accept: "application/json" }),
    ).toEqual({ accept: "application/json" });
  });
});

describe("kubelet rules", () => {
  it("probes run 10x as often as the manifests say, with the manifests' thresholds and at least 1 s to answer", () => {
    expect(scaledProbe(PROBES.readiness)).toEqual({ periodMs: 500, timeoutMs: 1_000, failureThreshold: 2 });
    expect(scaledProbe(PROBES.liveness)).toEqual({ periodMs: 1_000, timeoutMs: 1_000, failureThreshold: 3 });
    expect(scaledProbe(PROBES.startup)).toEqual({ periodMs: 200, timeoutMs: 1_000, failureThreshold: 15 });
  });

  it("restart backoff doubles per crash in a row up to its cap, and resets after a long enough run", () => {
    expect([1, 2, 3, 4, 5, 6, 1000].map((n) => restartDelayMs(n))).toEqual([250, 500, 1000, 2000, 4000, 5000, 5000]);
    expect(nextCrashCount(3, 0, 9_999)).toBe(4);
    expect(nextCrashCount(3, 0, 10_000)).toBe(1);
    expect(nextCrashCount(3, undefined, 50_000)).toBe(4);
  });
});

const kustomize = requireTools("test/cluster.test.ts", ["kustomize"], "scripts/install-tools.sh installs kustomize v5.8.2");

describe.skipIf(!kustomize.available)(suiteTitle("the twin's objects are the overlays' (kustomize build)", kustomize), () => {
  interface K8sObject {
    kind: string;
    metadata: { name: string };
    spec: Record<string, any>;
  }
  let objects: K8sObject[];
  beforeAll(() => {
    const render = (overlay: string) => {
      const result = spawnSync(toolPath(kustomize, "kustomize"), ["build", join(ROOT, "kustomize/overlays", overlay)], { encoding: "utf8" });
      if (result.status !== 0) throw new Error(`kustomize build ${overlay}: ${result.stderr}`);
      return parseAllDocuments(result.stdout).map((doc) => doc.toJSON() as K8sObject);
    };
    objects = [...render("k3s"), ...render("greeter-nodeport")];
  });
  const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name)!;

  it.each(DEPLOYMENTS.map((d) => [d.name, d]))("Deployment %s: replicas, env and probes", (name, deployment) => {
    const rendered = find("Deployment", name);
    expect(rendered.spec.replicas).toBe(deployment.replicas);
    const container = rendered.spec.template.spec.containers[0];
    const env = Object.fromEntries(
      (container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject(deployment.env);
    for (const [kind, probe] of [["startupProbe", PROBES.startup], ["readinessProbe", PROBES.readiness], ["livenessProbe", PROBES.liveness]] as const) {
      expect(container[kind], `${name} ${kind}`).toMatchObject({
        httpGet: { path: probe.path },
        periodSeconds: probe.periodSeconds,
        timeoutSeconds: probe.timeoutSeconds,
        failureThreshold: probe.failureThreshold,
      });
    }
  });

  it("Services: the greeter ClusterIP port, the splitter and greeter NodePorts", () => {
    expect(find("Service", GREETER_SERVICE.name).spec.ports[0].port).toBe(GREETER_SERVICE.port);
    expect(find("Service", SPLITTER_SERVICE.name).spec.ports[0].nodePort).toBe(SPLITTER_SERVICE.nodePort);
    const greeterNodePort = objects.find((o) => o.kind === "Service" && o.spec.type === "NodePort" && o.metadata.name !== SPLITTER_SERVICE.name)!;
    expect(greeterNodePort.spec.ports[0].nodePort).toBe(GREETER_SERVICE.nodePort);
  });
});

describe("the twin's kubelet: probes take a hung pod out of its Service, then restart it", () => {
  let cluster: Cluster;
  const log: LogEntry[] = [];
  beforeAll(async () => {
    cluster = await startCluster({ runtime: jco, splitterPort: 0, greeterPort: 0, log: (entry) => log.push(entry) });
  });
  afterAll(async () => {
    await cluster?.stop();
  });

  it("the seed example, and every hop in the request log", async () => {
    const before = log.length;
    const res = await fetch(`${cluster.splitterUrl}/split/Sherlock,Po`);
    expect(await res.text()).toBe("Hello Sherlock! and Greetings Po!");
    const hops = log.slice(before).flatMap((e) => (e.kind === "request" ? [e.record] : []));
    expect(hops.filter((r) => r.via.startsWith("ClusterIP") && r.outcome === "200")).toHaveLength(2);
    expect(hops.filter((r) => r.via.startsWith("NodePort") && r.pod === "name-splitter-pod-1")).toHaveLength(1);
  });

  it("a stalled (SIGSTOP) greeter leaves the endpoints, the splits go to the other one, and liveness restarts it", async () => {
    const victim = cluster.pod("name-greeter-pod-1");
    const oldPid = victim.pid!;
    victim.signal("SIGSTOP");
    // Readiness: failureThreshold 2 at a 0.5 s period, each probe waiting up to 1 s.
    expect(await pollUntil(() => !victim.isReady, 10_000)).toBe(true);
    const served = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const res = await fetch(`${cluster.splitterUrl}/split/Sam,Po`, { headers: { accept: "application/json" } });
      expect(res.status).toBe(200);
      for (const part of ((await res.json()) as { parts: { servedBy: string }[] }).parts) served.add(part.servedBy);
    }
    expect([...served]).toEqual(["name-greeter-pod-2"]);
    // Liveness: failureThreshold 3 at 1 s, then SIGTERM and SIGKILL after the scaled grace period.
    expect(await pollUntil(() => victim.restarts === 1 && victim.isReady, 20_000)).toBe(true);
    expect(victim.pid).not.toBe(oldPid);
    const events = log.flatMap((e) => (e.kind === "pod" && e.pod === victim.name ? [e.message] : []));
    expect(events.some((m) => m.startsWith("readiness probe failed 2 times"))).toBe(true);
    expect(events.some((m) => m.startsWith("liveness probe failed 3 times: killing it"))).toBe(true);
  }, 40_000);
});
