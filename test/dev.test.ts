// `npm run dev` end to end, on a scratch copy of the project: under a steady
// load on the splitter's NodePort, a build error changes nothing, then a change
// to the greeting rule is rebuilt and rolled out pod by pod (maxUnavailable 0)
// with no failed request, and once the rollout is over every answer follows the
// new rule.
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Cluster, type LogEntry, startCluster } from "../host/cluster";
import { type DevLoop, watchAndRoll } from "../host/dev";
import { requireRuntime } from "../host/runtimes";
import { ROOT } from "../lib/build";
import { pollUntil } from "../lib/wait";

const OLD_ANSWER = "Hello Sherlock! and Greetings Po!";
const NEW_ANSWER = "Hi Sherlock! and Greetings Po!";

interface Sample {
  at: number;
  status: number;
  text: string;
}

describe("npm run dev: edit, save, and the pods roll", () => {
  let scratch: string;
  let cluster: Cluster;
  let dev: DevLoop;
  const log: LogEntry[] = [];
  const rollouts = () => log.flatMap((e) => (e.kind === "rollout" ? [e.message] : []));

  beforeAll(async () => {
    // The sources build.sh reads, and the build they give today (so only the edit is rebuilt).
    scratch = mkdtempSync(join(tmpdir(), "wasm-pods-dev-"));
    for (const path of ["src", "wit", "lib", "scripts", "build.sh", "package.json", "tsconfig.json"]) cpSync(join(ROOT, path), join(scratch, path), { recursive: true });
    symlinkSync(join(ROOT, "node_modules"), join(scratch, "node_modules"));
    mkdirSync(join(scratch, "dist"));
    const jco = requireRuntime("jco");
    cluster = await startCluster({ runtime: jco, splitterPort: 0, greeterPort: null, log: (entry) => log.push(entry) });
    dev = watchAndRoll(cluster, { root: scratch, log: (entry) => log.push(entry), debounceMs: 200 });
  }, 60_000);

  afterAll(async () => {
    dev?.close();
    await cluster?.stop();
    if (scratch) rmSync(scratch, { recursive: true, force: true });
  });

  it("rolls a new greeting rule out under load: no failed request, and no old answer once the rollout is over", { timeout: 240_000 }, async () => {
    const samples: Sample[] = [];
    let loading = true;
    const client = async () => {
      // Bounded: stops when told, and after 20 000 requests whatever happens.
      for (let i = 0; loading && i < 5_000; i++) {
        try {
          const res = await fetch(`${cluster.splitterUrl}/split/Sherlock,Po`, { signal: AbortSignal.timeout(10_000) });
          samples.push({ at: performance.now(), status: res.status, text: await res.text() });
        } catch (error) {
          samples.push({ at: performance.now(), status: 0, text: String(error) });
        }
      }
    };
    const load = Promise.all([client(), client(), client(), client()]);
    try {
      const names = join(scratch, "src/names.ts");
      const source = readFileSync(names, "utf8");

      // A broken build: reported, and nothing changes.
      writeFileSync(names, `${source}\nexport const broken: number = "not a number";\n`);
      expect(await pollUntil(() => rollouts().some((m) => / failed; the running pods keep serving/.test(m)), 120_000, 100)).toBe(true);
      await dev.idle();
      expect(cluster.pods.map((pod) => pod.name).sort()).toEqual(["name-greeter-pod-1", "name-greeter-pod-2", "name-splitter-pod-1"]);

      // The rule changes; the rollout replaces every pod, one at a time.
      writeFileSync(names, source.replace("? `Hello ${name}!`", "? `Hi ${name}!`"));
      expect(await pollUntil(() => rollouts().some((m) => /^every pod runs build \d+$/.test(m)), 180_000, 100)).toBe(true);
      const rolledAt = performance.now();
      await new Promise((resolve) => setTimeout(resolve, 1_500));
      loading = false;
      await load;

      const failed = samples.filter((s) => s.status !== 200);
      expect(failed.slice(0, 5)).toEqual([]);
      const after = samples.filter((s) => s.at > rolledAt);
      expect(after.length).toBeGreaterThan(0);
      expect(new Set(after.map((s) => s.text))).toEqual(new Set([NEW_ANSWER]));
      expect(samples[0]!.text).toBe(OLD_ANSWER);
      for (const sample of samples) expect([OLD_ANSWER, NEW_ANSWER]).toContain(sample.text);
      // Every pod was replaced, and the log shows how, pod by pod.
      expect(cluster.pods.map((pod) => pod.name).sort()).toEqual(["name-greeter-pod-3", "name-greeter-pod-4", "name-splitter-pod-2"]);
      expect(rollouts().filter((m) => / drained and stopped$/.test(m))).toHaveLength(3);
    } finally {
      loading = false;
      await load;
    }
  });
});
