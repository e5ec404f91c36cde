// scripts/k3s-e2e.sh and scripts/image/import-k3s.sh against stand-in `k3s`/`kubectl`/`ctr`
// executables acting out the node situations a user meets (test/support/k3s-standins.ts): a
// healthy node, a node whose containerd has no wasmtime runtime (or one of the wrong type), no
// RuntimeClass, two nodes, a dual-stack node, an IPv6-first cluster, a rebuilt image under the
// same tag, a rollout that never finishes, CoreDNS not ready, a splitter whose first answers
// fail or whose answers are skewed. The scripts run for real (bash, curl, node, the real
// kustomize), only the cluster is acted out; the splitter's NodePort is a small HTTP server in
// this process that answers as the real one can (greeter pods picked at random per part, as
// kube-proxy does; 502 while the greeters' name does not resolve). Both scripts must also be
// shellcheck-clean.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultImageRef } from "../scripts/image/project";
import { IMAGE_TARBALL, ROOT } from "../lib/build";
import { parseObjects } from "./support/kube-render";
import { createStandIns, type Scenario, type StandInRun, type StandIns } from "./support/k3s-standins";
import { requireTools, suiteTitle, toolPath } from "./support/tools";

const E2E = join(ROOT, "scripts/k3s-e2e.sh");
const IMPORT = join(ROOT, "scripts/image/import-k3s.sh");
const REF = defaultImageRef(ROOT).full;
const DIGEST_A = `sha256:${"a".repeat(64)}`;
const DIGEST_B = `sha256:${"b".repeat(64)}`;
const GREETERS = ["name-greeter-pod-7d9c-abcde", "name-greeter-pod-7d9c-fghij"];

const kustomizeTools = requireTools("test/k3s-scripts.test.ts", ["kustomize"], "scripts/install-tools.sh installs kustomize");
const shellcheckTools = requireTools("test/k3s-scripts.test.ts (shellcheck)", ["shellcheck"], "apt-get install shellcheck");

/** k3s's rendered containerd config: v2 (containerd 1.7) and v3 (2.x) spellings of the runtime table. */
const CONFIG_V2_WITH_WASMTIME = `version = 2
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
  runtime_type = "io.containerd.runc.v2"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."wasmtime"]
  runtime_type = "io.containerd.wasmtime.v1"
[plugins."io.containerd.grpc.v1.cri".containerd.runtimes."wasmtime".options]
  BinaryName = "/usr/local/bin/containerd-shim-wasmtime-v1"
`;
const CONFIG_V3_WITH_WASMTIME = `version = 3
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'runc']
  runtime_type = "io.containerd.runc.v2"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'wasmtime']
  runtime_type = "io.containerd.wasmtime.v1"
`;
const CONFIG_WITHOUT_WASMTIME = `version = 3
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'runc']
  runtime_type = "io.containerd.runc.v2"
[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'crun']
  runtime_type = "io.containerd.runc.v2"
  # BinaryName of another runtime may mention wasmtime: /opt/wasmtime/bin/crun
`;

interface SplitterBehaviour {
  /** The first this many requests get the 502 the splitter gives while the greeters' Service name does not resolve. */
  failFirst?: number;
  /** The greeter pods a part can come from, one picked at random per part (kube-proxy's choice). */
  greeters?: readonly string[];
  /** The plain-text answer (default: the seed's). */
  text?: string;
  /** The JSON answer with this number (1-based) is a 502. */
  jsonFailsAt?: number;
}

const SEED_ANSWER = "Hello Sherlock! and Greetings Po!";
const DNS_FAILURE = 'could not greet "Sherlock": name-greeter-pod-service: failed to resolve (DNS error); could not greet "Po": name-greeter-pod-service: failed to resolve (DNS error)';

