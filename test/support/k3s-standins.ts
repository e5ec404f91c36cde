// Stand-in `k3s`, `kubectl` and `ctr` executables that act out a k3s node for
// scripts/k3s-e2e.sh and scripts/image/import-k3s.sh: a scenario file says what the cluster
// looks like (nodes, addresses, containerd version, what an import leaves listed, whether a
// rollout finishes), every call is logged, and `kubectl apply -k` renders the kustomization
// with the real kustomize CLI and keeps what it would have applied. Anything the stand-ins
// do not expect fails loudly (exit 99), so a script calling something new cannot pass by
// accident.
import { spawn } from "node:child_process";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
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
}

export interface StandInRun {
  status: number | null;
  stdout: string;
  stderr: string;
  /** Every stand-in call, as "<tool> <args...>". */
  calls: string[];
  /** The YAML streams `kubectl apply -k` rendered, in order. */
  applied: string[];
}

const STATE = `
const fs = require("fs");
const scenario = JSON.parse(fs.readFileSync(process.env.STANDIN_SCENARIO, "utf8"));
const statePath = process.env.STANDIN_STATE;
const readState = () => (fs.existsSync(statePath) ? JSON.parse(fs.readFileSync(statePath, "utf8")) : { listed: scenario.digestBefore ?? null });
const writeState = (state) => fs.writeFileSync(statePath, JSON.stringify(state));
const args = process.argv.slice(2);
fs.appendFileSync(process.env.STANDIN_LOG, TOOL + " " + args.join(" ") + "\\n");
const unexpected = () => { console.error("stand-in " + TOOL + ": unexpected arguments: " + args.join(" ")); process.exit(99); };
const is = (...prefix) => prefix.every((word, i) => args[i] === word);
`;

const CTR = `const TOOL = "ctr";
${STATE}
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
  const state = readState();
  if (args[4] !== scenario.ref || !state.listed) { console.error("ctr: image \\"" + args[4] + "\\": not found"); process.exit(1); }
  state.listed = null;
  writeState(state);
  console.log(args[4]);
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
if (is("get", "--raw", "/readyz")) console.log("ok");
else if (is("get", "runtimeclass", "wasmtime")) console.log("NAME HANDLER AGE\\nwasmtime wasmtime 1d");
else if (is("get", "nodes", "-o", "json")) {
  json({ items: scenario.nodes.map((node) => ({
    metadata: { name: node.name, labels: { "kubernetes.io/hostname": node.hostnameLabel ?? node.name } },
    status: { addresses: [...node.internalIPs.map((address) => ({ type: "InternalIP", address })), { type: "Hostname", address: node.name }] },
  })) });
} else if (is("apply", "-k") && args.length === 3) {
  const rendered = spawnSync(process.env.STANDIN_KUSTOMIZE, ["build", args[2]], { encoding: "utf8" });
  if (rendered.status !== 0) { console.error(rendered.stderr); process.exit(1); }
  const dir = process.env.STANDIN_APPLIED;
  fs.writeFileSync(dir + "/" + String(fs.readdirSync(dir).length).padStart(3, "0") + ".yaml", rendered.stdout);
  console.log("deployment.apps/name-greeter-pod configured\\ndeployment.apps/name-splitter-pod configured");
} else if (is("rollout", "status")) {
  if (scenario.rolloutFails) { console.error("error: timed out waiting for the condition"); process.exit(1); }
  console.log(args[2] + " successfully rolled out");
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
  *) echo "stand-in k3s: unexpected arguments: $*" >&2; exit 99 ;;
esac
`;

export interface StandIns {
  /** Directory holding k3s, kubectl, ctr: put it first on the PATH. */
  readonly bin: string;
  /** Runs `command args` with the stand-ins first on the PATH (asynchronously: a test server may need to answer it). */
  run(command: string, args: readonly string[], env?: NodeJS.ProcessEnv, cwd?: string): Promise<StandInRun>;
  /** Replaces the scenario (the containerd state, e.g. what is listed, carries over). */
  setScenario(scenario: Scenario): void;
  cleanup(): void;
}

export function createStandIns(scenario: Scenario, kustomize: string): StandIns {
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
      writeFileSync(log, "");
      const before = new Set(readdirSync(applied));
      // The scripts' own knobs come from the test alone, never from the developer's shell.
      const inherited = { ...process.env };
      for (const knob of ["IMAGE", "NODE_NAME", "NODE_IP", "REQUESTS", "ROLLOUT_TIMEOUT", "K3S_CONTAINERD_CONFIG"]) delete inherited[knob];
      const childEnv: NodeJS.ProcessEnv = {
        ...inherited,
        PATH: `${bin}:${process.env.PATH}`,
        STANDIN_SCENARIO: scenarioPath,
        STANDIN_STATE: join(dir, "state.json"),
        STANDIN_LOG: log,
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
          const fresh = readdirSync(applied).filter((name) => !before.has(name)).sort();
          resolve({ status, stdout, stderr, calls, applied: fresh.map((name) => readFileSync(join(applied, name), "utf8")) });
        });
      });
    },
    cleanup() {
      if (existsSync(dir)) rmSync(dir, { recursive: true, force: true });
    },
  };
}
