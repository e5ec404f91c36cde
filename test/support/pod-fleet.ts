// The pods a test file starts, on free ports, stopped together in afterAll.
import { freePort, type PodSpec, type RunningPod, spawnPod, stopPod } from "../../scripts/lib/pods";

export function podFleet(defaults: Partial<PodSpec> = {}) {
  const pods: RunningPod[] = [];
  return {
    pods,
    async start(name: string, env: Record<string, string>, extra: Partial<PodSpec> = {}): Promise<RunningPod> {
      const pod = spawnPod({ ...defaults, ...extra, name, port: await freePort(), env });
      pods.push(pod);
      return pod;
    },
    stopAll: () => Promise.all(pods.map((pod) => stopPod(pod))),
  };
}
