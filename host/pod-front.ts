// A jco pod's front, on the pod's main thread: its port, which hands each request to
// an idle slot of the pool (host/slot-pool.ts). This thread never runs guest code, so
// it always answers probes, signals and its parent's death.
//
// A slot is only given a request that is ready to run: the front reads and bounds its
// body first (host/request-body.ts: 408 too slow, 413 too big, a GET or HEAD with a body
// refused on its head), so a slow client holds a connection of the front, never a guest.
// And a request that got no slot within the guest's own deadline is refused (503,
// Retry-After) rather than handed over to answer late.
import type { IncomingMessage } from "node:http";
import type { AddressInfo } from "node:net";
import { guardedServer } from "./connections";
import { forward } from "./proxy";
import { type BodyLimits, bodyVerdict, readBody } from "./request-body";
import { guestDeadlineMs, PROBE_PATHS } from "./slot";
import type { SlotPool } from "./slot-pool";
import { sendTwinAnswer } from "./twin-answer";

/** How long a drain waits for requests in flight before giving up; the kubelet's kill grace exceeds it. */
export const DRAIN_MS = 5_000;

export interface FrontOptions {
  host: string;
  /** 0: the kernel's choice. */
  port: number;
  /** POD_NAME, on the front's own answers. */
  podName: string;
  bodyLimits: BodyLimits;
  /** Requests that may wait for a slot; beyond that the front answers 503 at once. */
  maxQueued: number;
  /** How long a request may wait for a slot before a 503 (0: no limit). */
  queueWaitMs: number;
  /** A slot still in guest code this long after it was handed a request is stuck. */
  slotDeadlineMs: number;
}

export interface PodFront {
  /** The port the front listens on. */
  port: number;
  /** Stops accepting; resolves once no request is in flight, or after DRAIN_MS. */
  drain(): Promise<void>;
}

/**
 * How long a request may wait for a slot before the front refuses it (503, Retry-After):
 * the guest's own deadline. A request that waited that long has spent the time the
 * contract gives a split; handed over now, its answer could only come late.
 */
export function defaultQueueWaitMs(greeterTimeoutMs: string | undefined): number {
  return guestDeadlineMs(greeterTimeoutMs);
}

/** The probe path of a GET or HEAD from a kubelet (its User-Agent is kube-probe/<version>), else undefined. */
function kubeletProbePath(req: IncomingMessage): string | undefined {
  if (req.method !== "GET" && req.method !== "HEAD") return undefined;
  if (!req.headers["user-agent"]?.startsWith("kube-probe/")) return undefined;
  const path = new URL(req.url ?? "/", "http://pod").pathname;
  return PROBE_PATHS.includes(path) ? path : undefined;
}

/** Serves the pod's port in front of `pool`; resolves once it listens. */
export async function servePodFront(pool: SlotPool, options: FrontOptions): Promise<PodFront> {
  const { host, port, podName, bodyLimits, maxQueued, queueWaitMs, slotDeadlineMs } = options;
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
          if (read.status !== 0) sendTwinAnswer(req, res, { status: read.status, reason: read.error, madeBy: "pod-front", servedBy: podName, close: true });
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
        const stuck = setTimeout(() => pool.replaceStuck(slot), slotDeadlineMs + 1_000);
        await forward(
          req,
          res,
          {
            host: "127.0.0.1",
            port: slot.port,
            agent: slot.agent,
            deadlineMs: slotDeadlineMs,
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
  return {
    port: (server.address() as AddressInfo).port,
    drain() {
      server.close();
      const deadline = Date.now() + DRAIN_MS;
      return new Promise((drained) => {
        const check = () => {
          if (inFlight === 0 || Date.now() > deadline) drained();
          else setTimeout(check, 10);
        };
        check();
      });
    },
  };
}
