// One local pod on jco's runtime: the transpiled component on preview2-shim's
// HTTP server, as `jco serve` runs it, with what a pod needs on top.
//
//   node dist/host/pod.mjs --module dist/host/wasm-pods.js --listen 127.0.0.1:8080 --slots 4
//
// jco calls the component's export synchronously and the guest waits for its
// own downstream calls inside that call, so one instance on one thread answers
// one request at a time. A pod therefore runs `--slots` instances, each on a
// worker thread with its own preview2-shim I/O worker, behind a small HTTP front
// on this thread that hands each request to an idle slot. This thread never runs
// guest code, so it always answers signals and its parent's death.
//
// A slot is only given a request that is ready to run: the front reads and bounds
// its body first (host/request-body.ts: 408 too slow, 413 too big, a GET or HEAD
// with a body refused on its head), so a slow client holds a connection of the
// front, never a guest. And a request that got no slot within the guest's own
// deadline is refused (503, Retry-After) rather than handed over to answer late.
//
// Memory stays bounded two ways. A slot is replaced by a fresh one after
// `--recycle-after` requests (a reused instance's heap and the shim's tables
// only grow): the new slot boots on its own thread first, so no request waits
// for it. And within a slot, whatever a request leaves open in the shim when the
// guest returns (a request body the guest never read, a downstream call it gave
// up on at its deadline) is released at once, as wasmtime does when it drops the
// request's store.
import { readdirSync, readFileSync } from "node:fs";
import { Agent, type IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { basename, dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { parseArgs } from "node:util";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";
import { guardedServer } from "./connections";
import { forward, hostPort } from "./proxy";
import { type BodyLimits, bodyVerdict, DEFAULT_BODY_LIMITS, readBody } from "./request-body";
import { sendTwinAnswer } from "./twin-answer";
import { errorText } from "../scripts/lib/errors";

/** Above the longest answer a healthy guest can take (GREETER_TIMEOUT_MS is at most 60 s): a slot still busy then is stuck. */
const DEFAULT_SLOT_DEADLINE_MS = 65_000;
/** Requests that may wait for a slot; beyond that the pod answers 503 at once. */
const DEFAULT_MAX_QUEUED = 256;
/** How long SIGTERM waits for requests in flight before exiting anyway; the kubelet's kill grace exceeds it. */
export const DRAIN_MS = 5_000;
/** How long a slot has to give its account before it counts as stuck in guest code. */
const SLOT_STATS_WAIT_MS = 2_000;

interface SlotData {
  slot: true;
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

export interface PodStats {
  slots: SlotStats[];
  /** Slots replaced after serving their share. */
  replaced: number;
  /** Slots that died on their own or were stuck past the deadline, and were replaced. */
  died: number;
}

// ----------------------------------------------------------------------------
// A slot: one component instance on its own thread.

interface IncomingHandler {
  handle(request: unknown, responseOut: unknown): void;
}
interface IncomingRequest {
  consume(): { stream(): Record<symbol, () => void> };
}
type ImportObject = Record<string, Record<string, unknown>>;

async function runSlot(data: SlotData): Promise<void> {
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

/**
 * How long a request may wait for a slot before the front refuses it (503, Retry-After):
 * the guest's own deadline. A request that waited that long has spent the time the
 * contract gives a split; handed over now, its answer could only come late.
 */
export function defaultQueueWaitMs(greeterTimeoutMs: string | undefined): number {
  return guestDeadlineMs(greeterTimeoutMs);
}

/** The kubelet's probe paths (kustomize/base/deployment.yaml). */
const PROBE_PATHS = ["/healthz", "/readyz"];

interface ProbeAnswer {
  status: number;
  contentType: string;
  body: string;
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

// ----------------------------------------------------------------------------
// The front: the pod's port, handing each request to an idle slot.

class Slot {
  /** Handed a request by the front, until the guest is done with it. */
  busy = false;
  /** Inside the guest's handler right now (the slot's own "started"/"done" messages). */
  running = false;
  served = 0;
  /** Set once a replacement is booting, so only one is. */
  replacing = false;
  private whenDone: (() => void)[] = [];
  // One socket: a slot serves one request at a time. Idle sockets close before the slot's
  // server would close them (Node's keep-alive default), so a request is never written into a closing socket.
  readonly agent = new Agent({ keepAlive: true, maxSockets: 1, timeout: 4_000 });
  constructor(
    readonly id: number,
    readonly worker: Worker,
    readonly port: number,
    readonly probes: Record<string, ProbeAnswer>,
  ) {
    worker.on("message", (message: { type: string }) => {
      if (message.type === "started") this.running = true;
      if (message.type === "done") {
        this.running = false;
        for (const resolveDone of this.whenDone.splice(0)) resolveDone();
      }
    });
  }
  /** Resolves once the guest is not handling a request (at once when it is not). */
  idle(): Promise<void> {
    return this.running ? new Promise((resolveDone) => this.whenDone.push(resolveDone)) : Promise.resolve();
  }
  /** The slot's own account, or undefined when it does not answer within SLOT_STATS_WAIT_MS (stuck in guest code). */
  stats(): Promise<SlotStats | undefined> {
    return new Promise((resolveStats) => {
      const timer = setTimeout(() => finish(undefined), SLOT_STATS_WAIT_MS);
      const onMessage = (message: { type: string; stats: SlotStats }) => {
        if (message.type === "stats") finish(message.stats);
      };
      const finish = (stats: SlotStats | undefined) => {
        clearTimeout(timer);
        this.worker.off("message", onMessage);
        resolveStats(stats);
      };
      this.worker.on("message", onMessage);
      this.worker.postMessage({ type: "stats" });
    });
  }
  stop(): void {
    this.agent.destroy();
    void this.worker.terminate();
    for (const resolveDone of this.whenDone.splice(0)) resolveDone();
  }
}

interface PodOptions {
  modulePath: string;
  guardModule: string;
  slots: number;
  recycleAfter: number;
  /** A slot still in guest code this long after it was handed a request is stuck. */
  slotDeadlineMs: number;
}

class SlotPool {
  private idle: Slot[] = [];
  private waiting: ((slot: Slot) => void)[] = [];
  private all = new Set<Slot>();
  private nextId = 1;
  private compiled = new Map<string, WebAssembly.Module>();
  replaced = 0;
  /** Slots that died on their own or were stuck past the deadline. */
  died = 0;
  private stopping = false;

  constructor(private readonly options: PodOptions) {}

  async start(): Promise<void> {
    this.compiled = await compileCoreModules(this.options.modulePath);
    const slots = await Promise.all(Array.from({ length: this.options.slots }, () => this.boot()));
    for (const slot of slots) this.release(slot);
  }

  get queued(): number {
    return this.waiting.length;
  }

  /** An idle slot, or the next one freed within `waitMs` (0: however long it takes); undefined when none was. */
  acquire(waitMs = 0): Promise<Slot | undefined> {
    const slot = this.idle.shift();
    if (slot) {
      slot.busy = true;
      return Promise.resolve(slot);
    }
    return new Promise((resolveSlot) => {
      const waiter = (freed: Slot) => {
        clearTimeout(timer);
        resolveSlot(freed);
      };
      const timer =
        waitMs > 0
          ? setTimeout(() => {
              this.waiting = this.waiting.filter((w) => w !== waiter);
              resolveSlot(undefined);
            }, waitMs)
          : undefined;
      this.waiting.push(waiter);
    });
  }

  /** A slot is free again: to the next waiter, or idle; replaced first if it has served its share. */
  release(slot: Slot): void {
    if (!this.all.has(slot)) return;
    if (this.options.recycleAfter > 0 && slot.served >= this.options.recycleAfter && !slot.replacing) {
      slot.replacing = true;
      // Make before break: the old slot keeps serving until its replacement is ready.
      void this.boot().then((fresh) => {
        this.retire(slot);
        this.replaced++;
        this.release(fresh);
      }, exitOnSlotFailure);
    }
    const next = this.waiting.shift();
    if (next) {
      slot.busy = true;
      next(slot);
    } else {
      slot.busy = false;
      this.idle.push(slot);
    }
  }

  /** Takes a slot out of service: at once when idle, else when its request ends (release ignores it). */
  private retire(slot: Slot): void {
    this.all.delete(slot);
    this.idle = this.idle.filter((s) => s !== slot);
    if (!slot.busy) slot.stop(); // a busy one is stopped by done(), when its request ends
  }

  /** The guest is done with the request handed to `slot`. */
  done(slot: Slot): void {
    slot.served++;
    if (!this.all.has(slot)) {
      slot.stop(); // retired or replaced while busy
      return;
    }
    this.release(slot);
  }

  /** A slot still in guest code past the deadline is stuck (a loop, say): it is replaced, not waited for. */
  replaceStuck(slot: Slot): void {
    this.replaceDead(slot, `still busy after ${this.options.slotDeadlineMs} ms`);
  }

  /** Stops a slot that died or is stuck, and boots a fresh one in its place. */
  private replaceDead(slot: Slot, why: string): void {
    if (this.stopping || !this.all.has(slot)) return;
    console.error(`pod: slot ${slot.id} ${why}; replacing it`);
    this.all.delete(slot);
    this.died++;
    this.idle = this.idle.filter((s) => s !== slot);
    slot.stop();
    void this.boot().then((fresh) => this.release(fresh), exitOnSlotFailure);
  }

  /** What the component answers on a probe path (the newest slot's), or undefined before any slot is up. */
  probeAnswer(path: string): ProbeAnswer | undefined {
    return [...this.all].at(-1)?.probes[path];
  }

  /** Each slot's own account; one stuck in guest code cannot answer, and is left out after SLOT_STATS_WAIT_MS. */
  async stats(): Promise<PodStats> {
    const answers = await Promise.all([...this.all].map((slot) => slot.stats()));
    return { slots: answers.filter((stats) => stats !== undefined), replaced: this.replaced, died: this.died };
  }

  stop(): void {
    this.stopping = true;
    for (const slot of this.all) slot.stop();
    this.all.clear();
  }

  private boot(): Promise<Slot> {
    const data: SlotData = {
      slot: true,
      modulePath: this.options.modulePath,
      compiled: this.compiled,
      guardModule: this.options.guardModule,
    };
    // This same file, re-entered as a worker (see the bottom); workers share process.env, the guest's env.
    const worker = new Worker(new URL(import.meta.url), { workerData: data });
    const id = this.nextId++;
    return new Promise((resolveSlot, reject) => {
      const onMessage = (message: { type: string; port?: number; probes?: Record<string, ProbeAnswer> }) => {
        if (message.type !== "ready") return;
        worker.off("message", onMessage);
        const slot = new Slot(id, worker, message.port!, message.probes!);
        this.all.add(slot);
        // A slot that dies on its own (a trap in guest code) is replaced; its client saw a cut connection.
        worker.once("exit", (code) => this.replaceDead(slot, `exited (${code})`));
        resolveSlot(slot);
      };
      worker.on("message", onMessage);
      worker.once("error", (error) => reject(error));
      worker.once("exit", (code) => reject(new Error(`slot ${id} exited (${code}) while starting`)));
    });
  }
}

/** A pod that cannot start a slot is broken: exit, and let the kubelet restart it. */
function exitOnSlotFailure(error: unknown): void {
  console.error(`pod: cannot start a slot: ${errorText(error)}`);
  process.exit(1);
}

/** The transpiled component's core modules (<name>.core*.wasm beside it), compiled once for every slot. */
async function compileCoreModules(modulePath: string): Promise<Map<string, WebAssembly.Module>> {
  const prefix = `${basename(modulePath, ".js")}.core`;
  const files = readdirSync(dirname(modulePath)).filter((file) => file.startsWith(prefix) && file.endsWith(".wasm"));
  const compiled = await Promise.all(files.map((file) => WebAssembly.compile(readFileSync(join(dirname(modulePath), file)))));
  return new Map(files.map((file, i) => [file, compiled[i]!]));
}

export function parseListen(listen: string): { host: string; port: number } {
  const match = /^(\[[0-9a-fA-F:]+\]|[^:]+):(\d{1,5})$/.exec(listen);
  const port = Number(match?.[2]);
  if (!match || port < 0 || port > 65535) throw new Error(`--listen must be HOST:PORT, got "${listen}"`);
  return { host: match[1]!.replace(/^\[|\]$/g, ""), port };
}

/** The probe path of a GET or HEAD from a kubelet (its User-Agent is kube-probe/<version>), else undefined. */
function kubeletProbePath(req: IncomingMessage): string | undefined {
  if (req.method !== "GET" && req.method !== "HEAD") return undefined;
  if (!req.headers["user-agent"]?.startsWith("kube-probe/")) return undefined;
  const path = new URL(req.url ?? "/", "http://pod").pathname;
  return PROBE_PATHS.includes(path) ? path : undefined;
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
  const options: PodOptions = {
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
  let inFlight = 0;
  const server = guardedServer((req, res) => {
    // The kubelet's probes get the component's own answer at once: under the shim each
    // probe has an instance of its own, so it never waits behind traffic; here it would
    // wait for a slot, behind splits that take up to GREETER_TIMEOUT_MS.
    const probePath = kubeletProbePath(req);
    const probe = probePath === undefined ? undefined : pool.probeAnswer(probePath);
    if (probe) {
      res.writeHead(probe.status, { "content-type": probe.contentType, "content-length": Buffer.byteLength(probe.body) });
      res.end(req.method === "HEAD" ? undefined : probe.body);
      return;
    }
    // A slot is only given a request that is ready to run: its body is read here first.
    const refusal = bodyVerdict(req.method, req.headers, bodyLimits);
    if (refusal) {
      // The body is left unread, so the connection cannot carry another request.
      sendTwinAnswer(req, res, { ...refusal, madeBy: "pod-front", servedBy: podName, close: true });
      return;
    }
    if (pool.queued >= maxQueued) {
      const reason = `pod: every slot is busy and ${maxQueued} requests already wait for one; try again later`;
      sendTwinAnswer(req, res, { status: 503, reason, madeBy: "pod-front", servedBy: podName, retryAfterSeconds: 1 });
      return;
    }
    inFlight++;
    void readBody(req, bodyLimits)
      .then(async (read) => {
        if (!read.ok) {
          if (read.status !== 0) sendTwinAnswer(req, res, { status: read.status, reason: read.reason, madeBy: "pod-front", servedBy: podName, close: true });
          return;
        }
        const slot = await pool.acquire(queueWaitMs);
        if (!slot) {
          // Handed over this late, its answer could not come within the guest's own deadline.
          const reason = `pod: no slot was free within ${queueWaitMs} ms; try again later`;
          sendTwinAnswer(req, res, { status: 503, reason, madeBy: "pod-front", servedBy: podName, retryAfterSeconds: 1 });
          return;
        }
        // A client that left while queued has nothing left to wait for: do not hold a slot for it.
        if (res.destroyed || req.socket?.destroyed) {
          pool.release(slot);
          return;
        }
        // Counted from the hand-over, whatever the client does meanwhile; a moment after the
        // forward's own deadline, so a client still waiting gets its 504 before the slot goes.
        const stuck = setTimeout(() => pool.replaceStuck(slot), options.slotDeadlineMs + 1_000);
        await forward(
          req,
          res,
          {
            host: "127.0.0.1",
            port: slot.port,
            agent: slot.agent,
            deadlineMs: options.slotDeadlineMs,
            label: `pod ${podName} (slot ${slot.id})`,
            madeBy: "pod-front",
            servedBy: podName,
          },
          read.body,
        );
        // The client may be gone while the guest still runs: the slot is free when the guest is.
        await slot.idle();
        clearTimeout(stuck);
        pool.done(slot);
      })
      .finally(() => inFlight--);
  }, "pod-front");
  await new Promise<void>((listening, failed) => {
    server.once("error", failed);
    server.listen(port, host, () => listening());
  });
  // The kubelet reads the port from this line (port 0 = the kernel's choice).
  const bound = (server.address() as AddressInfo).port;
  const where = hostPort(host, bound);
  console.error(`pod ${process.env.POD_NAME ?? ""} (${process.env.ROLE ?? "no ROLE"}) listening on ${where}, ${options.slots} slot(s)`);

  let stopping = false;
  const stop = (why: string) => {
    if (stopping) return;
    stopping = true;
    server.close();
    const deadline = Date.now() + DRAIN_MS;
    const exitWhenDrained = () => {
      if (inFlight === 0 || Date.now() > deadline) {
        pool.stop();
        process.exit(why === "parent gone" ? 1 : 0);
      }
      setTimeout(exitWhenDrained, 10);
    };
    exitWhenDrained();
  };
  process.once("SIGTERM", () => stop("SIGTERM"));
  process.once("SIGINT", () => stop("SIGINT"));
  // Started with an IPC channel by the kubelet: it closes when the parent dies, however it dies.
  process.on("disconnect", () => stop("parent gone"));
  process.on("message", (message: { type?: string }) => {
    if (message?.type === "stats") void pool.stats().then((stats) => process.send?.({ type: "stats", stats }));
  });
}

const asSlot = !isMainThread && (workerData as Partial<SlotData> | undefined)?.slot === true;
if (asSlot) {
  void runSlot(workerData as SlotData);
} else if (isMainThread && import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  main().catch((error: unknown) => {
    console.error(`pod: ${errorText(error)}`);
    process.exit(1);
  });
}
