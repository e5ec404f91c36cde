// The component's incoming-handler as every local pod serves it: one instance
// reused (and recycled) or a fresh one per request, with the request bodies the
// guest never read released after each request.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { WASIShim } from "@bytecodealliance/preview2-shim/instantiation";

export interface IncomingHandler {
  handle(request: unknown, responseOut: unknown): void;
}
export interface HTTPServerClass {
  new (handler: IncomingHandler): { listen(port: number, host: string): void; stop(): void };
}
export interface Transpiled {
  instantiate(getCoreModule: (path: string) => WebAssembly.Module, imports: unknown): { incomingHandler: IncomingHandler };
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

/** How a pod (or one of its --concurrency workers) makes the component's handler. */
export interface HandlerOptions {
  modulePath: string;
  isolate: boolean;
  recycleAfter: number;
  /** Core modules compiled already, by file name (workers get the main thread's, see compileCoreModules). */
  compiled?: Map<string, WebAssembly.Module>;
}

export async function importHTTPServer(): Promise<HTTPServerClass> {
  // The package's type map points at its browser build, which has no HTTPServer.
  const { HTTPServer } = (await import("@bytecodealliance/preview2-shim/http")) as unknown as {
    HTTPServer: HTTPServerClass;
  };
  return HTTPServer;
}

/** The component's incoming-handler, wrapped as every pod serves it (--isolate / --recycle-after). */
export async function loadHandler({ modulePath, isolate, recycleAfter, compiled }: HandlerOptions): Promise<IncomingHandler> {
  const transpiled = (await import(pathToFileURL(modulePath).href)) as Transpiled;
  const coreModules = new Map<string, WebAssembly.Module>(compiled);
  const getCoreModule = (path: string) => {
    let module = coreModules.get(path);
    if (!module) {
      module = new WebAssembly.Module(readFileSync(join(dirname(modulePath), path)));
      coreModules.set(path, module);
    }
    return module;
  };
  const instantiate = () => transpiled.instantiate(getCoreModule, new WASIShim().getImportObject()).incomingHandler;
  const handler: IncomingHandler = isolate
    ? { handle: (request, responseOut) => instantiate().handle(request, responseOut) }
    : recycled(instantiate, recycleAfter);
  return releasingUnreadBodies(handler);
}