/** The splitter behind the NodePort: the seed answer, and JSON naming the greeter pod of each part. */
async function startFakeSplitter(host: string, behaviour: SplitterBehaviour = {}): Promise<{ port: number; requests: () => number; close: () => Promise<void> }> {
  let requests = 0;
  let jsonRequests = 0;
  const greeters = behaviour.greeters ?? GREETERS;
  const server: Server = createServer((request, response) => {
    if (request.url !== "/split/Sherlock,Po") {
      response.writeHead(404).end("not found");
      return;
    }
    requests++;
    const json = request.headers.accept === "application/json";
    if (json) jsonRequests++;
    if (requests <= (behaviour.failFirst ?? 0) || (json && jsonRequests === behaviour.jsonFailsAt)) {
      if (json) response.writeHead(502, { "content-type": "application/json" }).end(JSON.stringify({ error: DNS_FAILURE, status: 502 }));
      else response.writeHead(502, { "content-type": "text/plain; charset=utf-8" }).end(DNS_FAILURE);
      return;
    }
    if (json) {
      const parts = ["Sherlock", "Po"].map((name) => ({ name, servedBy: greeters[Math.floor(Math.random() * greeters.length)] }));
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ greeting: "...", parts }));
      return;
    }
    response.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end(behaviour.text ?? SEED_ANSWER);
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
    requests: () => requests,
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
}

function deploymentsIn(applied: string): IDeployment[] {
  return parseObjects(applied, "applied").filter((object) => object.kind === "Deployment") as unknown as IDeployment[];
}

const output = (run: StandInRun) => `${run.stdout}\n${run.stderr}`;

