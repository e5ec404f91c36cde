// One local "pod": serves the transpiled component over HTTP through jco's
// runtime (preview2-shim), with this process's environment as the guest's env,
// as a Deployment's `env:` would set it.
//
//   node dist/host/pod.mjs --module dist/host/wasm-pods.js --listen 127.0.0.1:8081 [--isolate]
//
// scripts/lib/transpile.ts compiles this file to dist/host/pod.mjs, so a pod is
// one plain node process (no tsx: faster to start, and a signal reaches it).
// --isolate makes a fresh instance per request, like `wasmtime serve` and the
// k3s shim; without it one instance answers every request, like `jco serve`.
import { readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";
import { watchParent } from "./topology/parent-watch";

interface IncomingHandler {
  handle(request: unknown, responseOut: unknown): void;
}
interface HTTPServerClass {
  new (handler: IncomingHandler): { listen(port: number, host: string): void; stop(): void };
}
interface Transpiled {
  instantiate(getCoreModule: (path: string) => WebAssembly.Module, imports: unknown): { incomingHandler: IncomingHandler };
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

/**
 * A reused instance grows and never shrinks: its linear memory by a few KB per
 * request, and a splitter's instance keeps every greeter response's stream,
 * future and pollables alive in the shim's I/O worker (~3 streams and 9 polls per
 * /split of 3 names, measured). The k3s shim never reuses an instance; here one
 * serves `recycleAfter` requests (0 = forever), then a fresh one takes over, which
 * bounds both. Requests run one at a time (the export call is synchronous), so
 * the swap never cuts one short. A swap (fresh instance ~35 ms, plus a GC) costs
 * ~2% of throughput at 1000; at 250 it cost ~9% (npm run bench, measured).
 */
export const DEFAULT_RECYCLE_AFTER = 1000;

export function recycled(instantiate: () => IncomingHandler, recycleAfter: number): IncomingHandler {
  let current = instantiate();
  let served = 0;
  return {
    handle(request, responseOut) {
      if (recycleAfter > 0 && served === recycleAfter) {
        current = instantiate();
        served = 0;
        // The old instance's shim resources are freed by finalizers, which run only
        // once V8 collects it; V8 cannot see that pressure, so ask (pods run with --expose-gc).
        (globalThis as { gc?: () => void }).gc?.();
      }
      served++;
      current.handle(request, responseOut);
    },
  };
}

/** What the shim hands the guest as an `incoming-request`: consume() makes the body's input stream. */
interface IncomingRequest {
  consume(): { stream(): Record<symbol, () => void> };
}
const symbolDispose: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for("dispose");

/**
 * preview2-shim's HTTPServer registers each request's body (the node
 * IncomingMessage) in its I/O worker's `streams` map, and only the guest's drop
 * of the body's input-stream deletes it; the IncomingRequest itself has no
 * dispose or finalizer. A guest that never reads the body (every GET here) thus
 * leaves one entry, holding the whole IncomingMessage, in that worker isolate per
 * request (~2 KB of worker heap each, measured), which no instance recycling frees. So,
 * after the guest returns, take and drop the body it left untouched. A body the
 * guest did consume is its own to drop (dropping it twice would trap the shim).
 */
export function releasingUnreadBodies(inner: IncomingHandler): IncomingHandler {
  return {
    handle(request, responseOut) {
      const incoming = request as IncomingRequest;
      let consumed = false;
      const consume = incoming.consume;
      incoming.consume = function (this: IncomingRequest) {
        consumed = true;
        return consume.call(this);
      };
      try {
        inner.handle(request, responseOut);
      } finally {
        if (!consumed) {
          try {
            incoming.consume().stream()[symbolDispose]!();
          } catch (error) {
            console.error(`pod: could not release a request body: ${error instanceof Error ? error.message : String(error)}`);
          }
        }
      }
    },
  };
}

async function main() {
  const { values } = parseArgs({
    options: {
      module: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:8080" },
      isolate: { type: "boolean", default: false },
      "recycle-after": { type: "string", default: String(DEFAULT_RECYCLE_AFTER) },
    },
  });
  if (!values.module) throw new Error("--module <transpiled wasm-pods.js> is required");
  const modulePath = resolve(values.module);
  const { host, port } = parseListen(values.listen!);

  // The package's type map points at its browser build, which has no HTTPServer.
  const { HTTPServer } = (await import("@bytecodealliance/preview2-shim/http")) as unknown as {
    HTTPServer: HTTPServerClass;
  };
  const transpiled = (await import(pathToFileURL(modulePath).href)) as Transpiled;
  const coreModules = new Map<string, WebAssembly.Module>();
  const getCoreModule = (path: string) => {
    let module = coreModules.get(path);
    if (!module) {
      module = new WebAssembly.Module(readFileSync(join(dirname(modulePath), path)));
      coreModules.set(path, module);
    }
    return module;
  };
  const instantiate = () => transpiled.instantiate(getCoreModule, new WASIShim().getImportObject()).incomingHandler;

  const recycleAfter = Number(values["recycle-after"]);
  if (!Number.isInteger(recycleAfter) || recycleAfter < 0) throw new Error("--recycle-after must be a whole number");
  const handler: IncomingHandler = values.isolate
    ? { handle: (request, responseOut) => instantiate().handle(request, responseOut) }
    : recycled(instantiate, recycleAfter);

  const server = new HTTPServer(releasingUnreadBodies(handler));
  server.listen(port, host);
  console.error(`pod ${process.env.POD_NAME ?? ""} (${process.env.ROLE ?? "no ROLE"}) listening on ${host}:${port}`);

  const stop = () => {
    server.stop();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // A pod whose runner died (even by SIGKILL) must not keep holding its port.
  watchParent(stop);
}

if (import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((error: unknown) => {
    console.error(`pod: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
