// Stand-in `k3s`, `kubectl` and `ctr` executables that act out a k3s node for
// scripts/k3s-e2e.sh and scripts/image/import-k3s.sh: a scenario file says what the cluster
// looks like (nodes, addresses, containerd version, what an import leaves listed, whether a
// rollout finishes), every call is logged, and `kubectl apply -k` renders the kustomization
// with the real kustomize CLI and keeps what it would have applied. Where the real tools'
// answers matter to a script, the stand-ins give them as the real ones do: the RuntimeClass
// can be missing, nodes can register late, `ctr images rm` of an absent image logs and exits 0,
// and `ctr` refuses a caller that is not root when the scenario says so. Anything the stand-ins
// do not expect exits 99 AND is recorded: `run()` rejects when a call was unexpected, even when
// the script swallowed the exit status (`|| true`), so a script calling something new cannot
// pass by accident.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { createRequire } from "node:module";
import { join } from "node:path";

export interface StandInNode {
  name: string;
  /** The node's kubernetes.io/hostname label (k3s: the node name unless told otherwise). */
  hostnameLabel?: string;
  internalIPs: string[];
}

export interface Scenario {
  /** The image ref the scripts import and deploy (what build-image.ts --print-ref says). */
  ref: string;
  k3sVersion: string;
  /** What `k3s ctr version` reports for the server. */
  containerdVersion: string;
  nodes: StandInNode[];
  /** spec.ipFamilies[0] of the splitter Service. */
  serviceIpFamily?: "IPv4" | "IPv6";
  /** The splitter Service's nodePort (the test's fake splitter listens there). */
  nodePort?: number;
  /** Greeter pods `kubectl get pods` lists as Running; `terminatingPods` are Running but being deleted. */
  greeterPods?: string[];
  terminatingPods?: string[];
  /** `kubectl rollout status` times out instead of succeeding. */
  rolloutFails?: boolean;
  /** The Events lines `kubectl describe pods` shows for every pod. */
  podEvents?: string[];
  /** Digest listed for `ref` before any import (absent: not listed). */
  digestBefore?: string;
  /** Digest listed for `ref` after `images import` (absent: the import lists nothing). */
  importDigest?: string;
  /** Other images listed before `ref`... and after it, to make the listing long. */
  otherImages?: number;
  /** `kubectl delete` fails. */
  deleteFails?: boolean;
  /** No `wasmtime` RuntimeClass (`kubectl get runtimeclass wasmtime`: NotFound). */
  noRuntimeClass?: boolean;
  /** `kubectl` lists no node until it has been called this many times (a kubelet still registering). */
  nodesRegisterAfter?: number;
  /** kube-system's CoreDNS Deployment: rolled out (default), absent, or never available. */
  coredns?: "ready" | "missing" | "stuck";
  /** Who k3s's containerd socket answers: everyone (default), root only (as /run/k3s/containerd is), nobody (k3s down). */
  containerdSocket?: "open" | "root-only" | "down";
}

export interface StandInRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Every stand-in call, as "<tool> <args...>". */
  calls: string[];
  /** The YAML streams `kubectl apply -k` rendered, in order. */
  applied: string[];
  /** The calls a stand-in did not expect (it exited 99 for each). */
  unexpected: string[];
}

/** The project's \`yaml\` package, for the stand-in kubectl to read back what it applied. */
const YAML_MODULE = createRequire(import.meta.url).resolve("yaml");

const STATE = `
const fs = require("fs");
const scenario = JSON.parse(fs.readFileSync(process.env.STANDIN_SCENARIO, "utf8"));
const statePath = process.env.STANDIN_STATE;
const readState = () => (fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : { listed: scenario.digestBefore ?? null });
const writeState = (state) => fs.writeFileSync(statePath, JSON.stringify(state));
const args = process.argv.slice(2);
fs.appendFileSync(process.env.STANDIN_LOG, TOOL + " " + args.join(" ") + "\\n");
const unexpected = () => {
  fs.appendFileSync(process.env.STANDIN_UNEXPECTED, TOOL + " " + args.join(" ") + "\\n");
  console.error("stand-in " + TOOL + ": unexpected arguments: " + args.join(" "));
  process.exit(99);
};
const is = (...prefix) => prefix.every((word, i) => args[i] === word);
`;