// Concurrent: each case is a separate script run in its own temp state, mostly waiting on processes.
describe.skipIf(!kustomizeTools.available)(suiteTitle("scripts/k3s-e2e.sh on stand-in nodes", kustomizeTools), { concurrent: true }, () => {
  let dir: string;
  let v4: Awaited<ReturnType<typeof startFakeSplitter>>;
  let v6: Awaited<ReturnType<typeof startFakeSplitter>>;
  const standIns: StandIns[] = [];
  const configs: Record<string, string> = {};

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "wp-e2e-"));
    for (const [name, text] of Object.entries({ v2: CONFIG_V2_WITH_WASMTIME, v3: CONFIG_V3_WITH_WASMTIME, none: CONFIG_WITHOUT_WASMTIME })) {
      configs[name] = join(dir, `${name}.toml`);
      writeFileSync(configs[name]!, text);
    }
    v4 = await startFakeSplitter("127.0.0.1");
    v6 = await startFakeSplitter("::1");
  });
  afterAll(async () => {
    await v4?.close();
    await v6?.close();
    for (const standIn of standIns) standIn.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  function node(overrides: Partial<Scenario> = {}): StandIns {
    const scenario: Scenario = {
      ref: REF,
      k3sVersion: "v1.32.3+k3s1",
      containerdVersion: "v2.0.4-k3s2",
      nodes: [{ name: "node-a", internalIPs: ["127.0.0.1"] }],
      nodePort: v4.port,
      greeterPods: GREETERS,
      importDigest: DIGEST_A,
      ...overrides,
    };
    const standIn = createStandIns(scenario, toolPath(kustomizeTools, "kustomize"));
    standIns.push(standIn);
    return standIn;
  }
  const e2e = (standIn: StandIns, env: NodeJS.ProcessEnv = {}, args = ["--no-build"]) =>
    standIn.run(E2E, args, { K3S_CONTAINERD_CONFIG: configs.v3, REQUESTS: "20", ROLLOUT_TIMEOUT: "5s", FIRST_ANSWER_TIMEOUT: "4", ...env });

  it("a healthy node: PASS; the pods carry the imported digest and are pinned to the node; import used --local on containerd 2", async () => {
    const run = await e2e(node({ nodes: [{ name: "node-a", hostnameLabel: "node-a.lan", internalIPs: ["127.0.0.1"] }] }));
    expect(run.status, output(run)).toBe(0);
    expect(run.stdout).toMatch(/^PASS: 'Hello Sherlock! and Greetings Po!' from NodePort \d+; both greeter pods served requests/m);
    expect(run.calls).toContain("ctr -n k8s.io images import --all-platforms --local dist/wasm-pods.oci.tar");
    expect(run.applied).toHaveLength(1);
    const deployments = deploymentsIn(run.applied[0]!);
    expect(deployments.map((deployment) => deployment.metadata?.name).sort()).toEqual(["name-greeter-pod", "name-splitter-pod"]);
    for (const deployment of deployments) {
      const template = deployment.spec!.template;
      expect(template.metadata?.annotations?.["wasm-pods/image-digest"]).toBe(DIGEST_A);
      expect(template.spec?.nodeSelector).toEqual({ "kubernetes.io/hostname": "node-a.lan" });
      expect(template.spec?.containers[0]?.image).toBe(REF);
      expect(template.spec?.runtimeClassName).toBe("wasmtime");
    }
  }, 120_000);

  it("the v2 config spelling (containerd 1.7) counts too, and containerd 1.7 imports without --local", async () => {
    const run = await e2e(node({ k3sVersion: "v1.30.4+k3s1", containerdVersion: "v1.7.20-k3s1" }), { K3S_CONTAINERD_CONFIG: configs.v2 });
    expect(run.status, output(run)).toBe(0);
    expect(run.calls).toContain("ctr -n k8s.io images import --all-platforms dist/wasm-pods.oci.tar");
  }, 120_000);

  it("a node whose containerd has no wasmtime runtime: stops before building or deploying, saying to restart k3s", async () => {
    const run = await e2e(node(), { K3S_CONTAINERD_CONFIG: configs.none });
    expect(run.status, output(run)).toBe(2);
    expect(run.stderr).toContain(`k3s's containerd has no 'wasmtime' runtime (${configs.none})`);
    expect(run.stderr).toContain(`no runtime for "wasmtime" is configured`);
    expect(run.stderr).toContain("restart k3s");
    expect(run.calls.filter((call) => / import | apply /.test(call))).toEqual([]);
  }, 120_000);

  it("two nodes, none named like this host: stops at once, asking for NODE_NAME", async () => {
    const run = await e2e(node({ nodes: [{ name: "node-a", internalIPs: ["127.0.0.2"] }, { name: "node-b", internalIPs: ["127.0.0.1"] }] }));
    expect(run.status, output(run)).toBe(2);
    expect(run.stderr).toContain("this cluster has 2 nodes (node-a, node-b)");
    expect(run.stderr).toContain("set NODE_NAME");
    expect(run.calls.filter((call) => / import | apply /.test(call))).toEqual([]);
  }, 120_000);

  it("two nodes: pins the pods to this host's node, or to NODE_NAME, and calls that node's address", async () => {
    const nodes = [
      { name: hostname().toLowerCase(), internalIPs: ["127.0.0.3"] },
      { name: "node-b", hostnameLabel: "node-b-label", internalIPs: ["127.0.0.1"] },
    ];
    const byHost = await e2e(node({ nodes }));
    // It found the node; nothing listens on 127.0.0.3, so every try fails, and the last one is named.
    expect(byHost.status, output(byHost)).toBe(1);
    expect(byHost.stdout).toMatch(
      new RegExp(`FAIL: no 'Hello Sherlock! and Greetings Po!' from http://127\\.0\\.0\\.3:${v4.port}/split/Sherlock,Po within 4s \\(\\d+ tries\\); the last answer was: curl: \\(7\\)`),
    );
    expect(deploymentsIn(byHost.applied[0]!)[0]!.spec!.template.spec?.nodeSelector).toEqual({
      "kubernetes.io/hostname": hostname().toLowerCase(),
    });
    expect(byHost.stdout).toContain(`GET http://127.0.0.3:${v4.port}/split/Sherlock,Po`);

    const named = await e2e(node({ nodes }), { NODE_NAME: "node-b" });
    expect(named.status, output(named)).toBe(0);
    expect(deploymentsIn(named.applied[0]!)[0]!.spec!.template.spec?.nodeSelector).toEqual({ "kubernetes.io/hostname": "node-b-label" });
  }, 180_000);

  it("a dual-stack node, IPv4 first: calls the node's IPv4 address", async () => {
    const nodes = [{ name: "node-a", internalIPs: ["::1", "127.0.0.1"] }];
    const ipv4 = await e2e(node({ nodes, serviceIpFamily: "IPv4", nodePort: v4.port }));
    expect(ipv4.status, output(ipv4)).toBe(0);
    expect(ipv4.stdout).toContain(`GET http://127.0.0.1:${v4.port}/split/Sherlock,Po`);
  }, 120_000);

  it("an IPv6-first cluster with the shipped manifests (the shim on 0.0.0.0:8080, IPv4 only): FAIL before waiting for pods that could never be Ready", async () => {
    const nodes = [{ name: "node-a", internalIPs: ["::1", "127.0.0.1"] }];
    const run = await e2e(node({ nodes, serviceIpFamily: "IPv6", nodePort: v6.port }));
    expect(run.status, output(run)).toBe(1);
    expect(run.stdout).toContain("FAIL: this cluster gives Services (and pods) IPv6 first");
    expect(run.stdout).toContain("name-greeter-pod 0.0.0.0:8080; name-splitter-pod 0.0.0.0:8080");
    expect(run.stdout).toContain("Set WASMTIME_HTTP_PROXY_SOCKET_ADDR to [::]:8080");
    expect(run.calls.filter((call) => call.includes("rollout status"))).toEqual([]);
  }, 120_000);

  describe("with kustomize/components/ipv6 in the k3s overlay (the shim on [::]:8080, for IPv6-first clusters)", () => {
    let checkout: string;
    beforeAll(() => {
      // This checkout's scripts, image and tools, with that component in the k3s overlay.
      checkout = mkdtempSync(join(tmpdir(), "wp-v6-checkout-"));
      mkdirSync(join(checkout, "scripts"));
      cpSync(E2E, join(checkout, "scripts/k3s-e2e.sh"));
      // Copied, not linked: build-image.ts runs as a CLI only when invoked by its own path.
      for (const copied of ["scripts/image", "lib", "package.json"]) cpSync(join(ROOT, copied), join(checkout, copied), { recursive: true });
      for (const shared of ["node_modules", "dist"]) symlinkSync(join(ROOT, shared), join(checkout, shared));
      // kustomize/components/ipv6 is shipped; this checkout's k3s overlay takes it in.
      cpSync(join(ROOT, "kustomize"), join(checkout, "kustomize"), { recursive: true });
      const overlay = join(checkout, "kustomize/overlays/k3s/kustomization.yaml");
      const text = readFileSync(overlay, "utf8");
      expect(text).toContain("  - ../../components/restricted\n");
      writeFileSync(overlay, text.replace("  - ../../components/restricted\n", "  - ../../components/restricted\n  - ../../components/ipv6\n"));
    });
    afterAll(() => rmSync(checkout, { recursive: true, force: true }));

    it("an IPv6-first dual-stack node: PASS, calling the node's IPv6 address in brackets", async () => {
      const nodes = [{ name: "node-a", internalIPs: ["::1", "127.0.0.1"] }];
      const standIn = node({ nodes, serviceIpFamily: "IPv6", nodePort: v6.port });
      const run = await standIn.run(join(checkout, "scripts/k3s-e2e.sh"), ["--no-build"], { K3S_CONTAINERD_CONFIG: configs.v3, REQUESTS: "20", ROLLOUT_TIMEOUT: "5s", FIRST_ANSWER_TIMEOUT: "4" });
      expect(run.status, output(run)).toBe(0);
      expect(run.stdout).toContain(`GET http://[::1]:${v6.port}/split/Sherlock,Po`);
      for (const deployment of deploymentsIn(run.applied[0]!)) {
        const env = deployment.spec!.template.spec!.containers[0]!.env!;
        expect(env.filter((variable) => variable.name === "WASMTIME_HTTP_PROXY_SOCKET_ADDR")).toEqual([{ name: "WASMTIME_HTTP_PROXY_SOCKET_ADDR", value: "[::]:8080" }]);
        expect(env.map((variable) => variable.name)).toContain("ROLE"); // merged by name: the rest of env stays
      }
    }, 120_000);
  });

  it("a rebuilt image under the same tag changes the pod template, so the Deployments roll", async () => {
    const standIn = node({ importDigest: DIGEST_A });
    const first = await e2e(standIn);
    expect(first.status, output(first)).toBe(0);
    standIn.setScenario({ ref: REF, k3sVersion: "v1.32.3+k3s1", containerdVersion: "v2.0.4-k3s2", nodes: [{ name: "node-a", internalIPs: ["127.0.0.1"] }], nodePort: v4.port, greeterPods: GREETERS, importDigest: DIGEST_B });
    const second = await e2e(standIn);
    expect(second.status, output(second)).toBe(0);
    expect(second.stdout).toContain(`replaced ${DIGEST_A}`);
    const before = deploymentsIn(first.applied[0]!);
    const after = deploymentsIn(second.applied[0]!);
    for (const [index, deployment] of after.entries()) {
      expect(deployment.spec!.template.metadata?.annotations?.["wasm-pods/image-digest"]).toBe(DIGEST_B);
      // Only the digest differs: same tag, so without it `kubectl apply` would change nothing.
      const template = (d: IDeployment) => JSON.stringify({ ...d.spec!.template, metadata: { ...d.spec!.template.metadata, annotations: {} } });
      expect(template(deployment)).toBe(template(before[index]!));
      expect(deployment.spec!.template).not.toEqual(before[index]!.spec!.template);
    }
  }, 180_000);

  it("a rollout that never finishes: FAIL, with the pods' events", async () => {
    const run = await e2e(node({ rolloutFails: true, podEvents: ['Warning  FailedCreatePodSandBox  1m  kubelet  no runtime for "wasmtime" is configured'] }));
    expect(run.status, output(run)).toBe(1);
    expect(run.stdout).toContain("FAIL: deployment/name-greeter-pod did not roll out within 5s");
    expect(run.stdout).toContain(`Name:         ${GREETERS[0]}`);
    expect(run.stdout).toContain('no runtime for "wasmtime" is configured');
  }, 120_000);

  it("only live greeter pods count: a terminating one that answers nothing does not fail the check", async () => {
    const run = await e2e(node({ terminatingPods: ["name-greeter-pod-old-zzzzz"] }));
    expect(run.status, output(run)).toBe(0);
    expect(run.stdout).toContain(`greeter pods running: ${[...GREETERS].sort().join(" ")}`);
  }, 120_000);

  it("a stopping greeter of the old ReplicaSet that still answers (its preStop sleep) does not fail the check; every running one must answer", async () => {
    const old = "name-greeter-pod-old-zzzzz";
    const splitter = await startFakeSplitter("127.0.0.1", { greeters: [...GREETERS, old] });
    try {
      const run = await e2e(node({ nodePort: splitter.port, terminatingPods: [old] }));
      expect(run.status, output(run)).toBe(0);
      expect(run.stdout).toContain(`greeter pods stopping: ${old}`);
      expect(run.stdout).toMatch(new RegExp(`greeters that answered \\(parts\\[\\]\\.servedBy\\): .*${old}`));
    } finally {
      await splitter.close();
    }
  }, 120_000);

  it("no wasmtime RuntimeClass: stops before importing or deploying, saying to restart k3s", async () => {
    const run = await e2e(node({ noRuntimeClass: true }));
    expect(run.status, output(run)).toBe(2);
    expect(run.stderr).toContain("RuntimeClass 'wasmtime' not found");
    expect(run.stderr).toContain("restart k3s");
    expect(run.calls.filter((call) => / import | apply /.test(call))).toEqual([]);
  }, 120_000);

  it.each([
    ["another runtime_type", "  runtime_type = \"io.containerd.runc.v2\"\n", "'io.containerd.runc.v2'"],
    ["no runtime_type in its table (only in the next one)", "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'wasmtime'.options]\n  runtime_type = \"io.containerd.wasmtime.v1\"\n", "'(none)'"],
  ])("a wasmtime runtime table with %s: stops, naming the type and the template to fix", async (_what, body, shown) => {
    const config = join(dir, `wrong-type-${shown.length}.toml`);
    writeFileSync(config, `version = 3\n[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.'wasmtime']\n${body}`);
    const run = await e2e(node(), { K3S_CONTAINERD_CONFIG: config });
    expect(run.status, output(run)).toBe(2);
    expect(run.stderr).toContain(`with runtime_type ${shown}, not 'io.containerd.wasmtime.v1'`);
    expect(run.stderr).toContain("config-v3.toml.tmpl");
    expect(run.calls.filter((call) => / import | apply /.test(call))).toEqual([]);
  }, 120_000);

  it("waits for CoreDNS before the first request", async () => {
    const run = await e2e(node());
    expect(run.status, output(run)).toBe(0);
    const coredns = run.calls.indexOf("kubectl -n kube-system rollout status deployment/coredns --timeout=5s");
    const rollouts = run.calls.flatMap((call, index) => (call.startsWith("kubectl rollout status deployment/name-") ? [index] : []));
    expect(rollouts).toHaveLength(2);
    expect(coredns).toBeGreaterThan(Math.max(...rollouts));
    expect(run.stdout.indexOf("waiting for CoreDNS")).toBeLessThan(run.stdout.indexOf("==> GET "));
  }, 120_000);

  it("CoreDNS never becomes available: FAIL, saying the splitter cannot resolve the greeters", async () => {
    const run = await e2e(node({ coredns: "stuck" }));
    expect(run.status, output(run)).toBe(1);
    expect(run.stdout).toContain("coredns-7b98449c4-x2x9q 0/1 CrashLoopBackOff");
    expect(run.stdout).toContain("FAIL: CoreDNS (kube-system/deployment/coredns) did not become available within 5s");
  }, 120_000);

  it("no CoreDNS Deployment (another DNS): says so and goes on", async () => {
    const run = await e2e(node({ coredns: "missing" }));
    expect(run.status, output(run)).toBe(0);
    expect(run.stdout).toContain("no kube-system/coredns Deployment");
  }, 120_000);

  it("the splitter's first answers fail (its DNS lookup, just after the start): retries, then PASS", async () => {
    const splitter = await startFakeSplitter("127.0.0.1", { failFirst: 2 });
    try {
      const run = await e2e(node({ nodePort: splitter.port }), { FIRST_ANSWER_TIMEOUT: "30" });
      expect(run.status, output(run)).toBe(0);
      expect(run.stdout).toContain(`not yet (HTTP 502: ${DNS_FAILURE}); retrying`);
      expect(run.stdout).toContain("got: Hello Sherlock! and Greetings Po!");
    } finally {
      await splitter.close();
    }
  }, 120_000);

  it("the splitter never gives the seed answer: FAIL after the window, with the last answer and the pods' events", async () => {
    const splitter = await startFakeSplitter("127.0.0.1", { failFirst: 1_000 });
    try {
      const run = await e2e(node({ nodePort: splitter.port, podEvents: ["Warning  Unhealthy  1m  kubelet  Readiness probe failed"] }), { FIRST_ANSWER_TIMEOUT: "3" });
      expect(run.status, output(run)).toBe(1);
      expect(splitter.requests()).toBeGreaterThan(1);
      expect(run.stdout).toMatch(/FAIL: no 'Hello Sherlock! and Greetings Po!' from http:\/\/127\.0\.0\.1:\d+\/split\/Sherlock,Po within 3s \(\d+ tries\); the last answer was: HTTP 502: could not greet "Sherlock"/);
      expect(run.stdout).toContain(`Name:         ${GREETERS[0]}`);
      expect(run.stdout).toContain("Readiness probe failed");
      expect(run.stdout.indexOf("Readiness probe failed")).toBeLessThan(run.stdout.indexOf("FAIL:"));
    } finally {
      await splitter.close();
    }
  }, 120_000);

  it("a wrong answer: FAIL, quoting it", async () => {
    const splitter = await startFakeSplitter("127.0.0.1", { text: "Hello Sherlock!" });
    try {
      const run = await e2e(node({ nodePort: splitter.port }), { FIRST_ANSWER_TIMEOUT: "1" });
      expect(run.status, output(run)).toBe(1);
      expect(run.stdout).toMatch(/the last answer was: HTTP 200: Hello Sherlock!$/m);
    } finally {
      await splitter.close();
    }
  }, 120_000);

  it.each([
    ["only one greeter pod answers", { greeters: [GREETERS[0]!] }, "FAIL: not every greeter pod answered, or an unknown one did"],
    ["a pod that is not a live greeter answers too", { greeters: [...GREETERS, "name-greeter-pod-old-zzzzz"] }, "FAIL: not every greeter pod answered, or an unknown one did"],
    ["one JSON answer is a 502", { jsonFailsAt: 7 }, `FAIL: JSON request 7: HTTP 502: {"error":"could not greet`],
  ])("skewed answers: %s: FAIL", async (_what, behaviour, message) => {
    const splitter = await startFakeSplitter("127.0.0.1", behaviour);
    try {
      const run = await e2e(node({ nodePort: splitter.port }));
      expect(run.status, output(run)).toBe(1);
      expect(run.stdout).toContain(message);
    } finally {
      await splitter.close();
    }
  }, 120_000);

  describe("--cleanup", () => {
    let checkout: string;
    beforeAll(() => {
      // A fresh checkout: the script and the manifests, no node_modules, no dist/.
      checkout = mkdtempSync(join(tmpdir(), "wp-checkout-"));
      mkdirSync(join(checkout, "scripts"));
      cpSync(E2E, join(checkout, "scripts/k3s-e2e.sh"));
      cpSync(join(ROOT, "kustomize"), join(checkout, "kustomize"), { recursive: true });
    });
    afterAll(() => rmSync(checkout, { recursive: true, force: true }));

    it("works on a fresh checkout: deletes the objects and removes the image the overlays pin", async () => {
      const run = await node({ digestBefore: DIGEST_A }).run(join(checkout, "scripts/k3s-e2e.sh"), ["--cleanup"]);
      expect(run.status, output(run)).toBe(0);
      expect(run.calls).toContain("kubectl delete -k kustomize/overlays/k3s --ignore-not-found --wait=true");
      expect(run.calls).toContain(`ctr -n k8s.io images rm ${REF}`);
      expect(run.stdout).toContain("cleanup done");
    }, 30_000);

    it("an image that is not there: says so, removes nothing, and is done", async () => {
      const run = await node({}).run(join(checkout, "scripts/k3s-e2e.sh"), ["--cleanup"], { IMAGE: "registry.example.com/team/wasm-pods:9.9.9" });
      expect(run.status, output(run)).toBe(0);
      expect(run.stdout).toContain("image registry.example.com/team/wasm-pods:9.9.9 was not present");
      expect(run.calls.filter((call) => call.includes("images rm"))).toEqual([]);
      expect(run.stdout).toContain("cleanup done");
    }, 30_000);

    it("goes on after a failed delete, removes the image, and says it is incomplete", async () => {
      const run = await node({ digestBefore: DIGEST_A, deleteFails: true }).run(join(checkout, "scripts/k3s-e2e.sh"), ["--cleanup"]);
      expect(run.status, output(run)).toBe(1);
      expect(run.calls).toContain(`ctr -n k8s.io images rm ${REF}`);
      expect(run.stdout).toContain("cleanup incomplete");
    }, 30_000);
  });
});

