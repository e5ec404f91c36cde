// Cold starts: spawn to first 200 on each host, and wasmtime's compile cache.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { spawnGroup } from "../../lib/processes";
import { wasmtimeServeArgs } from "../../host/runtimes";
import { COMPONENT } from "../../lib/build";
import { freePort } from "../../lib/free-port";
import { median } from "../../lib/load";
import { findTool } from "../../lib/tools";
import { waitFor200 } from "../../lib/wait";
import { coldStartMs, HOST_LABELS, type HostKind } from "./hosts";
import { limitTarget, type Row, row } from "./report";
import { COLD_STARTS, log } from "./settings";

export async function coldStarts(): Promise<Row[]> {
  log(`== cold start: spawn to first 200, median of ${COLD_STARTS}`);
  const measure = async (kind: HostKind) => {
    const samples: number[] = [];
    for (let i = 0; i < COLD_STARTS; i++) samples.push(await coldStartMs(kind));
    log(`   ${HOST_LABELS[kind]}: ${samples.map((s) => s.toFixed(0)).join(", ")} ms`);
    return median(samples);
  };
  const native = { label: "native Node", value: await measure("native") };
  const local = await measure("local-jco");
  const jco = await measure("jco-serve");
  const wasmtime = await measure("local-wasmtime");
  return [
    limitTarget(row("cold start", "local host, jco", local, "ms", native), "<= 500 ms", 500),
    row("cold start", "plain jco serve", jco, "ms", native),
    row("cold start", "local host, jco", local, "ms", { label: "plain jco serve", value: jco }),
    row("cold start", "local host, wasmtime (precompiled, as the shim after its first start)", wasmtime, "ms", native),
    ...(await wasmtimeCompileCache()),
  ];
}

/**
 * `wasmtime serve` straight from the .wasm, as the README's by-hand command: the
 * first start compiles (the shim's first start on a node), later ones hit
 * wasmtime's compile cache. Each sample gets a fresh, empty cache directory.
 */
async function wasmtimeCompileCache(): Promise<Row[]> {
  const wasmtime = findTool("wasmtime")!;
  const scratch = mkdtempSync(join(tmpdir(), "wasm-pods-cache-"));
  const cold: number[] = [];
  const warm: number[] = [];
  try {
    for (let i = 0; i < 3; i++) {
      const dir = join(scratch, String(i));
      mkdirSync(dir);
      const config = join(dir, "cache.toml");
      writeFileSync(config, `[cache]\nenabled = true\ndirectory = "${join(dir, "cache")}"\n`);
      for (const samples of [cold, warm]) {
        const port = await freePort();
        const started = performance.now();
        const group = spawnGroup({
          command: wasmtime,
          args: wasmtimeServeArgs({ host: "127.0.0.1", env: { ROLE: "greeter" } }, COMPONENT, { port, flags: ["-C", `cache-config=${config}`] }),
          env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
        });
        try {
          samples.push(await waitFor200(`http://127.0.0.1:${port}/Sherlock`, { since: started, timeoutMs: 120_000 }));
        } finally {
          await group.stop();
        }
      }
    }
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
  log(`   wasmtime serve from the .wasm: compile cache empty ${cold.map((s) => s.toFixed(0)).join(", ")} ms; warm ${warm.map((s) => s.toFixed(0)).join(", ")} ms`);
  return [
    row("cold start", "wasmtime serve .wasm, compile cache empty", median(cold), "ms", { label: "compile cache warm", value: median(warm) }),
  ];
}
