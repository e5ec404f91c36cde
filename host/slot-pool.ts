// The pool of a pod's slots, on the pod's main thread: it boots each slot's worker
// (host/slot-worker.ts), hands an idle slot to the front, and keeps memory bounded.
// A slot is replaced by a fresh one after `recycleAfter` requests (a reused instance's
// heap and the shim's tables only grow): the new slot boots on its own thread first,
// so no request waits for it. A slot that dies, or is still in guest code past its
// deadline, is replaced too.
import { readdirSync, readFileSync } from "node:fs";
import { Agent } from "node:http";
import { basename, dirname, join } from "node:path";
import { Worker } from "node:worker_threads";
import { ask } from "../lib/ask";
import { errorText } from "../lib/errors";
import type { ProbeAnswer, SlotData, SlotStats } from "./slot";

/** How long a slot has to give its account before it counts as stuck in guest code. */
const SLOT_STATS_WAIT_MS = 2_000;

export interface PodStats {
  slots: SlotStats[];
  /** Slots replaced after serving their share. */
  replaced: number;
  /** Slots that died on their own or were stuck past the deadline, and were replaced. */
  died: number;
}

/** The pool's handle on one slot: its worker, its port and whether the front has handed it a request. */
export class Slot {
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
    return ask<SlotStats>(this.worker, (message) => this.worker.postMessage(message), "stats", SLOT_STATS_WAIT_MS);
  }
  stop(): void {
    this.agent.destroy();
    void this.worker.terminate();
    for (const resolveDone of this.whenDone.splice(0)) resolveDone();
  }
}

export interface SlotPoolOptions {
  /** The transpiled component (jco transpile's wasm-pods.js). */
  modulePath: string;
  /** host/io-guard.mjs's URL, loaded into each slot's I/O worker. */
  guardModule: string;
  slots: number;
  recycleAfter: number;
  /** A slot still in guest code this long after it was handed a request is stuck. */
  slotDeadlineMs: number;
}

/** The pod's slots: hands out idle ones, recycles them after their share, replaces dead or stuck ones. */
export class SlotPool {
  private idle: Slot[] = [];
  private waiting: ((slot: Slot) => void)[] = [];
  private all = new Set<Slot>();
  private nextId = 1;
  private compiled = new Map<string, WebAssembly.Module>();
  replaced = 0;
  /** Slots that died on their own or were stuck past the deadline. */
  died = 0;
  private stopping = false;

  constructor(private readonly options: SlotPoolOptions) {}

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
      modulePath: this.options.modulePath,
      compiled: this.compiled,
      guardModule: this.options.guardModule,
    };
    // Bundled beside this code (dist/host/); workers share process.env, the guest's env.
    const worker = new Worker(new URL("./slot-worker.mjs", import.meta.url), { workerData: data });
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