describe.skipIf(!kustomizeTools.available)(suiteTitle("scripts/image/import-k3s.sh on stand-in nodes", kustomizeTools), () => {
  const standIns: StandIns[] = [];
  afterAll(() => standIns.forEach((standIn) => standIn.cleanup()));
  function node(overrides: Partial<Scenario>): StandIns {
    const standIn = createStandIns(
      { ref: REF, k3sVersion: "v1.32.3+k3s1", containerdVersion: "v2.0.4-k3s2", nodes: [], importDigest: DIGEST_A, ...overrides },
      toolPath(kustomizeTools, "kustomize"),
    );
    standIns.push(standIn);
    return standIn;
  }
  const importOn = (standIn: StandIns) => standIn.run(IMPORT, [IMAGE_TARBALL]);

  it.each([
    ["v1.7.23-k3s2", ""],
    ["v2.0.4-k3s2", " --local"],
    ["v2.2.5-k3s2", " --local"],
  ])("containerd %s: imports into k8s.io with --all-platforms%s", async (version, local) => {
    const run = await importOn(node({ containerdVersion: version }));
    expect(run.status, output(run)).toBe(0);
    expect(run.calls).toContain(`ctr -n k8s.io images import --all-platforms${local} ${IMAGE_TARBALL}`);
    expect(run.stdout).toContain(`imported ${REF} (${DIGEST_A})`);
    expect(run.stdout).toContain("new on this node");
  }, 30_000);

  it("fails, naming the ref, when the image is not listed afterwards", async () => {
    const run = await importOn(node({ importDigest: undefined }));
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`${REF} is not listed`);
  }, 30_000);

  it("finds the image in a long listing (read whole: no SIGPIPE under pipefail)", async () => {
    const run = await importOn(node({ otherImages: 40_000 }));
    expect(run.status, output(run)).toBe(0);
    expect(run.stdout).toContain(`imported ${REF} (${DIGEST_A})`);
  }, 30_000);

  it("a changed digest under the same ref: says the running pods keep the old image and how to restart them", async () => {
    const changed = await importOn(node({ digestBefore: DIGEST_A, importDigest: DIGEST_B }));
    expect(changed.status, output(changed)).toBe(0);
    expect(changed.stdout).toContain(`replaced ${DIGEST_A}: pods already running keep the old image`);
    expect(changed.stdout).toContain("kubectl rollout restart deployment -l app.kubernetes.io/name=wasm-pods");
    const same = await importOn(node({ digestBefore: DIGEST_A, importDigest: DIGEST_A }));
    expect(same.status, output(same)).toBe(0);
    expect(same.stdout).toContain("unchanged");
    expect(same.stdout).not.toContain("rollout restart");
  }, 30_000);
});

