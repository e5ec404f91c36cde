// `npm run dev`: the topology of `npm start`, plus a watch on src/ and wit/. A
// change is rebuilt (debounced, off this process's event loop, so the Services
// keep serving) into a build folder of its own, then every Deployment is rolled
// to it (Cluster.rollout: maxSurge 1, maxUnavailable 0). A build that fails is
// printed and changes nothing: the running pods keep serving.
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { Cluster, LogEntry } from "./cluster";
import { runToEnd } from "../lib/processes";
import { sourcesFingerprint, watchTree } from "./watch";
import { errorText } from "../lib/errors";

export interface DevOptions {
  /** The project to watch and build (the repository; a test gives a scratch copy). */
  root: string;
  log: (entry: LogEntry) => void;
  /** Quiet time after the last change before a build starts. */
  debounceMs?: number;
}

export interface DevLoop {
  /** Resolves when the build and rollout in progress (if any) are over. */
  idle(): Promise<void>;
  close(): void;
}

/** How many finished builds stay on disk: the running one and the one before it. */
const KEEP_BUILDS = 2;

/** ./build.sh into `dist`; rejects with its whole output when the build fails. */
async function build(root: string, dist: string): Promise<void> {
  const lines: string[] = [];
  const result = await runToEnd({ command: join(root, "build.sh"), args: [], cwd: root, env: { ...(process.env as Record<string, string>), DIST: dist } }, (line) =>
    lines.push(line),
  );
  if (result.code !== 0) throw new Error(lines.join("\n").trim() || `build.sh exited ${result.code}`);
}

export function watchAndRoll(cluster: Cluster, options: DevOptions): DevLoop {
  const say = (message: string) => options.log({ kind: "rollout", message });
  const builds = join(options.root, "dist/builds");
  let generation = 1; // the build npm start began with
  const kept: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running: Promise<void> | undefined;
  let pending = false;
  const sources = ["src", "wit"].map((dir) => join(options.root, dir));
  // The sources the running pods were built from: npm start built them just before.
  let builtFrom = sourcesFingerprint(sources);

  const cycle = async () => {
    // Watch events only say that something may have changed; the bytes say whether it did.
    const fingerprint = sourcesFingerprint(sources);
    if (fingerprint === builtFrom) return;
    builtFrom = fingerprint;
    generation++;
    const label = `build ${generation}`;
    const dist = join(builds, String(generation));
    mkdirSync(dist, { recursive: true });
    say(`change seen: ${label} into ${dist}`);
    const started = performance.now();
    try {
      await build(options.root, dist);
    } catch (error) {
      rmSync(dist, { recursive: true, force: true });
      const lines = errorText(error).split("\n");
      say(`${label} failed; the running pods keep serving. Its last lines:\n${lines.slice(-15).join("\n")}`);
      return;
    }
    const prepared = await cluster.runtime.prepare(join(dist, "wasm-pods.wasm"));
    say(`${label} ready in ${((performance.now() - started) / 1000).toFixed(1)} s; rolling out`);
    // Kept even when the rollout stops half-way: pods that did roll run from it.
    kept.push(dist);
    await cluster.rollout(prepared, label);
    while (kept.length > KEEP_BUILDS) rmSync(kept.shift()!, { recursive: true, force: true });
  };

  // One cycle at a time; changes during a cycle make one more.
  const trigger = () => {
    if (running) {
      pending = true;
      return;
    }
    running = cycle()
      .catch((error: unknown) => say(`rollout failed: ${errorText(error)}`))
      .finally(() => {
        running = undefined;
        if (pending) {
          pending = false;
          trigger();
        }
      });
  };

  const onChange = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timer = undefined;
      trigger();
    }, options.debounceMs ?? 300);
  };
  const watcher = watchTree(sources, onChange);
  say(`watching ${join(options.root, "src")} and ${join(options.root, "wit")}: a saved change is rebuilt and rolled out`);

  return {
    async idle() {
      while (running || timer) await new Promise((resolveTick) => setTimeout(resolveTick, 50));
    },
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
