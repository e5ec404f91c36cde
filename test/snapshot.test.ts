// componentize-js runs src/main.ts's top level at build time and snapshots the heap
// (Wizer): the routers are built and warmed there (src/warm-up.ts). The snapshot must
// hold no environment: a build made with a role, a pod name and a greeter in its
// environment serves as whatever its instance's environment says, and one instance
// follows that environment from one request to the next.
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ROOT } from "../lib/build";

/**
 * A greeter in a process of its own: preview2-shim's outgoing calls block this thread
 * while its I/O worker makes them, so a greeter served from this thread would never answer.
 */
const GREETER_SOURCE = `
const server = require("node:http").createServer((req, res) => {
  const name = decodeURIComponent(req.url.slice(1));
  const greeting = (/^[Ss]/.test(name) ? "Hello " : "Greetings ") + name + "!";
  res.setHeader("content-type", "application/json");
  res.end(JSON.stringify({ name, greeting, servedBy: "child-greeter" }));
});
server.listen(0, "127.0.0.1", () => console.log(server.address().port));
process.stdin.on("end", () => process.exit(0)).resume();`;

/** A value no source file holds: if it is in the component, the build's environment is too. */
const CANARY = `snapshot-canary-${process.pid}`;
const BUILD_ENV = { ROLE: "splitter", POD_NAME: CANARY, HOSTNAME: CANARY, GREETER_URL: `http://${CANARY}.invalid:1`, MAX_NAMES: "1" };

type Handler = { handle(request: unknown, responseOut: unknown): void };

describe("the build's snapshot", () => {
  let dist: string;
  let component: Buffer;
  let url: string;
  let greeterUrl: string;
  let stopGreeter = () => {};
  let close = () => {};
  /** The instance's environment, read by the component through wasi:cli/environment. */
  let env: [string, string][] = [];

  beforeAll(async () => {
    dist = mkdtempSync(join(tmpdir(), "wp-snapshot-"));
    const build = spawnSync(join(ROOT, "build.sh"), { cwd: ROOT, env: { ...process.env, ...BUILD_ENV, DIST: dist }, encoding: "utf8" });
    expect(build.status, build.stderr).toBe(0);
    component = readFileSync(join(dist, "wasm-pods.wasm"));
    const out = join(dist, "js");
    const jco = spawnSync(join(ROOT, "node_modules/.bin/jco"), ["transpile", join(dist, "wasm-pods.wasm"), "-o", out, "--name", "wasm-pods", "--instantiation", "sync"], { encoding: "utf8" });
    expect(jco.status, jco.stderr).toBe(0);

    const [{ WASIShim }, http] = await Promise.all([
      import("@bytecodealliance/preview2-shim/instantiation"),
      import("@bytecodealliance/preview2-shim/http") as unknown as Promise<{ HTTPServer: new (handler: Handler) => { listen(port: number, host: string): void; address(): { port: number }; stop(): void } }>,
    ]);
    const imports = new WASIShim().getImportObject() as unknown as Record<string, Record<string, unknown>>;
    imports["wasi:cli/environment"] = { ...imports["wasi:cli/environment"], getEnvironment: () => env };
    const transpiled = (await import(pathToFileURL(join(out, "wasm-pods.js")).href)) as {
      instantiate(getCoreModule: (path: string) => WebAssembly.Module, imports: unknown): { incomingHandler: Handler };
    };
    const { incomingHandler } = transpiled.instantiate((path) => new WebAssembly.Module(readFileSync(join(dirname(join(out, "wasm-pods.js")), path))), imports);
    const server = new http.HTTPServer(incomingHandler);
    server.listen(0, "127.0.0.1");
    url = `http://127.0.0.1:${server.address().port}`;
    close = () => server.stop();
    const child = spawn(process.execPath, ["-e", GREETER_SOURCE], { stdio: ["pipe", "pipe", "inherit"] });
    stopGreeter = () => child.kill();
    const port = await new Promise<string>((resolve) => child.stdout.once("data", (chunk: Buffer) => resolve(chunk.toString().trim())));
    greeterUrl = `http://127.0.0.1:${port}`;
  }, 240_000);

  afterAll(async () => {
    close();
    stopGreeter();
    if (dist) rmSync(dist, { recursive: true, force: true });
  });

  const ask = async (path: string) => {
    const res = await fetch(url + path, { signal: AbortSignal.timeout(10_000) });
    return { status: res.status, servedBy: res.headers.get("x-served-by"), body: await res.text() };
  };

  it("holds none of the environment it was built in", () => {
    expect(component.includes(CANARY)).toBe(false);
  });

  it("one instance follows its environment from one request to the next: no role, the greeter, the splitter", async () => {
    env = [];
    expect(await ask("/Sherlock")).toEqual({ status: 500, servedBy: "unknown", body: 'ROLE must be "greeter" or "splitter", got ""' });

    env = [["ROLE", "greeter"], ["POD_NAME", "pod-a"]];
    expect(await ask("/Sherlock")).toEqual({ status: 200, servedBy: "pod-a", body: "Hello Sherlock!" });
    expect(await ask("/split/Sherlock,Po")).toMatchObject({ status: 404, servedBy: "pod-a" });

    env = [["ROLE", "splitter"], ["POD_NAME", "pod-b"], ["GREETER_URL", greeterUrl]];
    expect(await ask("/split/Sherlock,Po")).toEqual({ status: 200, servedBy: "pod-b", body: "Hello Sherlock! and Greetings Po!" });

    env = [["ROLE", "splitter"], ["POD_NAME", "pod-c"], ["GREETER_URL", greeterUrl], ["MAX_NAMES", "1"]];
    expect(await ask("/split/Sherlock,Po")).toEqual({ status: 400, servedBy: "pod-c", body: "2 names given; at most 1 are allowed" });

    env = [["ROLE", "greeter"], ["POD_NAME", "pod-a"]];
    expect(await ask("/Po")).toEqual({ status: 200, servedBy: "pod-a", body: "Greetings Po!" });
  });
});