describe("build.sh --import checks it can import before it builds", () => {
  const standIns: StandIns[] = [];
  let dist: string;
  beforeAll(() => {
    // Should the check ever let a build through, it builds here, not over the shared dist/.
    dist = mkdtempSync(join(tmpdir(), "wp-import-dist-"));
  });
  afterAll(() => {
    standIns.forEach((standIn) => standIn.cleanup());
    rmSync(dist, { recursive: true, force: true });
  });
  function node(overrides: Partial<Scenario> = {}): StandIns {
    const standIn = createStandIns({ ref: REF, k3sVersion: "v1.32.3+k3s1", containerdVersion: "v2.0.4-k3s2", nodes: [], containerdSocket: "root-only", ...overrides });
    standIns.push(standIn);
    return standIn;
  }
  const BUILD = join(ROOT, "build.sh");
  const isRoot = process.getuid?.() === 0;
  // As root, `unshare --user` gives a user namespace in which this process is uid 65534.
  const asNonRoot = isRoot ? (spawnSync("unshare", ["--user", "--", "true"]).status === 0 ? ["unshare", "--user", "--"] : undefined) : [];

  it.skipIf(!asNonRoot)("not root, k3s's socket root's: stops at once, saying to run it as root", async () => {
    const [command, ...prefix] = [...asNonRoot!, BUILD];
    const run = await node().run(command!, [...prefix, "--import"], { DIST: dist });
    expect(run.status, output(run)).toBe(1);
    expect(run.stderr).toContain("build.sh: --import runs 'k3s ctr', which needs root (k3s's containerd socket /run/k3s/containerd/containerd.sock is root's)");
    expect(run.stderr).toContain(`sudo env "PATH=$PATH" ./build.sh --import`);
    expect(run.stdout).not.toContain("==> typecheck");
  }, 30_000);

  it.skipIf(!isRoot)("root, k3s not running: stops at once with what k3s ctr said", async () => {
    const run = await node({ containerdSocket: "down" }).run(BUILD, ["--import"], { DIST: dist });
    expect(run.status, output(run)).toBe(1);
    expect(run.stderr).toContain("build.sh: --import: 'k3s ctr version' failed, so the import would too: is k3s running (systemctl status k3s)?");
    expect(run.stderr).toContain("connect: no such file or directory");
    expect(run.calls).toEqual(["k3s ctr version", "ctr version"]);
    expect(run.stdout).not.toContain("==> typecheck");
  }, 30_000);
});

