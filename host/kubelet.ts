// What the kubelet does for one pod of a Deployment, in the local twin: start it,
// run its startup, readiness and liveness probes as the Deployment declares them
// (scaled to laptop time, see TWIN_TIME_SCALE), keep it out of its Service while
// it is not ready, restart it when it dies or its liveness probe fails
// (`restartPolicy: Always`, with the kubelet's doubling backoff), and stop it.
import { request } from "node:http";
import { hostPort } from "../lib/address";
import type { Build, PodProcess, Runtime } from "./runtimes";
import type { Endpoint } from "./service";

/** A probe as in the pod spec (seconds), see kustomize/base/deployment.yaml. */
export interface Probe {
  path: string;
  periodSeconds: number;
  timeoutSeconds: number;
  failureThreshold: number;
}

export interface Probes {
  startup: Probe;
  readiness: Probe;
  liveness: Probe;
}

/**
 * The twin runs probes 10x as often as the manifests say, so a hung pod is out of
 * its Service within about a second and restarted within a few; thresholds are the
 * manifests' own. Timeouts are not scaled below 1 s: a busy 2-core laptop must not
 * fail a healthy pod's probe.
 */
const TWIN_TIME_SCALE = 0.1;
const MIN_PROBE_TIMEOUT_MS = 1_000;
/** Beyond a pod's own drain window: time to exit once it has drained, before SIGKILL. */
const EXIT_MARGIN_MS = 1_000;

export interface BackoffPolicy {
  /** Delay before the first restart. */
  initialMs: number;
  /** The delay doubles per consecutive crash up to this cap. */
  maxMs: number;
  /** A pod that stayed up this long before it died starts again from `initialMs`. */
  resetAfterMs: number;
}

/** The kubelet's CrashLoopBackOff (10 s doubling to 5 min, reset after 10 min), scaled for a laptop. */
const DEFAULT_BACKOFF: BackoffPolicy = { initialMs: 250, maxMs: 5_000, resetAfterMs: 10_000 };

/** Delay before restarting a pod that has now crashed `crashesInARow` times in a row (1 = the first). */
export function restartDelayMs(crashesInARow: number, policy: BackoffPolicy = DEFAULT_BACKOFF): number {
  // Bound the exponent: 2 ** 1000 is Infinity, and the cap is reached long before.
  const exponent = Math.min(Math.max(0, Math.floor(crashesInARow) - 1), 30);
  return Math.min(policy.initialMs * 2 ** exponent, policy.maxMs);
}

/** Crashes in a row, counting the one at `diedAtMs`: back to 1 when the pod had been up for `resetAfterMs`. */
export function nextCrashCount(previous: number, upSinceMs: number | undefined, diedAtMs: number, policy = DEFAULT_BACKOFF): number {
  return upSinceMs !== undefined && diedAtMs - upSinceMs >= policy.resetAfterMs ? 1 : previous + 1;
}

/** One probe, in laptop time. */
export function scaledProbe(probe: Probe): { periodMs: number; timeoutMs: number; failureThreshold: number } {
  return {
    periodMs: Math.max(50, probe.periodSeconds * 1000 * TWIN_TIME_SCALE),
    timeoutMs: Math.max(MIN_PROBE_TIMEOUT_MS, probe.timeoutSeconds * 1000 * TWIN_TIME_SCALE),
    failureThreshold: probe.failureThreshold,
  };
}

/** Who waits for a launch's first start: told once, when it is ready or has failed to start. */
interface FirstStart {
  onReady?: () => void;
  onFailedStart?: (error: Error) => void;
}

export type PodEvent = { kind: "pod"; pod: string; message: string } | { kind: "output"; pod: string; line: string };

export interface KubeletOptions {
  name: string;
  role: string;
  /** The container's env from its Deployment. */
  env: Record<string, string>;
  slots: number;
  /** jco: requests a slot serves before it is replaced. */
  recycleAfter?: number;
  runtime: Runtime;
  /** The build this pod runs (default: dist/'s). */
  build?: Build;
  /** Where pods listen: loopback. */
  host: string;
  probes: Probes;
  /** The Deployment's terminationGracePeriodSeconds: scaled like the probes, the kill grace. */
  terminationGracePeriodSeconds: number;
  onEvent: (event: PodEvent) => void;
}

