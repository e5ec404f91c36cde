// One pod under `restartPolicy: Always`: start it on a free port, report it as
// a ready endpoint once /healthz answers, and when its process dies take it out
// of the endpoints and start it again after a backoff.
import { createInterface } from "node:readline";
import { freePort, type PodSpec, type RunningPod, signalPod, stopPod, waitHealthy } from "../lib/pods";
import { type BackoffPolicy, DEFAULT_BACKOFF, nextCrashCount, restartDelayMs } from "./backoff";
import type { Endpoint } from "./balancer";
import { podEnv } from "./plan";

export type Launcher = (spec: PodSpec) => RunningPod;

export type PodEvent =
  | { kind: "pod"; pod: string; message: string }
  | { kind: "output"; pod: string; line: string };

export interface SupervisorOptions {
  name: string;
  role: string;
  host: string;
  env: Record<string, string>;
  isolate: boolean;
  launch: Launcher;
  healthTimeoutMs: number;
  backoff?: BackoffPolicy;
  onEvent: (event: PodEvent) => void;
}

/** Every supervisor with a process that may be alive: the last-resort cleanup kills them all. */
const live = new Set<PodSupervisor>();

/** SIGKILLs every pod's process group at once, synchronously (for `process.on("exit")`). */
export function killEveryPodNow(): void {
  for (const supervisor of live) supervisor.killNow();
}

export class PodSupervisor {
  readonly name: string;
  readonly role: string;
  private current: RunningPod | undefined;
  private ready = false;
  private stopping = false;
  private crashesInARow = 0;
  private healthySince: number | undefined;
  private restartTimer: ReturnType<typeof setTimeout> | undefined;
  private readyWaiters: (() => void)[] = [];
  /** Kept down by holdDown() until release(). */
  private held = false;
  /** The process exited while held: release() has to start it. */
  private downWhileHeld = false;
  /** How many times the pod was restarted (the RESTARTS column of `kubectl get pods`). */
  restarts = 0;

  constructor(private readonly options: SupervisorOptions) {
    this.name = options.name;
    this.role = options.role;
  }

  /** The pod's endpoint while it is healthy; undefined while it is down or starting. */
  endpoint(): Endpoint | undefined {
    if (!this.ready || !this.current) return undefined;
    return { pod: this.name, host: this.current.spec.host ?? this.options.host, port: this.current.spec.port };
  }

  get pid(): number | undefined {
    return this.current?.child.pid;
  }

  get url(): string | undefined {
    return this.current?.url;
  }

  isReady(): boolean {
    return this.ready;
  }