describe("the stand-ins answer as the real tools do", () => {
  const standIns: StandIns[] = [];
  afterAll(() => standIns.forEach((standIn) => standIn.cleanup()));
  function node(overrides: Partial<Scenario> = {}): StandIns {
    const standIn = createStandIns({ ref: REF, k3sVersion: "v1.32.3+k3s1", containerdVersion: "v2.0.4-k3s2", nodes: [{ name: "node-a", internalIPs: ["127.0.0.1"] }], ...overrides });
    standIns.push(standIn);
    return standIn;
  }

  it("a call they do not act out fails the run, even when the script swallows its exit status (|| true)", async () => {
    await expect(node().run("bash", ["-c", "k3s kubectl get pods --all-namespaces || true; echo done"])).rejects.toThrow(
      /calls they do not act out[^]*kubectl get pods --all-namespaces/,
    );
    await expect(node().run("bash", ["-c", "k3s frobnicate 2>/dev/null || true"])).rejects.toThrow(/k3s frobnicate/);
  });

  it("ctr images rm of an absent image: a warning on stderr, exit 0 (containerd's ctr)", async () => {
    const run = await node().run("k3s", ["ctr", "-n", "k8s.io", "images", "rm", "docker.io/library/absent:1.0"]);
    expect(run.status, output(run)).toBe(0);
    expect(run.stderr).toContain('level=warning msg="docker.io/library/absent:1.0: image not found"');
  });

  it("kubectl wait for Ready nodes before a node registered: no matching resources, exit 1", async () => {
    const run = await node({ nodesRegisterAfter: 5 }).run("k3s", ["kubectl", "wait", "--for=condition=Ready", "node", "--all", "--timeout=180s"]);
    expect(run.status).toBe(1);
    expect(run.stderr).toContain("error: no matching resources found");
  });
});

describe("the shipping shell scripts", () => {
  const scripts = [E2E, IMPORT, join(ROOT, "build.sh")];

  it.each(scripts)("%s parses (bash -n)", (script) => {
    const result = spawnSync("bash", ["-n", script], { encoding: "utf8" });
    expect(result.stderr).toBe("");
    expect(result.status).toBe(0);
  });

  it.skipIf(!shellcheckTools.available)(suiteTitle("are shellcheck-clean", shellcheckTools), () => {
    const result = spawnSync(toolPath(shellcheckTools, "shellcheck"), scripts, { encoding: "utf8" });
    expect(result.stdout).toBe("");
    expect(result.status).toBe(0);
  });
});
