// `--runtime wasmtime` without wasmtime: a stand-in `wasmtime` on PATH that
// parses `serve -S cli --addr H:P --env K=V ... COMPONENT` like the real CLI,
// answers /healthz, and echoes what it was given. Proves the argv and env each
// pod gets, and that supervision and the Services work with that launcher.
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { COMPONENT } from "../scripts/lib/build";
import type { LogEntry } from "../scripts/topology/format";
import { groupMembers } from "../scripts/topology/process-tree";
import { startTopology, type Topology } from "../scripts/topology/topology";

const FAKE_WASMTIME = `#!${process.execPath}
const http = require("node:http");
const argv = process.argv.slice(2);
if (argv[0] !== "serve" || argv[1] !== "-S" || argv[2] !== "cli") { console.error("unexpected argv", argv); process.exit(2); }
const env = {};
let addr;
for (let i = 3; i < argv.length - 1; i++) {
  if (argv[i] === "--addr") addr = argv[++i];
  else if (argv[i] === "--env") { const [k, ...v] = argv[++i].split("="); env[k] = v.join("="); }
  else { console.error("unexpected flag", argv[i]); process.exit(2); }
}
const m = /^\\[?([^\\]]+?)\\]?:(\\d+)$/.exec(addr);
http.createServer((req, res) => {
  res.setHeader("content-type", "application/json");
  res.end(req.url === "/healthz" ? "ok" : JSON.stringify({ argv, env, component: argv[argv.length - 1] }));
}).listen(Number(m[2]), m[1]);
`;

interface Echo {
  argv: string[];
  env: Record<string, string>;
  component: string;
}

describe("startTopology --runtime wasmtime (a stand-in wasmtime)", () => {
  let bin: string;
  let topology: Topology;
  const log: LogEntry[] = [];

  beforeAll(async () => {
    bin = mkdtempSync(join(tmpdir(), "fake-wasmtime-"));
    writeFileSync(join(bin, "wasmtime"), FAKE_WASMTIME);
    chmodSync(join(bin, "wasmtime"), 0o755);
    topology = await startTopology({ runtime: "wasmtime", path: bin, splitterPort: 0, greeterPort: 0, log: (e) => log.push(e) });
  });

  afterAll(async () => {
    await topology?.stop();
    rmSync(bin, { recursive: true, force: true });
  });

  it("runs each pod as `wasmtime serve -S cli --addr ... --env ...` with its Deployment's env", async () => {
    const splitter = (await (await fetch(`${topology.splitterUrl}/argv`)).json()) as Echo;
    const port = new URL(topology.pods[2]!.url!).port;
    expect(splitter.argv).toEqual([
      "serve",
      "-S",
      "cli",
      "--addr",
      `127.0.0.1:${port}`,
      "--env",
      "HOSTNAME=name-splitter-pod-1",
      "--env",
      "POD_NAME=name-splitter-pod-1",
      "--env",
      "ROLE=splitter",
      "--env",
      `GREETER_URL=${topology.clusterIpUrl}`,
      "--env",
      `WASMTIME_HTTP_PROXY_SOCKET_ADDR=127.0.0.1:${port}`,
      COMPONENT,
    ]);
    const greeters = new Set<string>();
    for (let i = 0; i < 4; i++) {
      const greeter = (await (await fetch(`${topology.greeterUrl}/argv`)).json()) as Echo;
      expect(greeter.env.ROLE).toBe("greeter");
      greeters.add(greeter.env.POD_NAME!);
    }
    expect(greeters).toEqual(new Set(["name-greeter-pod-1", "name-greeter-pod-2"]));
  });

  it("a killed wasmtime pod is restarted", async () => {
    const victim = topology.pods[1]!;
    const oldPid = topology.killPod(victim.name)!;
    const deadline = Date.now() + 5_000;
    while (!(victim.ready && victim.pid !== oldPid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(victim.restarts).toBe(1);
    expect(victim.ready).toBe(true);
    expect(groupMembers([oldPid])).toEqual([]);
  });
});
