// The entry of a slot's worker thread (host/slot-pool.ts starts one per slot; bundled
// beside the pod host as dist/host/slot-worker.mjs). Workers share process.env: the guest's env.
import { workerData } from "node:worker_threads";
import { runSlot, type SlotData } from "./slot";

void runSlot(workerData as SlotData);
