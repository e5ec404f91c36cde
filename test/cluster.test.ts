// The local twin of the k3s topology (host/cluster.ts): its Services behave like
// kube-proxy (each request to one ready endpoint, never retried; no endpoint, no
// connection), its kubelet probes pods as the manifests declare, and its objects
// are the overlays' own (rendered with the kustomize CLI).
import { spawnSync } from "node:child_process";
import { createServer, type Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, DEPLOYMENTS, GREETER_SERVICE, type LogEntry, PROBES, SPLITTER_SERVICE, startCluster } from "../host/cluster";
import { restartDelayMs, nextCrashCount, scaledProbe } from "../host/kubelet";
import { requireRuntime } from "../host/runtimes";
import { createService, type Endpoint, type RequestRecord, serviceDoor } from "../host/service";
import { endToEndHeaders } from "../host/proxy";
import { ROOT } from "../lib/build";
import { pollUntil } from "../lib/wait";
import { rawRequest } from "./support/raw-http";
import { BUSY_MACHINE_MARGIN_MS, requireTools, suiteTitle, toolPath } from "./support/tools";

const jco = requireRuntime("jco");

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
    server,
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

  it("no ready endpoint: its door refuses connections (ECONNREFUSED, as kube-proxy's REJECT), and accepts again once one is ready", async () => {
    const pod = await fakePod("answer");
    let endpoints: Endpoint[] = [];
    const svc = await serviceOn(() => endpoints);
    const { port } = new URL(svc.url);
    const door = serviceDoor(svc.server, "127.0.0.1", Number(port), () => endpoints.length > 0, (error) => {
      throw error;
    });
    const refusal = () => fetch(svc.url).then(() => "answered", (error: Error) => (error.cause as { code?: string } | undefined)?.code);
    try {
      door.sync();
      expect(await refusal()).toBe("ECONNREFUSED");
      endpoints = [pod.endpoint];
      door.sync();
      expect(await (await fetch(svc.url)).text()).toMatch(/^pod on/);
      endpoints = [];
      door.sync();
      expect(await refusal()).toBe("ECONNREFUSED");
      // Nothing reached the Service while the door was closed: the one record is the answered request.
      expect(svc.records.map((r) => r.outcome)).toEqual(["200"]);
    } finally {
      door.shut();
      await Promise.all([svc.close(), pod.close()]);
    }
  });

  it("a request on a connection opened while there was an endpoint fails as a connection failure, not with an answer", async () => {
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

  // The README's topology names the two Deployments; iterating DEPLOYMENTS itself would lose a case silently.
  it.each(["name-greeter-pod", "name-splitter-pod"])("Deployment %s: replicas, env, probes and termination grace", (name) => {
    const deployment = DEPLOYMENTS.find((d) => d.name === name);
    expect(deployment, `the twin has no Deployment ${name}`).toBeDefined();
    if (!deployment) return;
    const rendered = find("Deployment", name);
    expect(rendered.spec.replicas).toBe(deployment.replicas);
    expect(rendered.spec.template.spec.terminationGracePeriodSeconds).toBe(deployment.terminationGracePeriodSeconds);
    const container = rendered.spec.template.spec.containers[0];
    const env = Object.fromEntries(
      (container.env as { name: string; value?: string }[]).filter((e) => e.value !== undefined).map((e) => [e.name, e.value]),
    );
    expect(env).toMatchObject(deployment.env);
    for (const [kind, probe] of [["startupProbe", deployment.probes.startup], ["readinessProbe", deployment.probes.readiness], ["livenessProbe", deployment.probes.liveness]] as const) {
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
  /** When each log entry came (performance.now()), by its index in `log`. */
  const loggedAt: number[] = [];
  const eventsOf = (pod: string, since = 0) =>
    log.flatMap((e, i) => (i >= since && e.kind === "pod" && e.pod === pod ? [{ message: e.message, at: loggedAt[i]! }] : []));
  beforeAll(async () => {
    // The real defaults: the manifests' probes, the kubelet's backoff, the connection limits.
    cluster = await startCluster({
      runtime: jco,
      splitterPort: 0,
      greeterPort: 0,
      log: (entry) => {
        log.push(entry);
        loggedAt.push(performance.now());
      },
    });
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

  it("a stalled (SIGSTOP) greeter leaves the endpoints in 2-3 s, the splits go to the other one, and liveness kills it in 5-6 s and restarts it", async () => {
    const victim = cluster.pod("name-greeter-pod-1");
    const other = cluster.pod("name-greeter-pod-2");
    expect(await pollUntil(() => victim.isReady && other.isReady, 20_000)).toBe(true);
    const oldPid = victim.pid!;
    const restartsBefore = victim.restarts;
    const since = log.length;
    const stoppedAt = performance.now();
    victim.signal("SIGSTOP");
    try {
      // Readiness: failureThreshold 2, a 0.5 s period, each probe failing at its 1 s timeout. The
      // probe in flight at the stop fails 1 s after it was sent, the next one 0.5 + 1 s later:
      // out after 2.5 s (a probe sent up to 0.5 s before the stop and not yet answered on a busy
      // machine: 2 s) and at most 0.5 + 1 + 0.5 + 1 = 3 s.
      expect(await pollUntil(() => !victim.isReady, 10_000, 10)).toBe(true);
      const outMs = performance.now() - stoppedAt;
      expect(outMs).toBeGreaterThanOrEqual(2_000);
      expect(outMs).toBeLessThan(3_000 + BUSY_MACHINE_MARGIN_MS);
      const served = new Set<string>();
      for (let i = 0; i < 4; i++) {
        const res = await fetch(`${cluster.splitterUrl}/split/Sam,Po`, { headers: { accept: "application/json" } });
        expect(res.status).toBe(200);
        for (const part of ((await res.json()) as { parts: { servedBy: string }[] }).parts) served.add(part.servedBy);
      }
      expect([...served]).toEqual(["name-greeter-pod-2"]);
      // Liveness: failureThreshold 3, a 1 s period, each probe failing at its 1 s timeout. The
      // first failure comes 1 to 2 s after the stop, each next one 1 + 1 s later: killed after
      // 5 to 6 s (4.5 s for a probe sent up to 0.5 s before the stop and not yet answered).
      const killing = () => eventsOf(victim.name, since).find((e) => e.message.startsWith("liveness probe failed"));
      expect(await pollUntil(() => killing() !== undefined, 15_000, 10), JSON.stringify(eventsOf(victim.name, since))).toBe(true);
      expect(killing()!.message).toBe("liveness probe failed 3 times: killing it");
      const killedMs = killing()!.at - stoppedAt;
      expect(killedMs).toBeGreaterThanOrEqual(4_500);
      expect(killedMs).toBeLessThan(6_000 + BUSY_MACHINE_MARGIN_MS);
      // Then SIGTERM, SIGKILL after the scaled grace period (or, on jco, the pod's drain plus 1 s), and a restart after the backoff.
      expect(await pollUntil(() => victim.restarts === restartsBefore + 1 && victim.isReady, 20_000)).toBe(true);
    } finally {
      victim.signal("SIGCONT");
    }
    expect(victim.pid).not.toBe(oldPid);
    const events = eventsOf(victim.name, since).map((e) => e.message);
    expect(events.some((m) => m.startsWith("readiness probe failed 2 times"))).toBe(true);
  }, 40_000);

  it("restart backoff, live: a pod that dies again as soon as it is up is restarted after 250, then 500, then 1000 ms", async () => {
    // README: "a doubling backoff (250 ms up to 5 s)". Each kill comes while the pod has been up
    // far less than the backoff's reset time, so the crashes count in a row.
    const pod = cluster.pod("name-greeter-pod-2");
    const restartsBefore = pod.restarts;
    const gaps: number[] = [];
    for (let crash = 0; crash < 3; crash++) {
      expect(await pollUntil(() => pod.isReady, 20_000, 10)).toBe(true);
      const oldPid = pod.pid!;
      const killedAt = performance.now();
      pod.signal("SIGKILL");
      // The kubelet spawns the new process when the backoff is over.
      expect(await pollUntil(() => pod.pid !== undefined && pod.pid !== oldPid, 10_000, 5)).toBe(true);
      gaps.push(performance.now() - killedAt);
    }
    expect(await pollUntil(() => pod.isReady, 20_000, 10)).toBe(true);
    expect(pod.restarts).toBe(restartsBefore + 3);
    // Never before the delay; late by no more than a busy machine's margin (the exit to notice, a spawn).
    [250, 500, 1_000].forEach((delay, i) => {
      expect(gaps[i], `restart #${i + 1} after ${Math.round(gaps[i]!)} ms`).toBeGreaterThanOrEqual(delay);
      expect(gaps[i], `restart #${i + 1} after ${Math.round(gaps[i]!)} ms`).toBeLessThan(delay + BUSY_MACHINE_MARGIN_MS);
    });
  }, 40_000);

  it("a request body that stalls is cut through the NodePort at the pod front's 5 s: its 408, then a closed connection", async () => {
    // README: a jco pod's front reads each request body "within 5 s of the head (408 after that)",
    // and the connection is closed after such an answer, at the Service too.
    const { hostname, port } = new URL(cluster.splitterUrl);
    const socket = connect(Number(port), hostname);
    socket.on("error", () => {});
    const chunks: Buffer[] = [];
    socket.on("data", (chunk: Buffer) => chunks.push(chunk));
    const closed = new Promise<number>((resolve) => socket.once("close", () => resolve(performance.now())));
    const giveUp = setTimeout(() => socket.destroy(), 20_000);
    const sentAt = performance.now();
    socket.write("POST /split/Sam HTTP/1.1\r\nHost: twin\r\nContent-Length: 1000\r\n\r\n");
    // One byte every 200 ms: never silent long enough for any other limit, never done.
    const trickle = setInterval(() => socket.writable && socket.write("x"), 200);
    const closedAt = await closed;
    clearInterval(trickle);
    clearTimeout(giveUp);
    const [head = "", body = ""] = Buffer.concat(chunks).toString("latin1").split("\r\n\r\n");
    expect(head).toMatch(/^HTTP\/1\.1 408 /);
    expect(head.toLowerCase()).toContain("x-twin-answer: pod-front");
    expect(body).toMatch(/^pod: the request body did not arrive within 5000 ms \(\d+ bytes came\); send it at once\n$/);
    expect(closedAt - sentAt).toBeGreaterThanOrEqual(5_000);
    expect(closedAt - sentAt).toBeLessThan(5_000 + BUSY_MACHINE_MARGIN_MS);
  });

  it("a request head of 16 KiB is served through the NodePort; a larger one gets the twin's 431 and a closed connection", async () => {
    // A whole head (request line, headers, blank line) of `bytes` bytes.
    const head = (bytes: number) => {
      const bare = `GET /split/Sherlock,Po HTTP/1.1\r\nHost: twin\r\nConnection: close\r\nX-Pad: \r\n\r\n`;
      return bare.replace("X-Pad: ", `X-Pad: ${"a".repeat(bytes - bare.length)}`);
    };
    expect(head(16 * 1024)).toHaveLength(16 * 1024);
    const fits = await rawRequest(cluster.splitterUrl, head(16 * 1024));
    expect([fits.status, fits.body]).toEqual([200, "Hello Sherlock! and Greetings Po!"]);
    // Node's parser counts a little less than the whole head, so the refusal is tested 1 KiB above.
    const tooLarge = await rawRequest(cluster.splitterUrl, head(17 * 1024));
    expect(tooLarge.status).toBe(431);
    expect(tooLarge.head.toLowerCase()).toContain("x-twin-answer: service");
    expect(tooLarge.body).toBe("service: the request head is too large\n");
  });
});