/** One HTTP GET with a timeout: true on a 2xx/3xx answer, as the kubelet's HTTP probe. */
function probeOnce(url: string, timeoutMs: number): Promise<boolean> {
  return new Promise((resolveProbe) => {
    const req = request(url, { timeout: timeoutMs, agent: false, headers: { "user-agent": "kube-probe/twin" } }, (res) => {
      res.resume();
      resolveProbe((res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 400);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolveProbe(false));
    req.end();
  });
}

/**
 * The twin's fault API (podinfo's readiness and liveness toggles are the model): what
 * the fault suites do to a pod from outside, as an operator or a crash would. Nothing
 * in the twin calls it; the kubelet's probes and restarts react as for any fault.
 */
export interface PodFaults {
  /** Sends `signal` to the pod's processes (SIGSTOP a hang, SIGKILL a crash); returns the pid it went to. */
  signal(signal: NodeJS.Signals): number | undefined;
  /** Kills the pod and keeps it down (like scaling its Deployment to 0) until release(); returns the killed pid. */
  holdDown(): number | undefined;
  /** Ends holdDown(): the pod starts again (not counted as a restart), now or when its exit is seen. */
  release(): void;
}

export class Kubelet implements PodFaults {
  readonly name: string;
  readonly role: string;
  /** The RESTARTS column of `kubectl get pods`. */
  restarts = 0;
  private current: PodProcess | undefined;
  private port: number | undefined;
  private ready = false;
  private stopping = false;
  /** Being replaced (a rollout): out of its Services for good, still answering what it has. */
  private terminating = false;
  private held = false;
  /** The process holdDown() killed: its exit is not a crash. */
  private heldGeneration: number | undefined;
  private crashesInARow = 0;
  private upSince: number | undefined;
  private timers = new Set<ReturnType<typeof setTimeout>>();
  /** Bumped per process, so probes and timers of a replaced process do nothing. */
  private generation = 0;

  constructor(private readonly options: KubeletOptions) {
    this.name = options.name;
    this.role = options.role;
  }

  get pid(): number | undefined {
    return this.current?.group.pid;
  }

  get url(): string | undefined {
    return this.port === undefined ? undefined : `http://${hostPort(this.options.host, this.port)}`;
  }

  /** The container env from the Deployment. */
  get env(): Record<string, string> {
    return this.options.env;
  }

  /** The pod's Ready condition: its readiness probe passes (READY in `kubectl get pods`). */
  get isReady(): boolean {
    return this.ready;
  }

  /** The pod's endpoint while it is ready (readiness probe passing); undefined otherwise. */
  endpoint(): Endpoint | undefined {
    if (!this.ready || this.terminating || this.port === undefined) return undefined;
    return { pod: this.name, host: this.options.host, port: this.port };
  }

  /** The first step of replacing a pod: it leaves its Services' endpoints; stop() it once its requests are over. */
  beginTermination(): void {
    this.terminating = true;
  }

  /** First start: resolves once the pod is ready; rejects if it dies or fails its startup probe first. */
  start(): Promise<void> {
    return new Promise((resolveStart, rejectStart) => {
      this.launch({ onReady: resolveStart, onFailedStart: rejectStart });
    });
  }

  async stats() {
    return this.current?.stats();
  }

  // PodFaults ------------------------------------------------------------------

  signal(signal: NodeJS.Signals): number | undefined {
    this.current?.group.signal(signal);
    return this.pid;
  }

  holdDown(): number | undefined {
    this.held = true;
    this.heldGeneration = this.generation;
    this.clearTimers(); // its probes, and a restart that may be pending
    const pid = this.pid;
    this.ready = false;
    this.current?.group.signal("SIGKILL");
    return pid;
  }

  release(): void {
    if (!this.held) return;
    this.held = false;
    if (!this.current?.group.running) this.launch({});
  }

  async stop(): Promise<void> {
    this.stopping = true;
    this.ready = false;
    this.clearTimers();
    if (this.current) await this.current.group.stop(this.killGraceMs());
  }

  private launch(first: FirstStart): void {
    if (this.stopping || this.held) return;
    const generation = ++this.generation;
    const pod = this.options.runtime.launch({
      name: this.name,
      host: this.options.host,
      env: this.options.env,
      slots: this.options.slots,
      recycleAfter: this.options.recycleAfter,
      build: this.options.build,
    });
    this.current = pod;
    this.port = undefined;
    const failStart = (why: string) => {
      first.onFailedStart?.(new Error(`pod ${this.name} ${why}`));
      first.onFailedStart = undefined;
      first.onReady = undefined;
    };
    pod.onLine((line) => this.options.onEvent({ kind: "output", pod: this.name, line }));
    pod.port.then(
      (port) => {
        if (generation !== this.generation) return;
        this.port = port;
        this.runStartupProbe(generation, first, failStart);
      },
      () => {}, // exited before it listened: the exit handler below reports it
    );
    void pod.group.exited.then((code) => {
      if (generation !== this.generation) return;
      this.ready = false;
      if (first.onFailedStart) return failStart(`exited (${code}) before it was ready`);
      if (this.stopping) return;
      if (generation === this.heldGeneration) {
        // Killed by holdDown(): not a crash. Released meanwhile: start it again at once.
        if (this.held) this.event(`exited (${code}); held down, not restarting`);
        else this.launch({});
        return;
      }
      this.scheduleRestart(`exited (${code})`);
    });
  }

  private scheduleRestart(why: string): void {
    const diedAt = Date.now();
    this.crashesInARow = nextCrashCount(this.crashesInARow, this.upSince, diedAt);
    this.upSince = undefined;
    const delay = restartDelayMs(this.crashesInARow);
    this.event(`${why}; restarting in ${delay} ms (restart #${this.restarts + 1}, restartPolicy: Always)`);
    this.after(delay, () => {
      this.restarts++;
      this.launch({
        onReady: () => this.event(`restarted: ready on ${this.url} ${Date.now() - diedAt} ms after it went down`),
      });
    });
  }

  private runStartupProbe(
    generation: number,
    first: FirstStart,
    failStart: (why: string) => void,
  ): void {
    const probe = scaledProbe(this.options.probes.startup);
    let failures = 0;
    const tick = async () => {
      if (generation !== this.generation || this.stopping) return;
      if (await probeOnce(`${this.url}${this.options.probes.startup.path}`, probe.timeoutMs)) {
        if (generation !== this.generation) return;
        this.upSince = Date.now();
        this.runProbes(generation, first);
        return;
      }
      if (++failures >= probe.failureThreshold) {
        const why = `failed its startup probe ${failures} times`;
        if (first.onReady) failStart(why);
        else this.event(why);
        this.kill(generation, why);
        return;
      }
      this.after(probe.periodMs, tick);
    };
    void tick();
  }

  /** Readiness (in or out of the Service) and liveness (restart when hung), each on its own period. */
  private runProbes(generation: number, first: FirstStart): void {
    const readiness = scaledProbe(this.options.probes.readiness);
    const liveness = scaledProbe(this.options.probes.liveness);
    let readinessFailures = 0;
    let livenessFailures = 0;
    const readinessTick = async () => {
      if (generation !== this.generation || this.stopping) return;
      const ok = await probeOnce(`${this.url}${this.options.probes.readiness.path}`, readiness.timeoutMs);
      if (generation !== this.generation || this.stopping) return;
      if (ok) {
        readinessFailures = 0;
        if (!this.ready) {
          this.ready = true;
          first.onReady?.();
          // Started: from now on an exit is a crash to restart, not a failed start.
          first.onReady = undefined;
          first.onFailedStart = undefined;
        }
      } else if (++readinessFailures >= readiness.failureThreshold && this.ready) {
        this.ready = false;
        this.event(`readiness probe failed ${readinessFailures} times: out of its Service's endpoints`);
      }
      this.after(readiness.periodMs, readinessTick);
    };
    const livenessTick = async () => {
      if (generation !== this.generation || this.stopping) return;
      const ok = await probeOnce(`${this.url}${this.options.probes.liveness.path}`, liveness.timeoutMs);
      if (generation !== this.generation || this.stopping) return;
      livenessFailures = ok ? 0 : livenessFailures + 1;
      if (livenessFailures >= liveness.failureThreshold) {
        this.kill(generation, `liveness probe failed ${livenessFailures} times`);
        return;
      }
      this.after(liveness.periodMs, livenessTick);
    };
    void readinessTick();
    this.after(liveness.periodMs, livenessTick);
  }

  /** As the kubelet kills a container: SIGTERM, SIGKILL after the grace period; the exit then restarts it. */
  private kill(generation: number, why: string): void {
    if (generation !== this.generation) return;
    this.ready = false;
    this.event(`${why}: killing it`);
    void this.current?.group.stop(this.killGraceMs());
  }

  /** SIGTERM to SIGKILL: the grace period, or longer when the pod's drain window is (a drain is never cut short). */
  private killGraceMs(): number {
    // Never shorter than the pod's own drain: a drain cut short would fail requests a rollout promised to finish.
    return Math.max(this.options.terminationGracePeriodSeconds * 1000 * TWIN_TIME_SCALE, (this.current?.drainMs ?? 0) + EXIT_MARGIN_MS);
  }

  private after(ms: number, action: () => void | Promise<void>): void {
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void action();
    }, ms);
    this.timers.add(timer);
  }

  private clearTimers(): void {
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private event(message: string): void {
    this.options.onEvent({ kind: "pod", pod: this.name, message });
  }
}
