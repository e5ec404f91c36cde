// scripts/k3s-e2e.sh and scripts/image/import-k3s.sh against stand-in `k3s`/`kubectl`/`ctr`
// executables acting out the node situations a user meets (test/support/k3s-standins.ts): a
// healthy node, a node whose containerd has no wasmtime runtime, two nodes, a dual-stack node,
// a rebuilt image under the same tag, a rollout that never finishes. The scripts run for real
// (bash, curl, node, the real kustomize), only the cluster is acted out; the splitter's NodePort
// is a small HTTP server in this process. Both scripts must also be shellcheck-clean.
import { spawnSync } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import type { IDeployment } from "kubernetes-models/apps/v1/Deployment";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { defaultImageRef } from "../scripts/image/project";
import { IMAGE_TARBALL, ROOT } from "../scripts/lib/build";
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

/** The splitter behind the NodePort: the seed answer, and JSON naming a greeter pod per part. */
async function startFakeSplitter(host: string): Promise<{ port: number; close: () => Promise<void> }> {
  let turn = 0;
  const server: Server = createServer((request, response) => {
    if (request.url !== "/split/Sherlock,Po") {
      response.writeHead(404).end("not found");
      return;
    }
    if (request.headers.accept === "application/json") {
      const parts = ["Sherlock", "Po"].map((name) => ({ name, servedBy: GREETERS[turn++ % GREETERS.length] }));
      response.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ greeting: "...", parts }));
      return;
    }
    response.writeHead(200, { "content-type": "text/plain; charset=utf-8" }).end("Hello Sherlock! and Greetings Po!");
  });
  await new Promise<void>((resolve, reject) => server.once("error", reject).listen(0, host, resolve));
  return {
    port: (server.address() as AddressInfo).port,
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
    standIn.run(E2E, args, { K3S_CONTAINERD_CONFIG: configs.v3, REQUESTS: "4", ROLLOUT_TIMEOUT: "5s", ...env });

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
  }, 60_000);

  it("the v2 config spelling (containerd 1.7) counts too, and containerd 1.7 imports without --local", async () => {
    const run = await e2e(node({ k3sVersion: "v1.30.4+k3s1", containerdVersion: "v1.7.20-k3s1" }), { K3S_CONTAINERD_CONFIG: configs.v2 });
    expect(run.status, output(run)).toBe(0);
    expect(run.calls).toContain("ctr -n k8s.io images import --all-platforms dist/wasm-pods.oci.tar");
  }, 60_000);

  it("a node whose containerd has no wasmtime runtime: stops before building or deploying, saying to restart k3s", async () => {
    const run = await e2e(node(), { K3S_CONTAINERD_CONFIG: configs.none });
    expect(run.status, output(run)).toBe(2);
    expect(run.stderr).toContain(`k3s's containerd has no 'wasmtime' runtime (${configs.none})`);
    expect(run.stderr).toContain(`no runtime for "wasmtime" is configured`);
    expect(run.stderr).toContain("restart k3s");
    expect(run.calls.filter((call) => / import | apply /.test(call))).toEqual([]);
  }, 60_000);

  it("two nodes, none named like this host: stops at once, asking for NODE_NAME", async () => {
    const run = await e2e(node({ nodes: [{ name: "node-a", internalIPs: ["127.0.0.2"] }, { name: "node-b", internalIPs: ["127.0.0.1"] }] }));
    expect(run.status, output(run)).toBe(2);
    expect(run.stderr).toContain("this cluster has 2 nodes (node-a, node-b)");
    expect(run.stderr).toContain("set NODE_NAME");
    expect(run.calls.filter((call) => / import | apply /.test(call))).toEqual([]);
  }, 60_000);

  it("two nodes: pins the pods to this host's node, or to NODE_NAME, and calls that node's address", async () => {
    const nodes = [
      { name: hostname().toLowerCase(), internalIPs: ["127.0.0.3"] },
      { name: "node-b", hostnameLabel: "node-b-label", internalIPs: ["127.0.0.1"] },
    ];
    const byHost = await e2e(node({ nodes }));
    // It found the node; nothing listens on 127.0.0.3, so the call itself fails.
    expect(byHost.status, output(byHost)).toBe(1);
    expect(byHost.stdout).toContain(`FAIL: curl http://127.0.0.3:${v4.port}/split/Sherlock,Po failed`);
    expect(deploymentsIn(byHost.applied[0]!)[0]!.spec!.template.spec?.nodeSelector).toEqual({
      "kubernetes.io/hostname": hostname().toLowerCase(),
    });
    expect(byHost.stdout).toContain(`GET http://127.0.0.3:${v4.port}/split/Sherlock,Po`);

    const named = await e2e(node({ nodes }), { NODE_NAME: "node-b" });
    expect(named.status, output(named)).toBe(0);
    expect(deploymentsIn(named.applied[0]!)[0]!.spec!.template.spec?.nodeSelector).toEqual({ "kubernetes.io/hostname": "node-b-label" });
  }, 60_000);

  it("a dual-stack node: calls the address of the Service's IP family, IPv6 in brackets", async () => {
    const nodes = [{ name: "node-a", internalIPs: ["::1", "127.0.0.1"] }];
    const ipv4 = await e2e(node({ nodes, serviceIpFamily: "IPv4", nodePort: v4.port }));
    expect(ipv4.status, output(ipv4)).toBe(0);
    expect(ipv4.stdout).toContain(`GET http://127.0.0.1:${v4.port}/split/Sherlock,Po`);
    const ipv6 = await e2e(node({ nodes, serviceIpFamily: "IPv6", nodePort: v6.port }));
    expect(ipv6.status, output(ipv6)).toBe(0);
    expect(ipv6.stdout).toContain(`GET http://[::1]:${v6.port}/split/Sherlock,Po`);
  }, 60_000);

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
  }, 90_000);

  it("a rollout that never finishes: FAIL, with the pods' events", async () => {
    const run = await e2e(node({ rolloutFails: true, podEvents: ['Warning  FailedCreatePodSandBox  1m  kubelet  no runtime for "wasmtime" is configured'] }));
    expect(run.status, output(run)).toBe(1);
    expect(run.stdout).toContain("FAIL: deployment/name-greeter-pod did not roll out within 5s");
    expect(run.stdout).toContain(`Name:         ${GREETERS[0]}`);
    expect(run.stdout).toContain('no runtime for "wasmtime" is configured');
  }, 60_000);

  it("only live greeter pods count: a terminating one that answers nothing does not fail the check", async () => {
    const run = await e2e(node({ terminatingPods: ["name-greeter-pod-old-zzzzz"] }));
    expect(run.status, output(run)).toBe(0);
    expect(run.stdout).toContain(`greeter pods running: ${[...GREETERS].sort().join(" ")}`);
  }, 60_000);

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
