// Pods a test starts by hand, on either engine, each on a port it picked itself.
// Everything started through a fleet is stopped by fleet.stopAll() (call it in afterAll).
import { findTool } from "../../lib/tools";
import { type PodProcess, type Runtime, runtimeNamed } from "../../host/runtimes";

export interface TestPod {
  name: string;
  url: string;
  process: PodProcess;
}

/** The engines to run the component on: jco always; wasmtime when installed (test/support/tools.ts fails CI without it). */
export function testRuntimes(): Runtime[] {
  const runtimes: Runtime[] = [];
  for (const name of ["jco", "wasmtime"] as const) {
    if (name === "wasmtime" && !findTool("wasmtime")) continue;
    const named = runtimeNamed(name);
    if (named.ok) runtimes.push(named.runtime);
  }
  return runtimes;
}

export function podFleet(runtime: Runtime) {
  const pods: TestPod[] = [];
  return {
    pods,
    /** Starts a pod and resolves once it listens (not once it is healthy: a misconfigured pod never is). */
    async start(
      name: string,
      env: Record<string, string>,
      options: { slots?: number; recycleAfter?: number; slotDeadlineMs?: number } = {},
    ): Promise<TestPod> {
      const process = runtime.launch({ name, host: "127.0.0.1", env, slots: options.slots ?? 1, ...options });
      const pod = { name, url: "", process };
      pods.push(pod);
      pod.url = `http://127.0.0.1:${await process.port}`;
      return pod;
    },
    stopAll: () => Promise.all(pods.map((pod) => pod.process.group.stop())),
  };
}
