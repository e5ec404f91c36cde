// One local "pod": serves the transpiled component over HTTP through jco's
// runtime (preview2-shim), with this process's environment as the guest's env,
// as a Deployment's `env:` would set it.
//
//   node dist/host/pod.mjs --module dist/host/wasm-pods.js --listen 127.0.0.1:8081 [--isolate]
//
// scripts/lib/transpile.ts bundles this file (with scripts/pod/) into dist/host/pod.mjs, so a pod is
// one plain node process (no tsx: faster to start, and a signal reaches it).
// --isolate makes a fresh instance per request, like `wasmtime serve` and the
// k3s shim; without it one instance answers every request, like `jco serve`.
// --concurrency N (default 1) serves N requests at once, through N worker threads.
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";
import { isMainThread, workerData } from "node:worker_threads";
import { DEFAULT_RECYCLE_AFTER, type HandlerOptions, importHTTPServer, loadHandler } from "./pod/handler";
import { MAX_CONCURRENCY, type PodWorkerData, runWorker, serveThroughWorkers } from "./pod/workers";
import { watchParent } from "./topology/parent-watch";

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port < 1 || port > 65535) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
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

const podWorkerData = isMainThread ? undefined : (workerData as Partial<PodWorkerData> | undefined);
if (podWorkerData?.podWorker === true) {
  void runWorker(podWorkerData as PodWorkerData);
} else if (isMainThread && import.meta.url === pathToFileURL(process.argv[1]!).href) {
  main().catch((error: unknown) => {
    console.error(`pod: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  });
}
