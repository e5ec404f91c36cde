// The component as the k3s shim sees it: what it imports and exports, and the
// README's by-hand `wasmtime serve` commands, exactly, on the raw .wasm (compiled
// at start, as the shim's first start on a node). wasmtime 27 is the engine of
// the newest released containerd-shim-wasmtime (v0.6.0): an import it lacks, such
// as WASI 0.2.12's wasi:cli/exit.exit-with-code, would fail to link here.
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { type Group, readLines, spawnGroup } from "../lib/processes";
import { listeningPort, wasmtimeServeArgs } from "../host/runtimes";
import { COMPONENT, ROOT } from "../lib/build";
import { waitFor200 } from "../lib/wait";
import { requireTools, suiteTitle, toolPath } from "./support/tools";

const wasmtime = requireTools("test/wasmtime-serve.test.ts", ["wasmtime"], "scripts/install-tools.sh builds wasmtime 27.0.0");

describe("the component's interface (jco wit)", () => {
  const wit = spawnSync(join(ROOT, "node_modules/.bin/jco"), ["wit", COMPONENT], { encoding: "utf8" }).stdout;
  const imports = [...wit.matchAll(/^\s*import ([^;]+);$/gm)].map((m) => m[1]!);
  const exports = [...wit.matchAll(/^\s*export ([^;]+);$/gm)].map((m) => m[1]!);

  it("exports exactly wasi:http/incoming-handler, what the shim serves", () => {
    expect(exports).toEqual([expect.stringMatching(/^wasi:http\/incoming-handler@0\.2\.\d+$/)]);
  });

  it("imports WASI 0.2 interfaces only, and no wasi:cli/exit (whose exit-with-code no released shim has)", () => {
    expect(imports.length).toBeGreaterThan(0);
    for (const name of imports) expect(name).toMatch(/^wasi:[a-z-]+\/[a-z-]+@0\.2\.\d+$/);
    expect(imports.filter((name) => name.startsWith("wasi:cli/exit@"))).toEqual([]);
    expect(imports).toContain("wasi:cli/environment@0.2.12");
  });
});

describe.skipIf(!wasmtime.available)(suiteTitle("the README's wasmtime serve commands", wasmtime), () => {
  const groups: Group[] = [];
  afterAll(() => Promise.all(groups.map((group) => group.stop())));

  /** `wasmtime serve -S cli --addr 127.0.0.1:0 --env ... dist/wasm-pods.wasm` (the twin's argv on the raw .wasm); resolves with its URL once it answers. */
  async function serve(env: Record<string, string>): Promise<string> {
    const group = spawnGroup({
      command: toolPath(wasmtime, "wasmtime"),
      args: wasmtimeServeArgs({ host: "127.0.0.1", env }, COMPONENT),
      env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "" },
      output: "pipe",
    });
    groups.push(group);
    const port = await new Promise<number>((resolve, reject) => {
      void readLines(group, (line) => {
        const found = listeningPort(line);
        if (found) resolve(found);
      });
      void group.exited.then((code) => reject(new Error(`wasmtime serve exited (${code})`)));
    });
    const url = `http://127.0.0.1:${port}`;
    await waitFor200(`${url}/healthz`, { timeoutMs: 60_000 });
    return url;
  }

  it("serves the greeter and a splitter pointed at it, from the raw component", { timeout: 120_000 }, async () => {
    const [greeter, other] = await Promise.all([serve({ ROLE: "greeter" }), serve({ ROLE: "greeter" })]);
    const splitter = await serve({ ROLE: "splitter", GREETER_URL: greeter });
    expect(await (await fetch(`${greeter}/Sherlock`)).text()).toBe("Hello Sherlock!");
    expect(await (await fetch(`${other}/Po`)).text()).toBe("Greetings Po!");
    expect(await (await fetch(`${splitter}/split/Sherlock,Po`)).text()).toBe("Hello Sherlock! and Greetings Po!");
  });
});