const CTR = `const TOOL = "ctr";
${STATE}
const SOCKET = "/run/k3s/containerd/containerd.sock";
const socketMode = scenario.containerdSocket ?? "open";
const refuse = (why) => {
  console.error("ctr: failed to dial \\"" + SOCKET + "\\": connection error: desc = \\"transport: error while dialing: dial unix " + SOCKET + ": " + why + "\\"");
  process.exit(1);
};
const denied = socketMode === "down" || (socketMode === "root-only" && process.getuid() !== 0);
if (denied) {
  // \`ctr version\` prints its client half before the dial fails, as the real one does.
  if (is("version")) console.log("Client:\\n  Version:  " + scenario.containerdVersion + "\\n");
  refuse(socketMode === "down" ? "connect: no such file or directory" : "connect: permission denied");
}
if (is("version")) {
  console.log("Client:\\n  Version:  " + scenario.containerdVersion + "\\n\\nServer:\\n  Version:  " + scenario.containerdVersion);
} else if (is("-n", "k8s.io", "images", "import")) {
  const state = readState();
  state.listed = scenario.importDigest ?? null;
  writeState(state);
  console.log("unpacking " + scenario.ref + "...done");
} else if (is("-n", "k8s.io", "images", "ls")) {
  const quiet = args.includes("-q");
  const rows = [];
  const other = (i) => "docker.io/library/other-" + i + ":1.0 application/vnd.oci.image.manifest.v1+json sha256:" + String(i).padStart(64, "0") + " 1.0 MiB linux/amd64 -";
  const half = Math.floor((scenario.otherImages ?? 0) / 2);
  for (let i = 0; i < half; i++) rows.push(other(i));
  const listed = readState().listed;
  if (listed) rows.push(scenario.ref + " application/vnd.oci.image.manifest.v1+json " + listed + " 12.5 MiB wasip1/wasm -");
  for (let i = half; i < (scenario.otherImages ?? 0); i++) rows.push(other(i));
  const out = (quiet ? rows.map((row) => row.split(" ")[0]) : ["REF TYPE DIGEST SIZE PLATFORMS LABELS", ...rows]).join("\\n") + "\\n";
  process.stdout.write(out);
} else if (is("-n", "k8s.io", "images", "rm") && args.length === 5) {
  // Real ctr: an absent image is a warning on stderr, and the exit status stays 0.
  const state = readState();
  if (args[4] !== scenario.ref || !state.listed) {
    console.error("time=\\"2026-01-01T00:00:00Z\\" level=warning msg=\\"" + args[4] + ": image not found\\"");
  } else {
    state.listed = null;
    writeState(state);
    console.log(args[4]);
  }
} else unexpected();
`;

