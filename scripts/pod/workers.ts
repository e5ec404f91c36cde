// --concurrency N: N instances, each on a worker thread of its own, behind a
// small proxy on the pod's port.
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
import { basename, dirname, join } from "node:path";
import { parentPort, Worker } from "node:worker_threads";
import { type HandlerOptions, importHTTPServer, loadHandler } from "./handler";

//
// jco calls the incoming-handler export synchronously, so one instance answers
// one request at a time: a splitter waiting on its greeters blocks every other
// request (head-of-line blocking). The k3s shim runs an instance per request
// concurrently; to come closer, the main thread here only proxies, handing each
// request to an idle worker, each of which serves the component as the
// single-process mode does, on a loopback port of its own (as
// `jco serve --isolate-requests worker` does).

/** More workers than this is a typo, not a plan: each is a thread plus the shim's I/O thread. */
export const MAX_CONCURRENCY = 64;

/** What a worker is started with (the marker tells it apart from a test runner's worker). */
export interface PodWorkerData extends HandlerOptions {
  podWorker: true;
}

type WorkerMessage = { port: number } | { error: string };

interface PodWorker {
  port: number;
  /** Keep-alive to this worker, one socket: it serves one request at a time anyway. */
  agent: Agent;
}

/** Worker mode: serve the component on 127.0.0.1:<any> and post the port to the main thread. */
export async function runWorker(data: PodWorkerData): Promise<void> {
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
  // The same compiled file (dist/host/pod.mjs bundles this module), re-entered in
  // worker mode; workers inherit process.env (the guest's env) and --expose-gc.
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
export async function serveThroughWorkers(options: HandlerOptions, concurrency: number, host: string, port: number): Promise<() => void> {
  let stopping = false;
  // A pod short of a worker would quietly serve at less than its concurrency: exit, and let the runner restart it.
  const onDied = (reason: string) => {
    if (stopping) return;
    console.error(`pod: ${reason}; exiting`);
    process.exit(1);
  };
  // The pod as a whole still replaces an instance every `recycleAfter` requests: each
  // worker sees 1/N of them, and its instance's growth must stay as bounded as a single one's.
  const perWorker = options.recycleAfter > 0 ? Math.ceil(options.recycleAfter / concurrency) : 0;
  const withCompiled = { ...options, recycleAfter: perWorker, compiled: await compileCoreModules(options.modulePath) };
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

