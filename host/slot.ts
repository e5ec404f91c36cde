// A slot: one instance of the transpiled component on its own worker thread, with its
// own preview2-shim I/O worker (host/slot-worker.ts starts it; host/slot-pool.ts keeps
// the slots). jco calls the component's export synchronously and the guest waits for its
// own downstream calls inside that call, so one slot answers one request at a time.
//
// Whatever a request leaves open in the shim when the guest returns (a request body the
// guest never read, a downstream call it gave up on at its deadline) is released at once,
// as wasmtime does when it drops the request's store: the body here, the calls by
// host/io-guard.mjs, loaded into the slot's I/O worker.
import { readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";
import { parentPort } from "node:worker_threads";
import { errorText } from "../lib/errors";

/** What a slot's worker is started with. */
export interface SlotData {
  modulePath: string;
  /** The component's core modules, compiled once by the main thread and shared (compiling the component in every slot would multiply start-up CPU). */
  compiled: Map<string, WebAssembly.Module>;
  guardModule: string;
}

export interface SlotStats {
  served: number;
  /** The slot's I/O worker tables (preview2-shim) and open downstream requests: flat when nothing leaks. */
  resources: { streams: number; futures: number; polls: number; sockets: number; openRequests: number };
}

/** The kubelet's probe paths (kustomize/base/deployment.yaml). */
export const PROBE_PATHS = ["/healthz", "/readyz"];

/** What the component answers on a probe path. */
export interface ProbeAnswer {
  status: number;
  contentType: string;
  body: string;
}

interface IncomingHandler {
  handle(request: unknown, responseOut: unknown): void;
}
interface IncomingRequest {
  consume(): { stream(): Record<symbol, () => void> };
}
type ImportObject = Record<string, Record<string, unknown>>;

/** Runs a slot on this worker thread: instantiates the component, serves it, answers the pool's messages. */
export async function runSlot(data: SlotData): Promise<void> {
  const [{ WASIShim }, http, io] = await Promise.all([
    import("@bytecodealliance/preview2-shim/instantiation"),
    import("@bytecodealliance/preview2-shim/http") as unknown as Promise<{ HTTPServer: new (handler: IncomingHandler) => { listen(port: number, host: string): void; address(): { port: number } } }>,
    import("@bytecodealliance/preview2-shim/io-worker"),
  ]);
  const guard = new URL(data.guardModule);
  const callGuard = (operation: string, args: unknown[] = []) => io.callExtension(guard, operation, args);
  callGuard("install"); // before the first request: it watches every downstream request from now on

  const imports = new WASIShim().getImportObject() as unknown as ImportObject;
  let downstreamCalls = 0;
  /** When the guest took its current request (process.hrtime.bigint()). */
  let takenAt = 0n;
  const guestDeadlineNs = BigInt(guestDeadlineMs(process.env.GREETER_TIMEOUT_MS)) * 1_000_000n;
  const outgoing = imports["wasi:http/outgoing-handler"]!;
  const send = outgoing.handle as (...args: unknown[]) => unknown;
  imports["wasi:http/outgoing-handler"] = {
    ...outgoing,
    handle: (...args: unknown[]) => {
      // The guest's deadline for a call starts when it makes it, after it took the request:
      // from takenAt + its timeout on, it may cancel what it reads (see io-guard.mjs).
      if (downstreamCalls++ === 0) callGuard("deadline", [String(takenAt + guestDeadlineNs)]);
      return send(...args);
    },
  };
  const transpiled = (await import(pathToFileURL(data.modulePath).href)) as {
    instantiate(getCoreModule: (path: string) => WebAssembly.Module, imports: unknown): { incomingHandler: IncomingHandler };
  };
  const coreModule = (path: string) =>
    data.compiled.get(path) ?? new WebAssembly.Module(readFileSync(join(dirname(data.modulePath), path)));
  const { incomingHandler } = transpiled.instantiate(coreModule, imports);

  let served = 0;
  const handler: IncomingHandler = {
    handle(request, responseOut) {
      downstreamCalls = 0;
      takenAt = process.hrtime.bigint();
      const body = watchBody(request as IncomingRequest);
      // The front frees this slot only once the guest is done, not when the client is.
      parentPort!.postMessage({ type: "started" });
      try {
        incomingHandler.handle(request, responseOut);
      } finally {
        served++;
        body.releaseIfUnread();
        // The guest has answered: a downstream call still open now was abandoned (its deadline passed).
        if (downstreamCalls > 0) callGuard("abandon");
        parentPort!.postMessage({ type: "done" });
      }
    },
  };
  const server = new http.HTTPServer(handler);
  server.listen(0, "127.0.0.1");
  const port = server.address().port;
  parentPort!.on("message", (message: { type: string }) => {
    if (message.type !== "stats") return;
    const resources = callGuard("counts") as SlotStats["resources"];
    const stats: SlotStats = { served, resources };
    parentPort!.postMessage({ type: "stats", stats });
  });
  // The component's own answers to the probe paths: they depend on its configuration
  // only, so the front can give them to the kubelet's probes without waiting for a slot.
  const probes: Record<string, ProbeAnswer> = {};
  for (const path of PROBE_PATHS) {
    const res = await fetch(`http://127.0.0.1:${port}${path}`);
    probes[path] = { status: res.status, contentType: res.headers.get("content-type") ?? "text/plain", body: await res.text() };
  }
  parentPort!.postMessage({ type: "ready", port, probes });
}

/**
 * The guest's deadline for a downstream call, read as the component reads GREETER_TIMEOUT_MS
 * (a whole number of ms from 1 to 60000, else its default). A value the component refuses
 * makes it answer 500 without calling anyone, so the default is as good as any then.
 */
export function guestDeadlineMs(raw: string | undefined): number {
  const value = Number(raw);
  return raw !== undefined && /^\s*\d+\s*$/.test(raw) && value >= 1 && value <= 60_000 ? value : 2_000;
}

const symbolDispose: symbol = (Symbol as { dispose?: symbol }).dispose ?? Symbol.for("dispose");

/**
 * preview2-shim registers each request's body in its I/O worker and forgets it
 * only when the guest drops the body's stream, which a GET handler never takes:
 * one entry (the whole IncomingMessage) per request, for ever. So after the guest
 * returns, take and drop a body it left untouched. A body the guest did take is
 * its own to drop (dropping it twice would trap the shim).
 */
function watchBody(request: IncomingRequest) {
  let consumed = false;
  const consume = request.consume;
  request.consume = function (this: IncomingRequest) {
    consumed = true;
    return consume.call(this);
  };
  return {
    releaseIfUnread() {
      if (consumed) return;
      try {
        request.consume().stream()[symbolDispose]!();
      } catch (error) {
        console.error(`pod: could not release a request body: ${errorText(error)}`);
      }
    },
  };
}