const KUBECTL = `const TOOL = "kubectl";
${STATE}
const { spawnSync } = require("child_process");
const json = (value) => console.log(JSON.stringify(value));
const selector = () => args[args.indexOf("-l") + 1] ?? "";
const pod = (name, terminating) => ({
  metadata: { name, ...(terminating ? { deletionTimestamp: "2024-01-01T00:00:00Z" } : {}) },
  status: { phase: "Running" },
});
// Nodes appear once the kubelet has registered: after scenario.nodesRegisterAfter kubectl calls.
const state = readState();
state.kubectlCalls = (state.kubectlCalls ?? 0) + 1;
writeState(state);
const nodes = state.kubectlCalls > (scenario.nodesRegisterAfter ?? 0) ? scenario.nodes : [];
const notFound = (kind, name) => { console.error('Error from server (NotFound): ' + kind + ' "' + name + '" not found'); process.exit(1); };
// The Deployments as last applied (the real API server's copy), by name.
const appliedDeployment = (name) => {
  const dir = process.env.STANDIN_APPLIED;
  const files = fs.readdirSync(dir).sort();
  if (files.length === 0) return undefined;
  const { parseAllDocuments } = require(process.env.STANDIN_YAML_MODULE);
  const docs = parseAllDocuments(fs.readFileSync(dir + "/" + files[files.length - 1], "utf8")).map((doc) => doc.toJS());
  return docs.find((doc) => doc && doc.kind === "Deployment" && doc.metadata.name === name);
};
const coredns = scenario.coredns ?? "ready";
if (is("get", "--raw", "/readyz")) console.log("ok");
else if (is("get", "runtimeclass", "wasmtime") || is("get", "runtimeclass/wasmtime")) {
  if (scenario.noRuntimeClass) notFound("runtimeclasses.node.k8s.io", "wasmtime");
  console.log("NAME HANDLER AGE\\nwasmtime wasmtime 1d");
} else if (is("get", "serviceaccount/default")) console.log("NAME SECRETS AGE\\ndefault 0 1d");
else if (is("get", "nodes", "-o", "json")) {
  json({ items: nodes.map((node) => ({
    metadata: { name: node.name, labels: { "kubernetes.io/hostname": node.hostnameLabel ?? node.name } },
    status: { addresses: [...node.internalIPs.map((address) => ({ type: "InternalIP", address })), { type: "Hostname", address: node.name }] },
  })) });
} else if (is("get", "nodes", "-o", "name")) {
  for (const node of nodes) console.log("node/" + node.name);
} else if (is("wait", "--for=condition=Ready", "node", "--all") && args.length === 5 && args[4].startsWith("--timeout=")) {
  // kubectl wait on a selection that matches nothing fails at once.
  if (nodes.length === 0) { console.error("error: no matching resources found"); process.exit(1); }
  for (const node of nodes) console.log("node/" + node.name + " condition met");
} else if (is("apply", "-k") && args.length === 3) {
  const rendered = spawnSync(process.env.STANDIN_KUSTOMIZE, ["build", args[2]], { encoding: "utf8" });
  if (rendered.status !== 0) { console.error(rendered.stderr); process.exit(1); }
  const dir = process.env.STANDIN_APPLIED;
  fs.writeFileSync(dir + "/" + String(fs.readdirSync(dir).length).padStart(3, "0") + ".yaml", rendered.stdout);
  console.log("deployment.apps/name-greeter-pod configured\\ndeployment.apps/name-splitter-pod configured");
} else if (is("get", "deployment") && args.slice(-2).join(" ") === "-o json" && args.length > 4 && !args.includes("-n")) {
  const names = args.slice(2, -2);
  const found = names.map(appliedDeployment);
  const missing = names.find((name, i) => !found[i]);
  if (missing) notFound("deployments.apps", missing);
  json({ apiVersion: "v1", kind: "List", items: found });
} else if (is("rollout", "status") && args[2]?.startsWith("deployment/name-")) {
  if (scenario.rolloutFails) { console.error("error: timed out waiting for the condition"); process.exit(1); }
  console.log('deployment "' + args[2].slice("deployment/".length) + '" successfully rolled out');
} else if (is("-n", "kube-system", "get", "deployment", "coredns")) {
  if (coredns === "missing") notFound("deployments.apps", "coredns");
  console.log("NAME READY UP-TO-DATE AVAILABLE AGE\\ncoredns " + (coredns === "ready" ? "1/1 1 1" : "0/1 1 0") + " 1d");
} else if (is("-n", "kube-system", "rollout", "status", "deployment/coredns") && args.length === 6 && args[5].startsWith("--timeout=")) {
  if (coredns === "stuck") { console.error("error: timed out waiting for the condition"); process.exit(1); }
  console.log('deployment "coredns" successfully rolled out');
} else if (is("-n", "kube-system", "get", "pods", "-l", "k8s-app=kube-dns", "-o", "wide")) {
  console.log("NAME READY STATUS RESTARTS AGE IP NODE\\ncoredns-7b98449c4-x2x9q 0/1 CrashLoopBackOff 5 5m 10.42.0.3 " + scenario.nodes[0].name);
} else if (is("get", "pods", "-l") && args.includes("wide")) {
  console.log("NAME READY STATUS RESTARTS AGE IP NODE");
  for (const name of scenario.greeterPods ?? []) console.log(name + " 0/1 ContainerCreating 0 5m <none> " + scenario.nodes[0].name);
} else if (is("describe", "pods", "-l")) {
  for (const name of scenario.greeterPods ?? []) {
    console.log("Name:         " + name + "\\nNamespace:    default\\nNode:         " + scenario.nodes[0].name + "\\nEvents:\\n  Type     Reason  Age  From  Message");
    for (const event of scenario.podEvents ?? []) console.log("  " + event);
    console.log("");
  }
} else if (is("get", "service", "name-splitter-pod-service", "-o", "json")) {
  json({ spec: { type: "NodePort", ipFamilies: [scenario.serviceIpFamily ?? "IPv4"], ports: [{ port: 90, nodePort: scenario.nodePort }] } });
} else if (is("get", "pods", "-l") && args.includes("json") && selector().includes("component=greeter")) {
  json({ items: [...(scenario.greeterPods ?? []).map((name) => pod(name, false)), ...(scenario.terminatingPods ?? []).map((name) => pod(name, true))] });
} else if (is("delete", "-k")) {
  if (scenario.deleteFails) { console.error("error: the server is currently unable to handle the request"); process.exit(1); }
  console.log("deployment.apps \\"name-greeter-pod\\" deleted");
} else unexpected();
`;

const K3S = `#!/bin/sh
echo "k3s $*" >> "$STANDIN_LOG"
here=$(dirname "$0")
case "$1" in
  --version) echo "k3s version $STANDIN_K3S_VERSION (0123abcd)"; echo "go version go1.23.6" ;;
  kubectl) shift; exec "$here/kubectl" "$@" ;;
  ctr) shift; exec "$here/ctr" "$@" ;;
  *) echo "k3s $*" >> "$STANDIN_UNEXPECTED"; echo "stand-in k3s: unexpected arguments: $*" >&2; exit 99 ;;
esac
`;