  /** Resolves the next time the pod is ready (at once when it is). */
  whenReady(): Promise<void> {
    return this.ready ? Promise.resolve() : new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  /** First start: rejects when the pod is not healthy in time, so a broken build fails loudly. */
  async start(): Promise<void> {
    live.add(this);
    await this.launch();
  }

  /** Sends `signal` to the pod's processes (fault injection); the supervisor restarts it. */
  kill(signal: NodeJS.Signals = "SIGKILL"): number | undefined {
    const pod = this.current;
    if (!pod) return undefined;
    // Out of the endpoints now, as a failed readiness probe would do, a little faster.
    // Not for a stall (SIGSTOP) or its end (SIGCONT): a stalled pod stays an endpoint
    // until a probe would notice (that stall is the fault under test), and a resumed
    // one must stay in, since nothing else would put it back.
    if (signal !== "SIGSTOP" && signal !== "SIGCONT") this.ready = false;
    signalPod(pod, signal);
    return pod.child.pid;
  }

  /**
   * Kills the pod (SIGKILL) and keeps it down, no restart, until release():
   * like scaling its Deployment to zero. For faults that need the pod to stay gone.
   */
  holdDown(): number | undefined {
    this.held = true;
    clearTimeout(this.restartTimer);
    return this.kill("SIGKILL");
  }

  /** Ends holdDown(): the pod starts again (counted as a restart) if it is down. */
  release(): void {
    if (!this.held) return;
    this.held = false;
    // Still dying: onExit, now that the hold is off, restarts it as after any crash.
    if (!this.downWhileHeld) return;
    this.downWhileHeld = false;
    this.restart(Date.now());
  }

  killNow(): void {
    this.stopping = true;
    clearTimeout(this.restartTimer);
    if (this.current) signalPod(this.current, "SIGKILL");
  }

  /** SIGTERM, SIGKILL after `graceMs`; no restart afterwards. */
  async stop(graceMs = 1_000): Promise<void> {
    this.stopping = true;
    this.ready = false;
    clearTimeout(this.restartTimer);
    if (this.current) {
      await stopPod(this.current, graceMs);
      // The main process is gone; helpers in its group (tsx's esbuild service) go with it.
      signalPod(this.current, "SIGKILL");
    }
    live.delete(this);
  }

  private async launch(): Promise<void> {
    const port = await freePort(this.options.host);
    if (this.stopping) return;
    const pod = this.options.launch({
      name: this.name,
      host: this.options.host,
      port,
      env: podEnv(this.options, this.options.host, port),
      isolate: this.options.isolate,
    });
    this.current = pod;
    this.forwardOutput(pod);
    pod.child.on("error", () => {
      // Reported through `exited` (see spawnWasmtimePod); listening keeps it from being thrown.
    });
    void pod.exited.then((code) => this.onExit(pod, code));
    await waitHealthy(pod, this.options.healthTimeoutMs);
    if (this.current !== pod || this.stopping) return;
    this.ready = true;
    this.healthySince = Date.now();
    for (const resolve of this.readyWaiters.splice(0)) resolve();
  }

  private onExit(pod: RunningPod, code: number | string): void {
    if (this.current !== pod) return;
    this.ready = false;
    signalPod(pod, "SIGKILL"); // leftovers in its process group
    if (this.stopping) return;
    if (this.held) {
      this.downWhileHeld = true;
      this.options.onEvent({ kind: "pod", pod: this.name, message: `exited (${code}); held down, not restarting` });
      return;
    }
    const diedAt = Date.now();
    this.crashesInARow = nextCrashCount(this.crashesInARow, this.healthySince, diedAt, this.options.backoff);
    this.healthySince = undefined;
    const delay = restartDelayMs(this.crashesInARow, this.options.backoff ?? DEFAULT_BACKOFF);
    this.options.onEvent({
      kind: "pod",
      pod: this.name,
      message: `exited (${code}); restarting in ${delay} ms (restart #${this.restarts + 1}, restartPolicy: Always)`,
    });
    this.restartTimer = setTimeout(() => this.restart(diedAt), delay);
  }

  private restart(diedAt: number): void {
    if (this.stopping) return;
    this.restarts++;
    this.launch().then(
      () => {
        if (this.ready) {
          this.options.onEvent({
            kind: "pod",
            pod: this.name,
            message: `restarted: healthy on ${this.current?.url} ${Date.now() - diedAt} ms after it died`,
          });
        }
      },
      (error: unknown) => {
        // Exited before it was healthy: onExit schedules the next try. Hung: kill it, same path.
        const pod = this.current;
        if (pod && pod.child.exitCode === null && pod.child.signalCode === null) {
          this.options.onEvent({ kind: "pod", pod: this.name, message: `not healthy (${String(error)}); killing it` });
          signalPod(pod, "SIGKILL");
        }
      },
    );
  }

  private forwardOutput(pod: RunningPod): void {
    for (const stream of [pod.child.stdout, pod.child.stderr]) {
      if (!stream) continue;
      const lines = createInterface({ input: stream, crlfDelay: Infinity });
      lines.on("line", (line) => this.options.onEvent({ kind: "output", pod: this.name, line }));
    }
  }
}
