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
// --concurrency N (default 1) serves N requests at once, through N worker threads.
import { readdirSync, readFileSync } from "node:fs";
import {
  Agent,
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type OutgoingHttpHeaders,
  request as httpRequest,
  type ServerResponse,
} from "node:http";
import { basename, dirname, join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
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

/** How a pod (or one of its --concurrency workers) makes the component's handler. */
interface HandlerOptions {
  modulePath: string;
  isolate: boolean;
  recycleAfter: number;
  /** Core modules compiled already, by file name (workers get the main thread's, see compileCoreModules). */
  compiled?: Map<string, WebAssembly.Module>;
}

async function importHTTPServer(): Promise<HTTPServerClass> {
  // The package's type map points at its browser build, which has no HTTPServer.
  const { HTTPServer } = (await import("@bytecodealliance/preview2-shim/http")) as unknown as {
    HTTPServer: HTTPServerClass;
  };
  return HTTPServer;
}

/** The component's incoming-handler, wrapped as every pod serves it (--isolate / --recycle-after). */
async function loadHandler({ modulePath, isolate, recycleAfter, compiled }: HandlerOptions): Promise<IncomingHandler> {
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

async function main() {
  const { values } = parseArgs({
    options: {
      module: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:8080" },
      isolate: { type: "boolean", default: false },
      "recycle-after": { type: "string", default: String(DEFAULT_RECYCLE_AFTER) },
      concurrency: { type: "string", default: "1" },
    },
  });
  if (!values.module) throw new Error("--module <transpiled wasm-pods.js> is required");
  const modulePath = resolve(values.module);
  const { host, port } = parseListen(values.listen!);

  const recycleAfter = Number(values["recycle-after"]);
  if (!Number.isInteger(recycleAfter) || recycleAfter < 0) throw new Error("--recycle-after must be a whole number");
  const concurrency = Number(values.concurrency);
  if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > MAX_CONCURRENCY) {
    throw new Error(`--concurrency must be a whole number from 1 to ${MAX_CONCURRENCY}`);
  }
  const handlerOptions: HandlerOptions = { modulePath, isolate: values.isolate!, recycleAfter };

  let stopServing: () => void;
  if (concurrency === 1) {
    const HTTPServer = await importHTTPServer();
    const server = new HTTPServer(await loadHandler(handlerOptions));
    server.listen(port, host);
    stopServing = () => server.stop();
  } else {
    stopServing = await serveThroughWorkers(handlerOptions, concurrency, host, port);
  }
  const workers = concurrency === 1 ? "" : `, ${concurrency} workers`;
  console.error(`pod ${process.env.POD_NAME ?? ""} (${process.env.ROLE ?? "no ROLE"}${workers}) listening on ${host}:${port}`);

  const stop = () => {
    stopServing();
    process.exit(0);
  };
  process.once("SIGTERM", stop);
  process.once("SIGINT", stop);
  // A pod whose runner died (even by SIGKILL) must not keep holding its port.
  watchParent(stop);
}

// --- --concurrency N: N instances, each on a worker thread of its own ---
//
// jco calls the incoming-handler export synchronously, so one instance answers
// one request at a time: a splitter waiting on its greeters blocks every other
// request (head-of-line blocking). The k3s shim runs an instance per request
// concurrently; to come closer, the main thread here only proxies, handing each
// request to an idle worker, each of which serves the component as the
// single-process mode does, on a loopback port of its own (as
// `jco serve --isolate-requests worker` does).

/** More workers than this is a typo, not a plan: each is a thread plus the shim's I/O thread. */
const MAX_CONCURRENCY = 64;

/** What a worker is started with (the marker tells it apart from a test runner's worker). */
interface PodWorkerData extends HandlerOptions {
  podWorker: true;
}

type WorkerMessage = { port: number } | { error: string };

interface PodWorker {
  port: number;
  /** Keep-alive to this worker, one socket: it serves one request at a time anyway. */
  agent: Agent;
}

/** Worker mode: serve the component on 127.0.0.1:<any> and post the port to the main thread. */
async function runWorker(data: PodWorkerData): Promise<void> {
  try {
    const HTTPServer = await importHTTPServer();
    const server = new HTTPServer(await loadHandler(data));
    server.listen(0, "127.0.0.1");
    const { port } = (server as unknown as { address(): { port: number } }).address();
    parentPort!.postMessage({ port } satisfies WorkerMessage);
  } catch (error) {
    parentPort!.postMessage({ error: error instanceof Error ? (error.stack ?? error.message) : String(error) } satisfies WorkerMessage);
  }
}

/**
 * The transpiled component's core modules (<name>.core*.wasm beside it), compiled
 * once here and shared with every worker: compiling the 13 MB one in each worker
 * would multiply a pod's startup CPU by N.
 */
async function compileCoreModules(modulePath: string): Promise<Map<string, WebAssembly.Module>> {
  const prefix = `${basename(modulePath, ".js")}.core`;
  const files = readdirSync(dirname(modulePath)).filter((file) => file.startsWith(prefix) && file.endsWith(".wasm"));
  const compiled = await Promise.all(files.map((file) => WebAssembly.compile(readFileSync(join(dirname(modulePath), file)))));
  return new Map(files.map((file, i) => [file, compiled[i]!]));
}

/** Starts one worker and resolves with its port once it is serving. */
function startWorker(options: HandlerOptions, onDied: (reason: string) => void): Promise<PodWorker> {
  // Same compiled file, re-entered in worker mode; workers inherit process.env (the guest's env) and --expose-gc.
  const worker = new Worker(new URL(import.meta.url), { workerData: { ...options, podWorker: true } satisfies PodWorkerData });
  return new Promise((resolvePort, reject) => {
    let started = false;
    worker.once("message", (message: WorkerMessage) => {
      if ("error" in message) {
        reject(new Error(`a worker could not start: ${message.error}`));
        return;
      }
      started = true;
      resolvePort({ port: message.port, agent: new Agent({ keepAlive: true, maxSockets: 1 }) });
    });
    worker.on("error", (error) => (started ? onDied(`a worker failed: ${error.message}`) : reject(error)));
    worker.once("exit", (code) =>
      started ? onDied(`a worker exited (${code})`) : reject(new Error(`a worker exited (${code}) while starting`)),
    );
  });
}

/** Idle workers, and requests waiting for one, both first come first served. */
class WorkerPool {
  private readonly idle: PodWorker[];
  private readonly waiting: ((worker: PodWorker) => void)[] = [];

  constructor(workers: PodWorker[]) {
    this.idle = [...workers];
  }

  acquire(): Promise<PodWorker> {
    const worker = this.idle.shift();
    return worker ? Promise.resolve(worker) : new Promise((resolveWorker) => this.waiting.push(resolveWorker));
  }

  release(worker: PodWorker): void {
    const next = this.waiting.shift();
    if (next) next(worker);
    else this.idle.push(worker);
  }
}

/** Per-connection headers (RFC 9110 7.6.1): never forwarded by a proxy. */
const HOP_BY_HOP = new Set([
  "connection",
  "keep-alive",
  "proxy-connection",
  "proxy-authenticate",
  "proxy-authorization",
  "te",
  "trailer",
  "transfer-encoding",
  "upgrade",
]);

function endToEnd(headers: IncomingHttpHeaders): OutgoingHttpHeaders {
  // Headers the Connection header names are per-connection too.
  const named = new Set(
    String(headers.connection ?? "")
      .split(",")
      .map((name) => name.trim().toLowerCase()),
  );
  const kept: OutgoingHttpHeaders = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value !== undefined && !HOP_BY_HOP.has(name) && !named.has(name)) kept[name] = value;
  }
  return kept;
}