/** \`sudo <command>\` as root runs it (the workflow's steps call \`sudo k3s ...\`); sudo's own options are not acted out. */
const SUDO = `#!/bin/sh
echo "sudo $*" >> "$STANDIN_LOG"
case "$1" in
  -*|"") echo "sudo $*" >> "$STANDIN_UNEXPECTED"; echo "stand-in sudo: unexpected arguments: $*" >&2; exit 99 ;;
esac
exec "$@"
`;

export interface StandIns {
  /** Directory holding k3s, kubectl, ctr, sudo: put it first on the PATH. */
  readonly bin: string;
  /**
   * Runs `command args` with the stand-ins first on the PATH (asynchronously: a test server may
   * need to answer it). Rejects when a stand-in met a call it does not act out, whatever the
   * command's exit status.
   */
  run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv, cwd?: string): Promise<StandInRun>;
  /** Replaces the scenario (the containerd state, e.g. what is listed, carries over). */
  setScenario(scenario: Scenario): void;
  cleanup(): void;
}

/** `kustomize`: the real kustomize CLI, which `kubectl apply -k` runs (not needed when nothing is applied). */
export function createStandIns(scenario: Scenario, kustomize = "kustomize-not-given"): StandIns {
  const dir = mkdtempSync(join(tmpdir(), "wp-standin-"));
  const bin = join(dir, "bin");
  const applied = join(dir, "applied");
  mkdirSync(bin);
  mkdirSync(applied);
  const scenarioPath = join(dir, "scenario.json");
  const write = (name: string, text: string) => {
    writeFileSync(join(bin, name), text);
    chmodSync(join(bin, name), 0o755);
  };
  write("k3s", K3S);
  write("sudo", SUDO);
  write("kubectl", `#!${process.execPath}\n${KUBECTL}`);
  write("ctr", `#!${process.execPath}\n${CTR}`);
  const setScenario = (next: Scenario) => writeFileSync(scenarioPath, JSON.stringify(next));
  setScenario(scenario);
  let current = scenario;

  return {
    bin,
    setScenario(next) {
      current = next;
      setScenario(next);
    },
    run(command, args, env = {}, cwd) {
      const log = join(dir, `calls-${Date.now()}-${Math.random().toString(36).slice(2)}.log`);
      const unexpectedLog = `${log}.unexpected`;
      writeFileSync(log, "");
      writeFileSync(unexpectedLog, "");
      const before = new Set(readdirSync(applied));
      // The scripts' own knobs come from the test alone, never from the developer's shell.
      const inherited = { ...process.env };
      for (const knob of ["IMAGE", "NODE_NAME", "NODE_IP", "REQUESTS", "ROLLOUT_TIMEOUT", "FIRST_ANSWER_TIMEOUT", "K3S_CONTAINERD_CONFIG"]) delete inherited[knob];
      const childEnv: NodeJS.ProcessEnv = {
        ...inherited,
        PATH: `${bin}:${process.env.PATH}`,
        STANDIN_SCENARIO: scenarioPath,
        STANDIN_STATE: join(dir, "state.json"),
        STANDIN_LOG: log,
        STANDIN_UNEXPECTED: unexpectedLog,
        STANDIN_YAML_MODULE: YAML_MODULE,
        STANDIN_APPLIED: applied,
        STANDIN_KUSTOMIZE: kustomize,
        STANDIN_K3S_VERSION: current.k3sVersion,
        ...env,
      };
      return new Promise((resolve, reject) => {
        const child = spawn(command, [...args], { env: childEnv, cwd, stdio: ["ignore", "pipe", "pipe"] });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (chunk: Buffer) => (stdout += chunk.toString()));
        child.stderr.on("data", (chunk: Buffer) => (stderr += chunk.toString()));
        child.on("error", reject);
        child.on("close", (status) => {
          const calls = readFileSync(log, "utf8").split("\n").filter(Boolean);
          const unexpected = readFileSync(unexpectedLog, "utf8").split("\n").filter(Boolean);
          if (unexpected.length > 0) {
            reject(new Error(`the stand-ins met calls they do not act out (exit 99, whatever the script made of it):\n  ${unexpected.join("\n  ")}\n--- stdout:\n${stdout}\n--- stderr:\n${stderr}`));
            return;
          }
          const fresh = readdirSync(applied).filter((name) => !before.has(name)).sort();
          resolve({ status, stdout, stderr, calls, applied: fresh.map((name) => readFileSync(join(applied, name), "utf8")), unexpected });
        });
      });
    },
    cleanup() {
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
