// One local pod on jco's runtime: the transpiled component on preview2-shim's
// HTTP server, as `jco serve` runs it, with what a pod needs on top. This file is
// the pod's process: its flags, its signals, its parent's death and its stats.
//
//   node dist/host/pod.mjs --module dist/host/wasm-pods.js --listen 127.0.0.1:8080 --slots 4
//
// A pod runs `--slots` instances of the component, each on a worker thread of its own
// (host/slot.ts, started by host/slot-worker.ts), kept by a pool (host/slot-pool.ts)
// behind a small HTTP front on this thread (host/pod-front.ts) that hands each request
// to an idle slot. runtimes.ts bundles this file and the worker entry into dist/host/.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { isMainThread } from "node:worker_threads";
import { errorText } from "../lib/errors";
import { defaultQueueWaitMs, servePodFront } from "./pod-front";
import { hostPort } from "../lib/address";
import { type BodyLimits, DEFAULT_BODY_LIMITS } from "./request-body";
import { SlotPool, type SlotPoolOptions } from "./slot-pool";

// What test/ imports from here, from the files that now hold it.
export { defaultQueueWaitMs } from "./pod-front";
export { guestDeadlineMs } from "./slot";
export type { PodStats } from "./slot-pool";

/** Above the longest answer a healthy guest can take (GREETER_TIMEOUT_MS is at most 60 s): a slot still busy then is stuck. */
const DEFAULT_SLOT_DEADLINE_MS = 65_000;
/** Requests that may wait for a slot; beyond that the pod answers 503 at once. */
const DEFAULT_MAX_QUEUED = 256;

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port < 0 || port > 65535) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

function wholeNumber(raw: string | undefined, flag: string, min: number, max: number): number {
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${flag} must be a whole number from ${min} to ${max}`);
  return value;
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      module: { type: "string" },
      listen: { type: "string", default: "127.0.0.1:8080" },
      slots: { type: "string", default: "1" },
      "recycle-after": { type: "string", default: "1000" },
      "slot-deadline-ms": { type: "string", default: String(DEFAULT_SLOT_DEADLINE_MS) },
      "body-deadline-ms": { type: "string", default: String(DEFAULT_BODY_LIMITS.deadlineMs) },
      "max-body-bytes": { type: "string", default: String(DEFAULT_BODY_LIMITS.maxBytes) },
      "max-queued": { type: "string", default: String(DEFAULT_MAX_QUEUED) },
      "queue-wait-ms": { type: "string" },
    },
  });
  if (!values.module) throw new Error("--module <transpiled wasm-pods.js> is required");
  const { host, port } = parseListen(values.listen!);
  const options: SlotPoolOptions = {
    modulePath: resolve(values.module),
    guardModule: new URL("./io-guard.mjs", import.meta.url).href,
    slots: wholeNumber(values.slots, "--slots", 1, 64),
    recycleAfter: wholeNumber(values["recycle-after"], "--recycle-after", 0, 1_000_000),
    slotDeadlineMs: wholeNumber(values["slot-deadline-ms"], "--slot-deadline-ms", 100, 3_600_000),
  };
  const bodyLimits: BodyLimits = {
    deadlineMs: wholeNumber(values["body-deadline-ms"], "--body-deadline-ms", 100, 3_600_000),
    maxBytes: wholeNumber(values["max-body-bytes"], "--max-body-bytes", 0, 64 * 1024 * 1024),
  };
  const podName = process.env.POD_NAME ?? "";
  const maxQueued = wholeNumber(values["max-queued"], "--max-queued", 0, 100_000);
  const queueWaitMs =
    values["queue-wait-ms"] === undefined ? defaultQueueWaitMs(process.env.GREETER_TIMEOUT_MS) : wholeNumber(values["queue-wait-ms"], "--queue-wait-ms", 0, 3_600_000);

  const pool = new SlotPool(options);
  await pool.start();
  const front = await servePodFront(pool, {
    host,
    port,
    podName,
    bodyLimits,
    maxQueued,
    queueWaitMs,
    slotDeadlineMs: options.slotDeadlineMs,
  });
  // The kubelet reads the port from this line (port 0 = the kernel's choice).
  const where = hostPort(host, front.port);
  console.error(`pod ${process.env.POD_NAME ?? ""} (${process.env.ROLE ?? "no ROLE"}) listening on ${where}, ${options.slots} slot(s)`);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    void front.drain().then(() => {
      pool.stop();
      process.exit(why === "parent gone" ? 1 : 0);
    });
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // Started with an IPC channel by the kubelet: it closes when the parent dies, however it dies.
  process.on("disconnect", () => stop("parent gone"));
  process.on("message", (message: { type?: string }) => {
    if (message?.type === "stats") void pool.stats().then((stats) => process.send?.({ type: "stats", stats }));
  });
}

if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    console.error(`pod: ${errorText(error)}`);
    process.exit(1);
  });
}