/** Streams one request to `worker` and its response back; calls `done` once, when the worker is free again. */
function forward(worker: PodWorker, req: IncomingMessage, res: ServerResponse, done: () => void): void {
  let finished = false;
  const finish = () => {
    if (!finished) {
      finished = true;
      done();
    }
  };
  let workerResponse: IncomingMessage | undefined;
  const upstream = httpRequest(
    {
      host: "127.0.0.1",
      port: worker.port,
      agent: worker.agent,
      method: req.method,
      path: req.url,
      headers: endToEnd(req.headers),
    },
    (response) => {
      workerResponse = response;
      if (res.destroyed) {
        response.resume();
        return;
      }
      res.writeHead(response.statusCode ?? 502, response.statusMessage, endToEnd(response.headers));
      response.pipe(res);
    },
  );
  upstream.once("error", (error) => {
    if (!res.headersSent) res.writeHead(502, { "content-type": "text/plain" }).end(`pod: the worker failed: ${error.message}`);
    else res.destroy(error);
  });
  // 'close' comes once the exchange is over, completed or cut short.
  upstream.once("close", finish);
  res.once("close", () => {
    if (res.writableFinished) return;
    // The client left. Its guest call runs to the end regardless, so let it, and
    // discard the answer: releasing the worker earlier would queue the next
    // request behind it. A half-sent body cannot be finished: cut that one off.
    if (req.complete) workerResponse?.resume();
    else upstream.destroy();
  });
  req.once("error", () => upstream.destroy());
  req.pipe(upstream);
}

/** Starts the workers, then listens on host:port; resolves with a function that stops serving. */
async function serveThroughWorkers(options: HandlerOptions, concurrency: number, host: string, port: number): Promise<() => void> {
  let stopping = false;
  // A pod short of a worker would quietly serve at less than its concurrency: exit, and let the runner restart it.
  const onDied = (reason: string) => {
    if (stopping) return;
    console.error(`pod: ${reason}; exiting`);
    process.exit(1);
  };
  const withCompiled = { ...options, compiled: await compileCoreModules(options.modulePath) };
  const workers = await Promise.all(Array.from({ length: concurrency }, () => startWorker(withCompiled, onDied)));
  const pool = new WorkerPool(workers);
  const server = createServer((req, res) => {
    void pool.acquire().then((worker) => {
      // A client that left while queued (a load generator stopping, say) has no
      // request left to stream: forwarding it would hold the worker forever.
      if (res.destroyed || req.destroyed) pool.release(worker);
      else forward(worker, req, res, () => pool.release(worker));
    });
  });
  // Listen only now: /healthz answering means every worker is serving.
  await new Promise<void>((resolveListening, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolveListening();
    });
  });
  return () => {
    stopping = true;
    server.close();
    for (const worker of workers) worker.agent.destroy();
  };
}

const podWorkerData = isMainThread ? undefined : (workerData as Partial<PodWorkerData> | undefined);
if (podWorkerData?.podWorker === true) {
  void runWorker(podWorkerData as PodWorkerData);
} else if (isMainThread && import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((error: unknown) => {
    console.error(`pod: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
